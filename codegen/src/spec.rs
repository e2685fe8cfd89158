//! Serde mirror of the Kafka JSON message specs, and version-range parsing.

use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// One spec file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageSpec {
    /// API key (requests and responses only).
    #[serde(default)]
    pub api_key: Option<i16>,
    /// `request`, `response`, `header` or `data`.
    #[serde(rename = "type")]
    pub kind: SpecKind,
    /// Schema name, e.g. `ProduceRequest`.
    pub name: String,
    /// Versions the schema defines.
    pub valid_versions: String,
    /// Versions that use the flexible encoding.
    #[serde(default)]
    pub flexible_versions: Option<String>,
    /// Whether the highest listed version is unstable.
    #[serde(default)]
    pub latest_version_unstable: bool,
    /// Server roles accepting the API (ignored).
    #[serde(default)]
    pub listeners: Vec<String>,
    /// Top-level fields.
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    /// Named structs shared by several fields of this file.
    #[serde(default)]
    pub common_structs: Vec<StructSpec>,
}

/// The kind of a spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecKind {
    /// An API request.
    Request,
    /// An API response.
    Response,
    /// A request or response header.
    Header,
    /// A data schema (not an API message).
    Data,
}

/// A `commonStructs` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StructSpec {
    /// Struct name.
    pub name: String,
    /// Versions (informational).
    #[serde(default)]
    pub versions: Option<String>,
    /// Fields.
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
}

/// One field.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldSpec {
    /// Field name (PascalCase, a few camelCase).
    pub name: String,
    /// Type: a primitive, `[]T`, or a struct name.
    #[serde(rename = "type")]
    pub ty: String,
    /// Versions in which the field is on the wire.
    pub versions: String,
    /// Versions in which the field may be null.
    #[serde(default)]
    pub nullable_versions: Option<String>,
    /// Versions in which the field is tagged.
    #[serde(default)]
    pub tagged_versions: Option<String>,
    /// Tag number.
    #[serde(default)]
    pub tag: Option<u32>,
    /// Default value: string, number or bool.
    #[serde(default)]
    pub default: Option<DefaultSpec>,
    /// Whether the field may be dropped silently when the version lacks it.
    #[serde(default)]
    pub ignorable: bool,
    /// Field-level override of the flexible versions (string/bytes only).
    #[serde(default)]
    pub flexible_versions: Option<String>,
    /// Nested fields when the type is a struct or array of structs.
    #[serde(default)]
    pub fields: Option<Vec<FieldSpec>>,
    /// Ignored (no effect on the bytes).
    #[serde(default)]
    pub map_key: bool,
    /// Ignored (no effect on the bytes).
    #[serde(default)]
    pub entity_type: Option<String>,
    /// Ignored (no effect on the bytes).
    #[serde(default)]
    pub zero_copy: bool,
}

/// A `default` value, normalized to its text form (`"-1"`, `"null"`, `"true"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultSpec(pub String);

impl<'de> Deserialize<'de> for DefaultSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(DefaultSpec(s)),
            Value::Number(n) => Ok(DefaultSpec(n.to_string())),
            Value::Bool(b) => Ok(DefaultSpec(b.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "unsupported default {other}"
            ))),
        }
    }
}

/// An inclusive version range; `lo > hi` means empty (`"none"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// Lowest version.
    pub lo: i16,
    /// Highest version (`i16::MAX` for an open range `N+`).
    pub hi: i16,
}

impl Versions {
    /// The empty range.
    pub const NONE: Versions = Versions { lo: 0, hi: -1 };

    /// Parses `"N"`, `"N+"`, `"N-M"` or `"none"`.
    pub fn parse(text: &str) -> Result<Versions, String> {
        let t = text.trim();
        let num = |s: &str| {
            s.trim()
                .parse::<i16>()
                .map_err(|e| format!("bad version range {text:?}: {e}"))
        };
        if t == "none" {
            return Ok(Versions::NONE);
        }
        let v = if let Some(lo) = t.strip_suffix('+') {
            Versions {
                lo: num(lo)?,
                hi: i16::MAX,
            }
        } else if let Some((lo, hi)) = t.split_once('-') {
            Versions {
                lo: num(lo)?,
                hi: num(hi)?,
            }
        } else {
            let n = num(t)?;
            Versions { lo: n, hi: n }
        };
        if v.lo < 0 || v.lo > v.hi {
            return Err(format!("bad version range {text:?}"));
        }
        Ok(v)
    }

