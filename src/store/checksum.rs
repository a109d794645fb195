//! The additional checksums S3 stores check on upload (`x-amz-checksum-*`): CRC64NVME,
//! CRC32C and SHA-256, for the `s3` backend.
//!
//! `Content-MD5` already makes a store refuse bytes damaged on the way, and every
//! S3-compatible store checks it. These checksums add what MD5 lacks on S3: the store
//! keeps the value with the object and answers it on HEAD (`x-amz-checksum-mode:
//! ENABLED`), also for a multipart object, whose ETag is no checksum of its bytes. So
//! `verify` can compare a value the store computed from what it holds with the one
//! camvault computed from the vault copy. CRC64NVME is the default (AWS's own, and cheap:
//! SIMD like our CRC-64/XZ); CRC32C for stores that lack it; SHA-256 for those that want
//! a cryptographic hash.
//!
//! A multipart object's checksum is FULL_OBJECT for the CRCs (the checksum of all the
//! bytes, as for a single PUT) and COMPOSITE for SHA-256, the only kind S3 has for it (the
//! hash of the parts' hashes, then `-N`).

use base64::Engine;
use sha2::Digest;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Crc64Nvme,
    Crc32c,
    Sha256,
}

impl Algorithm {
    /// From `store.s3.checksum`; `None` for `md5` (no extra checksum).
    pub fn from_config(c: crate::config::Checksum) -> Option<Algorithm> {
        use crate::config::Checksum;
        match c {
            Checksum::Auto | Checksum::Crc64Nvme => Some(Algorithm::Crc64Nvme),
            Checksum::Crc32c => Some(Algorithm::Crc32c),
            Checksum::Sha256 => Some(Algorithm::Sha256),
            Checksum::Md5 => None,
        }
    }

    /// S3's name (`x-amz-checksum-algorithm`, `x-amz-sdk-checksum-algorithm`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The header carrying the value, on requests and answers.
    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The element carrying the value in multipart XML (`<Part>`, Complete's answer).
    pub fn xml_tag(self) -> &'static str {
        match self {
            Algorithm::Crc64Nvme => "ChecksumCRC64NVME",
            Algorithm::Crc32c => "ChecksumCRC32C",
            Algorithm::Sha256 => "ChecksumSHA256",
        }
    }

    /// `x-amz-checksum-type` of a multipart upload.
    pub fn multipart_type(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "COMPOSITE",
            _ => "FULL_OBJECT",
        }
    }

    pub fn hasher(self) -> Hasher {
        match self {
            Algorithm::Crc64Nvme => Hasher::Crc64Nvme(crc64fast_nvme::Digest::new()),
            Algorithm::Crc32c => Hasher::Crc32c(0),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    /// The value S3 keeps for an object: for a single PUT, `whole`; for a multipart
    /// upload, `whole` (FULL_OBJECT) or the hash of the parts' digests and `-N` (COMPOSITE).
    pub fn object_value(self, whole: &[u8], parts: &[Vec<u8>], multipart: bool) -> String {
        if !multipart || self.multipart_type() == "FULL_OBJECT" {
            return b64(whole);
        }
        let mut h = self.hasher();
        for p in parts {
            h.update(p);
        }
        format!("{}-{}", b64(&h.finish()), parts.len())
    }
}

/// One running checksum.
pub enum Hasher {
    Crc64Nvme(crc64fast_nvme::Digest),
    Crc32c(u32),
    Sha256(sha2::Sha256),
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Crc64Nvme(d) => d.write(bytes),
            Hasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, bytes),
            Hasher::Sha256(d) => d.update(bytes),
        }
    }

    /// The digest as S3 encodes it before base64: big-endian for the CRCs.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Crc64Nvme(d) => d.sum64().to_be_bytes().to_vec(),
            Hasher::Crc32c(c) => c.to_be_bytes().to_vec(),
            Hasher::Sha256(d) => d.finalize().to_vec(),
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(a: Algorithm, data: &[u8]) -> Vec<u8> {
        let mut h = a.hasher();
        // In two pieces: the running state must carry across calls.
        let (x, y) = data.split_at(data.len() / 2);
        h.update(x);
        h.update(y);
        h.finish()
    }

    #[test]
    fn check_values_of_the_catalogue() {
        // The "check" of each CRC in the CRC catalogue: the CRC of "123456789".
        assert_eq!(
            digest(Algorithm::Crc64Nvme, b"123456789"),
            0xAE8B_1486_0A79_9888u64.to_be_bytes()
        );
        assert_eq!(digest(Algorithm::Crc32c, b"123456789"), 0xE306_9283u32.to_be_bytes());
        // AWS's documented value for the empty body, as S3 answers it.
        assert_eq!(b64(&digest(Algorithm::Crc64Nvme, b"")), "AAAAAAAAAAA=");
        assert_eq!(
            b64(&digest(Algorithm::Sha256, b"")),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn multipart_values() {
        let parts = vec![
            digest(Algorithm::Sha256, b"hello "),
            digest(Algorithm::Sha256, b"world"),
        ];
        let whole = digest(Algorithm::Sha256, b"hello world");
        let v = Algorithm::Sha256.object_value(&whole, &parts, true);
        assert!(v.ends_with("-2"), "{v}");
        assert_ne!(v.trim_end_matches("-2"), b64(&whole), "composite, not the whole's hash");
        assert_eq!(Algorithm::Sha256.object_value(&whole, &parts, false), b64(&whole));
        let crcs = vec![
            digest(Algorithm::Crc64Nvme, b"hello "),
            digest(Algorithm::Crc64Nvme, b"world"),
        ];
        let whole = digest(Algorithm::Crc64Nvme, b"hello world");
        assert_eq!(
            Algorithm::Crc64Nvme.object_value(&whole, &crcs, true),
            b64(&whole),
            "full object"
        );
    }

    #[test]
    fn config_names() {
        use crate::config::Checksum;
        assert_eq!(Algorithm::from_config(Checksum::Auto), Some(Algorithm::Crc64Nvme));
        assert_eq!(Algorithm::from_config(Checksum::Crc32c), Some(Algorithm::Crc32c));
        assert_eq!(Algorithm::from_config(Checksum::Sha256), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_config(Checksum::Md5), None);
    }
}
