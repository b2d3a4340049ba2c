//! body: undoing a request body's `Content-Encoding` with a cap on the decompressed size, for
//! every HTTP receiver (OTLP/HTTP and the API's `POST /api/v1/ingest`). The cap is enforced
//! while inflating, so a small gzip bomb is refused after at most `limit + 1` bytes.

use std::io::Read;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};

/// Why a body could not be decoded, with the HTTP status that says so.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BodyError {
    pub status: StatusCode,
    pub message: String,
}

impl BodyError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        BodyError {
            status,
            message: message.into(),
        }
    }
}

/// Decodes the body as `Content-Encoding` says (identity, gzip, deflate), refusing more than
/// `limit` bytes after decompression, so a small gzip bomb can't exhaust memory.
pub fn decode_body(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Vec<u8>, BodyError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let decoder: Box<dyn Read + '_> = match encoding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(too_large(limit, ""));
            }
            return Ok(body.to_vec());
        }
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(&body[..])),
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(&body[..])),
        other => {
            let message =
                format!("unsupported Content-Encoding {other:?}; use gzip, deflate or none");
            return Err(BodyError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message));
        }
    };
    let mut out = Vec::new();
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            BodyError::new(
                StatusCode::BAD_REQUEST,
                format!("invalid {encoding} body: {e}"),
            )
        })?;
    if out.len() > limit {
        return Err(too_large(limit, " after decompression"));
    }
    Ok(out)
}

fn too_large(limit: usize, when: &str) -> BodyError {
    BodyError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body exceeds {limit} bytes{when}"),
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Bytes {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        Bytes::from(enc.finish().unwrap())
    }

    fn encoded(encoding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, encoding.parse().unwrap());
        h
    }

    #[test]
    fn gzip_is_limited_after_decompression() {
        let body = gzip(&vec![b' '; 10_000]);
        assert_eq!(
            decode_body(&encoded("gzip"), body.clone(), 20_000)
                .unwrap()
                .len(),
            10_000
        );
        let err = decode_body(&encoded("gzip"), body, 5_000).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn unknown_encodings_and_broken_gzip_are_refused() {
        let err = decode_body(&encoded("br"), Bytes::from_static(b"x"), 100).unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let err = decode_body(&encoded("gzip"), Bytes::from_static(b"not gzip"), 100).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let err = decode_body(&HeaderMap::new(), Bytes::from(vec![b'x'; 101]), 100).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
