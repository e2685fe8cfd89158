//! Key and value (de)serializers: the hook that turns user types into
//! record bytes and back (kafka-python's `value_serializer` idea). Raw
//! bytes and strings are built in; JSON through serde with the `json`
//! feature; any closure `Fn(&T) -> Result<Bytes>` works too.

use crate::error::{Error, Result};
use bytes::Bytes;

/// Turns a `T` into record bytes.
pub trait Serializer<T: ?Sized>: Send + Sync {
    /// Serializes `value` for `topic`.
    fn serialize(&self, topic: &str, value: &T) -> Result<Bytes>;
}

/// Turns record bytes into a `T`.
pub trait Deserializer<T>: Send + Sync {
    /// Deserializes `bytes` (None for a null key or tombstone) from `topic`.
    fn deserialize(&self, topic: &str, bytes: Option<&Bytes>) -> Result<T>;
}

/// Passes bytes through unchanged (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSerde;

impl<T: AsRef<[u8]> + ?Sized> Serializer<T> for BytesSerde {
    fn serialize(&self, _topic: &str, value: &T) -> Result<Bytes> {
        Ok(Bytes::copy_from_slice(value.as_ref()))
    }
}

impl Deserializer<Option<Bytes>> for BytesSerde {
    fn deserialize(&self, _topic: &str, bytes: Option<&Bytes>) -> Result<Option<Bytes>> {
        Ok(bytes.cloned())
    }
}

/// UTF-8 strings.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringSerde;

impl<T: AsRef<str> + ?Sized> Serializer<T> for StringSerde {
    fn serialize(&self, _topic: &str, value: &T) -> Result<Bytes> {
        Ok(Bytes::copy_from_slice(value.as_ref().as_bytes()))
    }
}

impl Deserializer<Option<String>> for StringSerde {
    fn deserialize(&self, topic: &str, bytes: Option<&Bytes>) -> Result<Option<String>> {
        bytes
            .map(|b| {
                String::from_utf8(b.to_vec())
                    .map_err(|_| Error::Serialization(format!("record from {topic} is not UTF-8")))
            })
            .transpose()
    }
}

/// JSON through serde (feature `json`).
#[cfg(feature = "json")]
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonSerde;

#[cfg(feature = "json")]
impl<T: serde::Serialize + ?Sized> Serializer<T> for JsonSerde {
    fn serialize(&self, _topic: &str, value: &T) -> Result<Bytes> {
        serde_json::to_vec(value)
            .map(Bytes::from)
            .map_err(|e| Error::Serialization(e.to_string()))
    }
}

#[cfg(feature = "json")]
impl<T: serde::de::DeserializeOwned> Deserializer<T> for JsonSerde {
    fn deserialize(&self, topic: &str, bytes: Option<&Bytes>) -> Result<T> {
        let bytes = bytes
            .ok_or_else(|| Error::Serialization(format!("null record from {topic} is not JSON")))?;
        serde_json::from_slice(bytes).map_err(|e| Error::Serialization(e.to_string()))
    }
}

impl<T: ?Sized, F> Serializer<T> for F
where
    F: Fn(&T) -> Result<Bytes> + Send + Sync,
{
    fn serialize(&self, _topic: &str, value: &T) -> Result<Bytes> {
        self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_serializers() {
        assert_eq!(
            Serializer::<str>::serialize(&StringSerde, "t", "hé").unwrap(),
            Bytes::from("hé")
        );
        assert_eq!(
            Serializer::<[u8]>::serialize(&BytesSerde, "t", &[1u8, 2][..]).unwrap(),
            Bytes::from_static(&[1, 2])
        );
        let upper = |s: &str| -> Result<Bytes> { Ok(Bytes::from(s.to_uppercase())) };
        assert_eq!(upper.serialize("t", "ab").unwrap(), Bytes::from("AB"));
        let bad = Bytes::from_static(&[0xff]);
        assert!(StringSerde.deserialize("t", Some(&bad)).is_err());
        assert_eq!(StringSerde.deserialize("t", None).unwrap(), None);
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_round_trip() {
        let v = serde_json::json!({"id": 7, "name": "Ada"});
        let bytes = JsonSerde.serialize("t", &v).unwrap();
        let back: serde_json::Value = JsonSerde.deserialize("t", Some(&bytes)).unwrap();
        assert_eq!(back, v);
    }
}