    /// Parses an optional range; absent means `none`.
    pub fn parse_opt(text: Option<&str>) -> Result<Versions, String> {
        text.map_or(Ok(Versions::NONE), Versions::parse)
    }

    /// Whether no version is inside.
    pub fn is_empty(&self) -> bool {
        self.lo > self.hi
    }

    /// Whether `v` is inside.
    pub fn contains(&self, v: i16) -> bool {
        self.lo <= v && v <= self.hi
    }

    /// Whether the range is open-ended (`N+`).
    pub fn is_open(&self) -> bool {
        !self.is_empty() && self.hi == i16::MAX
    }
}

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("none")
        } else if self.hi == i16::MAX {
            write!(f, "{}+", self.lo)
        } else if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// Parses one spec file's text.
pub fn parse_spec(text: &str) -> Result<MessageSpec, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ranges() {
        assert_eq!(
            Versions::parse("3+"),
            Ok(Versions {
                lo: 3,
                hi: i16::MAX
            })
        );
        assert_eq!(Versions::parse("0-12"), Ok(Versions { lo: 0, hi: 12 }));
        assert_eq!(Versions::parse("7"), Ok(Versions { lo: 7, hi: 7 }));
        assert!(Versions::parse("none").is_ok_and(|v| v.is_empty()));
        assert!(Versions::parse("5-2").is_err());
        assert!(Versions::parse("x").is_err());
        assert!(Versions::parse("-1").is_err());
        assert_eq!(
            Versions::parse("3+").map(|v| v.to_string()),
            Ok("3+".to_string())
        );
        assert_eq!(
            Versions::parse("0-12").map(|v| v.to_string()),
            Ok("0-12".to_string())
        );
        assert!(
            Versions::parse("4-8").is_ok_and(|v| v.contains(4) && v.contains(8) && !v.contains(9))
        );
    }

    #[test]
    fn parses_a_spec_with_every_default_form() {
        let text = r#"{
          "apiKey": 7, "type": "request", "name": "XRequest", "listeners": ["broker"],
          "validVersions": "0-2", "flexibleVersions": "1+", "latestVersionUnstable": true,
          "fields": [
            { "name": "A", "type": "int32", "versions": "0+", "default": "0x7fffffff" },
            { "name": "B", "type": "int16", "versions": "0+", "default": -1 },
            { "name": "C", "type": "bool", "versions": "1+", "default": false, "ignorable": true },
            { "name": "D", "type": "string", "versions": "0+", "nullableVersions": "0+",
              "default": "null", "flexibleVersions": "none", "entityType": "topicName", "mapKey": true },
            { "name": "E", "type": "[]Sub", "versions": "0+", "tag": 0, "taggedVersions": "1+",
              "fields": [ { "name": "F", "type": "bytes", "versions": "0+", "zeroCopy": true } ] }
          ],
          "commonStructs": [ { "name": "Shared", "versions": "0+", "fields": [] } ]
        }"#;
        let spec = parse_spec(text).expect("parses");
        assert_eq!(spec.api_key, Some(7));
        assert_eq!(spec.kind, SpecKind::Request);
        assert!(spec.latest_version_unstable);
        let defaults: Vec<_> = spec
            .fields
            .iter()
            .map(|f| f.default.clone().map(|d| d.0))
            .collect();
        assert_eq!(
            defaults,
            vec![
                Some("0x7fffffff".to_string()),
                Some("-1".to_string()),
                Some("false".to_string()),
                Some("null".to_string()),
                None
            ]
        );
        assert_eq!(spec.fields[4].tag, Some(0));
        assert_eq!(spec.fields[3].flexible_versions.as_deref(), Some("none"));
        assert_eq!(spec.common_structs[0].name, "Shared");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = r#"{ "type": "data", "name": "X", "validVersions": "0", "surprise": 1 }"#;
        assert!(parse_spec(text).is_err());
    }
}
