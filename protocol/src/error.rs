//! Typed errors of the codec. A decoder never panics: every way bytes can be
//! wrong has a variant here, so callers can tell truncation from a bad CRC.

use thiserror::Error;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("truncated input: needed {needed} bytes, {remaining} remaining")]
    Truncated {
        /// Bytes the value needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length prefix is negative (and not the null marker) or larger than the input.
    #[error("invalid length {0}")]
    InvalidLength(i64),
    /// A varint ran past its maximum width.
    #[error("varint longer than {max_bytes} bytes")]
    VarintTooLong {
        /// Maximum width of this varint kind.
        max_bytes: usize,
    },
    /// The message does not exist at this version.
    #[error("{message} does not support version {version}")]
    UnsupportedVersion {
        /// Message name.
        message: &'static str,
        /// Requested version.
        version: i16,
    },
    /// An API key this codec does not know.
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    /// A null marker in a version where the field is not nullable.
    #[error("null value for non-nullable field {0}")]
    UnexpectedNull(&'static str),
    /// A string is not valid UTF-8.
    #[error("invalid UTF-8 in a string field")]
    InvalidUtf8,
    /// A checksum does not match the bytes it covers.
    #[error("CRC mismatch: expected {expected:#010x}, computed {actual:#010x}")]
    CrcMismatch {
        /// CRC carried in the data.
        expected: u32,
        /// CRC computed over the bytes.
        actual: u32,
    },
    /// A frame length prefix exceeds the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// Announced length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// Decompressed data would exceed the configured cap.
    #[error("decompressed data exceeds the cap of {max} bytes")]
    DecompressedTooLarge {
        /// Configured cap.
        max: usize,
    },
    /// Compression codec id that does not exist.
    #[error("unknown compression codec {0}")]
    UnknownCompression(u8),
    /// Compressed data could not be decompressed.
    #[error("corrupt {codec} data: {reason}")]
    CorruptCompressed {
        /// Codec name.
        codec: &'static str,
        /// What the decompressor said.
        reason: String,
    },
    /// Record batch magic byte this codec cannot read.
    #[error("unsupported record magic {0}")]
    UnsupportedMagic(i8),
    /// Bytes were left over after a value that must fill its buffer.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    /// A structural rule of the format was broken.
    #[error("invalid data: {0}")]
    Invalid(&'static str),
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message does not exist at this version.
    #[error("{message} does not support version {version}")]
    UnsupportedVersion {
        /// Message name.
        message: &'static str,
        /// Requested version.
        version: i16,
    },
    /// A field holds a non-default value in a version that cannot carry it.
    #[error("field {field} cannot be sent at version {version}")]
    FieldNotInVersion {
        /// Field name.
        field: &'static str,
        /// Version being encoded.
        version: i16,
    },
    /// A null value in a version where the field is not nullable.
    #[error("field {0} is null but not nullable at this version")]
    NullNotAllowed(&'static str),
    /// A string, bytes or array is longer than its length prefix allows.
    #[error("value of {len} exceeds the limit of {max}")]
    TooLong {
        /// Actual length.
        len: usize,
        /// Limit of the encoding.
        max: usize,
    },
    /// Compressing a batch failed.
    #[error("compression failed: {0}")]
    Compression(String),
}

/// Shorthand for decode results.
pub type DecodeResult<T> = Result<T, DecodeError>;
/// Shorthand for encode results.
pub type EncodeResult<T> = Result<T, EncodeError>;
