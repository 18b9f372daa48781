//! [`ProofRecord`]: a proof-of-delivery photo a driver took at a stop, stored per
//! order in the `proofs` tree (order id → record).
//!
//! Its encoding differs from the other records' (`records.rs`) in one way: the image
//! can be larger than the 1 MiB a bincode body may claim, so the value is
//! `[version 1][bincode header][image bytes]` — the header (content type, time, who)
//! through the bounded codec, then the raw bytes to the end of the value, uncopied
//! into any length-prefixed field.

use bincode::{Decode, Encode};

use crate::error::StoreError;
use crate::records::Versioned;

/// Largest header accepted when decoding: a content type and a token id.
const MAX_HEADER_BYTES: usize = 4096;

const CODEC: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_HEADER_BYTES>,
> = bincode::config::standard().with_limit::<MAX_HEADER_BYTES>();

/// A proof-of-delivery image for one order (the latest upload replaces an earlier one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofRecord {
    /// `image/jpeg`, `image/png` or `image/webp`, as the engine recognised the bytes;
    /// served back as the `Content-Type`.
    pub content_type: String,
    /// When it was stored (ms since the Unix epoch), shown to the console.
    pub stored_ms: u64,
    /// The id of the token that uploaded it (a driver's or a console user's), for audits.
    pub uploaded_by: String,
    /// The image itself.
    pub bytes: Vec<u8>,
}

/// What precedes the image bytes in a stored value.
#[derive(Encode, Decode)]
struct Header {
    content_type: String,
    stored_ms: u64,
    uploaded_by: String,
}

impl Versioned for ProofRecord {
    const TREE: &'static str = "proofs";
    const VERSION: u8 = 1;

    fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            content_type: self.content_type.clone(),
            stored_ms: self.stored_ms,
            uploaded_by: self.uploaded_by.clone(),
        };
        let mut out = vec![Self::VERSION];
        if let Err(e) = bincode::encode_into_std_write(&header, &mut out, CODEC) {
            unreachable!("encoding a proof header into memory failed: {e}");
        }
        out.extend_from_slice(&self.bytes);
        out
    }

    fn from_bytes(key: &str, bytes: &[u8]) -> Result<Self, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            tree: Self::TREE,
            key: key.to_owned(),
            reason,
        };
        let (version, body) = bytes
            .split_first()
            .ok_or_else(|| corrupt("empty value (no version byte)".to_owned()))?;
        if *version != Self::VERSION {
            return Err(StoreError::UnknownVersion {
                tree: Self::TREE,
                version: *version,
            });
        }
        let (header, used): (Header, usize) =
            bincode::decode_from_slice(body, CODEC).map_err(|e| corrupt(e.to_string()))?;
        Ok(Self {
            content_type: header.content_type,
            stored_ms: header.stored_ms,
            uploaded_by: header.uploaded_by,
            bytes: body[used..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(len: usize) -> ProofRecord {
        ProofRecord {
            content_type: "image/png".into(),
            stored_ms: 1_764_140_000_000,
            uploaded_by: "tok-0123456789abcdef".into(),
            bytes: (0..len).map(|i| (i % 251) as u8).collect(),
        }
    }

    #[test]
    fn round_trips_images_larger_than_a_record_body() {
        for len in [0, 1, 3 << 20] {
            let p = proof(len);
            assert_eq!(ProofRecord::from_bytes("o1", &p.to_bytes()).unwrap(), p);
        }
    }

    #[test]
    fn golden_bytes_of_the_header() {
        let bytes = proof(2).to_bytes();
        let mut want = vec![1, 9];
        want.extend_from_slice(b"image/png");
        want.extend_from_slice(&[253]);
        want.extend_from_slice(&1_764_140_000_000_u64.to_le_bytes());
        want.push(20);
        want.extend_from_slice(b"tok-0123456789abcdef");
        want.extend_from_slice(&[0, 1]);
        assert_eq!(bytes, want);
    }

    #[test]
    fn empty_or_unknown_versions_are_refused() {
        assert!(ProofRecord::from_bytes("o1", &[]).is_err());
        let mut bytes = proof(1).to_bytes();
        bytes[0] = 9;
        assert!(matches!(
            ProofRecord::from_bytes("o1", &bytes),
            Err(StoreError::UnknownVersion { version: 9, .. })
        ));
    }
}
