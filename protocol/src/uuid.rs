//! Kafka's 128-bit UUID (topic ids, directory ids).

use std::fmt;

/// A Kafka UUID: 16 bytes, most significant first. The all-zero value is
/// the "zero UUID" that means "none" on the wire.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The zero UUID (the default; means "no id").
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// Whether this is the zero UUID.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }

    /// The UUID as one 128-bit number.
    pub fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// Kafka's text form: URL-safe base64 without padding (22 characters).
    pub fn to_base64(&self) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::with_capacity(22);
        for chunk in self.0.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

impl From<u128> for Uuid {
    fn from(v: u128) -> Self {
        Uuid(v.to_be_bytes())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({})", self.to_base64())
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_text_form_is_22_chars() {
        assert_eq!(Uuid::ZERO.to_base64(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(Uuid::from(1u128).to_base64(), "AAAAAAAAAAAAAAAAAAAAAQ");
    }
}
