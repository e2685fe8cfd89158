//! Request and response headers (FACTS.md section 3), written and read
//! directly for speed. The generated `RequestHeader`/`ResponseHeader` types
//! describe the same bytes for users who want the full structs.

use crate::api::{Request, request_header_version, response_header_version};
use crate::error::{DecodeError, DecodeResult, EncodeError, EncodeResult};
use crate::generated::ApiKey;
use crate::str_bytes::StrBytes;
use crate::wire::{
    Encode, WireBuf, WireChunks, read_i16, read_i32, read_nullable_string, skip_tagged_fields,
    write_nullable_string,
};
use bytes::{BufMut, Bytes, BytesMut};

/// The fields of a request header, as a broker or proxy reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeaderView {
    /// API key of the request.
    pub api_key: ApiKey,
    /// API version of the request.
    pub api_version: i16,
    /// Correlation id the response must echo.
    pub correlation_id: i32,
    /// Client id (always the classic nullable string form).
    pub client_id: Option<StrBytes>,
}

/// Appends a whole request frame to `buf`: the int32 size, the header of the
/// right version for `R` at `version`, then the body.
pub fn encode_request_frame<R: Request>(
    buf: &mut BytesMut,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    body: &R,
) -> EncodeResult<()> {
    let start = buf.len();
    write_request(buf, version, correlation_id, client_id, body)?;
    patch_frame_size(buf, start);
    Ok(())
}

/// A whole request frame, as [`encode_request_frame`] writes it, in buffers
/// for a vectored write: large `records`/`bytes` values (a produce
/// request's batches) are referenced, not copied. No buffer is empty.
pub fn encode_request_chunks<R: Request>(
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    body: &R,
) -> EncodeResult<Vec<Bytes>> {
    let mut out = WireChunks::new();
    write_request(&mut out, version, correlation_id, client_id, body)?;
    let size = out.written() - 4;
    let size = i32::try_from(size).map_err(|_| EncodeError::TooLong {
        len: size,
        max: i32::MAX as usize,
    })?;
    out.patch_first_i32(size);
    Ok(out.into_chunks())
}

/// Writes a size placeholder, the request header and the body.
fn write_request<B: WireBuf, R: Request>(
    buf: &mut B,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    body: &R,
) -> EncodeResult<()> {
    buf.put_i32(0); // size, patched by the caller once the frame is written
    buf.put_i16(R::API_KEY as i16);
    buf.put_i16(version);
    buf.put_i32(correlation_id);
    write_nullable_string(buf, client_id, false)?;
    if R::request_header_version(version) >= 2 {
        buf.put_u8(0); // no tagged fields in the header
    }
    body.encode(buf, version)
}

/// Appends a whole response frame (size, header, body) — what a broker or a
/// test fake sends.
pub fn encode_response_frame<M: Encode>(
    buf: &mut BytesMut,
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &M,
) -> EncodeResult<()> {
    let start = buf.len();
    BufMut::put_i32(buf, 0);
    BufMut::put_i32(buf, correlation_id);
    if response_header_version(api_key, version) >= 1 {
        BufMut::put_u8(buf, 0);
    }
    body.encode(buf, version)?;
    patch_frame_size(buf, start);
    Ok(())
}

fn patch_frame_size(buf: &mut BytesMut, start: usize) {
    let size = (buf.len() - start - 4) as i32;
    buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

/// Reads a response header (the frame's size prefix already removed) and
/// returns the correlation id; `buf` is left at the start of the body.
pub fn decode_response_header(buf: &mut Bytes, api_key: ApiKey, version: i16) -> DecodeResult<i32> {
    let correlation_id = read_i32(buf)?;
    if response_header_version(api_key, version) >= 1 {
        skip_tagged_fields(buf)?;
    }
    Ok(correlation_id)
}

/// Reads a request header (size prefix removed); `buf` is left at the body.
pub fn decode_request_header(buf: &mut Bytes) -> DecodeResult<RequestHeaderView> {
    let api_key = ApiKey::try_from(read_i16(buf)?)?;
    let api_version = read_i16(buf)?;
    if !api_key.versions().contains(api_version) && api_key != ApiKey::ApiVersions {
        return Err(DecodeError::UnsupportedVersion {
            message: api_key.name(),
            version: api_version,
        });
    }
    let correlation_id = read_i32(buf)?;
    let client_id = read_nullable_string(buf, false)?;
    // ApiVersions of an unknown (newer) version is answered, not refused, so
    // its header is read by the flexible rule too.
    if request_header_version(api_key, api_version) >= 2
        || (api_key == ApiKey::ApiVersions && api_version > 3)
    {
        skip_tagged_fields(buf)?;
    }
    Ok(RequestHeaderView {
        api_key,
        api_version,
        correlation_id,
        client_id,
    })
}
