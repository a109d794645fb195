//! Pieces the HTTP backends (`s3`, `oss`) share for moving bytes besides the requests
//! themselves (those are `http.rs`): the checksums of a vault file read once before
//! sending, and the multipart journal.

use std::sync::Arc;

use md5::Digest;

use super::checksum::{Algorithm, Hasher};
use super::{ErrorKind, MultipartJournal, StoreError, StoreResult};
use crate::store::body::Body;

/// Bytes an upload reads from the body at a time. Small enough that even a tight
/// `upload.bandwidth_limit` moves a chunk well within `timeout_secs` (see `http::send_body`).
pub(crate) const STREAM_CHUNK: u64 = 256 << 10;

/// The checksums of a vault file, read before sending: the CRC-64 of the whole and of
/// each part, the MD5s when asked for (S3 sends them as `Content-MD5`), and S3's
/// additional checksum when one is asked for (`x-amz-checksum-*`, see `checksum`).
pub(crate) struct Digests {
    pub crc64: u64,
    /// One per part (a single PUT is one part).
    pub part_crcs: Vec<u64>,
    /// MD5 of the whole; zero unless asked for.
    pub md5: [u8; 16],
    /// MD5 of each part; empty unless asked for.
    pub part_md5s: Vec<[u8; 16]>,
    /// The additional checksum of the whole; empty unless asked for.
    pub sum: Vec<u8>,
    /// The additional checksum of each part; empty unless asked for.
    pub part_sums: Vec<Vec<u8>>,
    /// The algorithm of `sum` and `part_sums`.
    pub sum_alg: Option<Algorithm>,
}

impl Digests {
    pub fn parts(&self) -> usize {
        self.part_crcs.len()
    }
}

/// The running checksums of one stretch of bytes (the whole file, or one part).
struct Running {
    crc: crc64fast::Digest,
    md5: Option<md5::Md5>,
    sum: Option<Hasher>,
}

impl Running {
    fn new(md5: bool, sum: Option<Algorithm>) -> Running {
        Running {
            crc: crc64fast::Digest::new(),
            md5: md5.then(md5::Md5::new),
            sum: sum.map(Algorithm::hasher),
        }
    }

    fn update(&mut self, b: &[u8]) {
        self.crc.write(b);
        if let Some(m) = &mut self.md5 {
            m.update(b);
        }
        if let Some(h) = &mut self.sum {
            h.update(b);
        }
    }

    fn finish(self) -> (u64, [u8; 16], Vec<u8>) {
        (
            self.crc.sum64(),
            self.md5.map_or([0; 16], |m| m.finalize().into()),
            self.sum.map(Hasher::finish).unwrap_or_default(),
        )
    }
}

/// Reads the first `len` bytes of `path` once (off the async threads), in parts of
/// `part_size`, computing MD5s only when `md5` and the additional checksum when `sum`.
pub(crate) async fn digest_file(
    path: &std::path::Path,
    len: u64,
    part_size: u64,
    md5: bool,
    sum: Option<Algorithm>,
) -> StoreResult<Digests> {
    let path = path.to_path_buf();
    let task = tokio::task::spawn_blocking(move || -> std::io::Result<Digests> {
        use std::io::Read;
        let mut f = std::fs::File::open(&path)?;
        let mut buf = vec![0u8; 1 << 20];
        // One part: its digests are the whole file's, computed once (MD5 is most of the
        // CPU an upload costs; see docs/benchmarks.md).
        let single = part_size >= len;
        let mut whole = Running::new(md5, sum);
        let mut part = (!single).then(|| Running::new(md5, sum));
        let (mut done, mut in_part) = (0u64, 0u64);
        let mut d = Digests {
            crc64: 0,
            part_crcs: Vec::new(),
            md5: [0; 16],
            part_md5s: Vec::new(),
            sum: Vec::new(),
            part_sums: Vec::new(),
            sum_alg: sum,
        };
        let push = |d: &mut Digests, (crc, m, s): (u64, [u8; 16], Vec<u8>)| {
            d.part_crcs.push(crc);
            if md5 {
                d.part_md5s.push(m);
            }
            if sum.is_some() {
                d.part_sums.push(s);
            }
        };
        while done < len {
            let want = (len - done).min(buf.len() as u64).min(part_size - in_part) as usize;
            let n = f.read(&mut buf[..want])?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{} ended after {done} of {len} bytes", path.display()),
                ));
            }
            whole.update(&buf[..n]);
            if let Some(p) = &mut part {
                p.update(&buf[..n]);
            }
            done += n as u64;
            in_part += n as u64;
            if !single && (in_part == part_size || done == len) {
                let finished = part.replace(Running::new(md5, sum));
                push(&mut d, finished.expect("multipart").finish());
                in_part = 0;
            }
        }
        let (crc, m, s) = whole.finish();
        if d.part_crcs.is_empty() {
            push(&mut d, (crc, m, s.clone()));
        }
        (d.crc64, d.md5, d.sum) = (crc, m, s);
        Ok(d)
    });
    match task.await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(StoreError::new(
            ErrorKind::Transient,
            format!("cannot read the vault copy to checksum it: {e}"),
        )),
        Err(e) => Err(StoreError::new(
            ErrorKind::Transient,
            format!("checksum task failed: {e}"),
        )),
    }
}

/// The bytes streamed are the ones checksummed beforehand (the vault copy did not change).
pub(crate) fn sent_what_we_hashed(key: &str, body: &Body, d: &Digests) -> StoreResult<()> {
    if body.crc64() != d.crc64 {
        return Err(StoreError::new(
            ErrorKind::Transient,
            format!(
                "PUT {key}: the vault copy changed while it was uploaded (CRC-64 {} before, {} sent)",
                super::crc_hex(d.crc64),
                super::crc_hex(body.crc64())
            ),
        ));
    }
    Ok(())
}

/// Reads `n` bytes of `body` that the store already holds, outside the rate limit.
pub(crate) async fn skip(body: &mut Body, mut n: u64) -> StoreResult<()> {
    while n > 0 {
        match body.skip_chunk_upto(n.min(STREAM_CHUNK)).await {
            Ok(Some(c)) => n -= c.len() as u64,
            Ok(None) => break,
            Err(e) => return Err(StoreError::new(ErrorKind::Transient, format!("{e:#}"))),
        }
    }
    Ok(())
}

/// Where a body's multipart upload records its progress (see [`Body::with_journal`]).
pub(crate) type Journal = Option<(i64, Arc<dyn MultipartJournal>)>;

/// A journal (catalog) error, as a store error: retried.
pub(crate) fn catalog(e: anyhow::Error) -> StoreError {
    StoreError::new(ErrorKind::Transient, format!("catalog: {e:#}"))
}

/// Ends a multipart upload after its last step: a finished one, or one that can never
/// finish (the key exists) or cannot be resumed (no journal), is aborted as needed and
/// forgotten; any other failure keeps the upload for the next attempt to resume.
pub(crate) async fn settle(
    result: StoreResult<()>,
    journal: &Journal,
    abort: impl std::future::Future<Output = ()>,
) -> StoreResult<()> {
    match &result {
        Ok(()) => {}
        Err(e) if e.kind == ErrorKind::AlreadyExists || journal.is_none() => abort.await,
        Err(_) => return result,
    }
    if let Some((id, j)) = journal {
        j.finish(*id).map_err(catalog)?;
    }
    result
}

/// The size of part `i` (0-based) of a `len`-byte body in parts of `part_size`.
pub(crate) fn part_len(len: u64, part_size: u64, i: usize) -> u64 {
    part_size.min(len - i as u64 * part_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn digests_split_into_parts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello world, and more").unwrap();
        let d = digest_file(&p, 11, 6, true, None).await.unwrap();
        assert_eq!(d.parts(), 2);
        assert_eq!(d.part_md5s[0], <[u8; 16]>::from(md5::Md5::digest(b"hello ")));
        assert_eq!(d.part_md5s[1], <[u8; 16]>::from(md5::Md5::digest(b"world")));
        assert_eq!(d.md5, <[u8; 16]>::from(md5::Md5::digest(b"hello world")));
        let crc = |b: &[u8]| {
            let mut c = crc64fast::Digest::new();
            c.write(b);
            c.sum64()
        };
        assert_eq!(d.crc64, crc(b"hello world"));
        assert_eq!(d.part_crcs, [crc(b"hello "), crc(b"world")]);
        let n = digest_file(&p, 11, 6, false, None).await.unwrap();
        assert_eq!((n.crc64, &n.part_crcs), (d.crc64, &d.part_crcs));
        assert!(n.part_md5s.is_empty());
        assert!(
            digest_file(&p, 100, 6, true, None).await.is_err(),
            "a short file is an error"
        );
        let e = digest_file(&p, 0, 6, true, None).await.unwrap();
        assert_eq!((e.parts(), e.part_md5s.len()), (1, 1));
        assert_eq!((part_len(11, 6, 0), part_len(11, 6, 1)), (6, 5));
        let sha = |b: &[u8]| sha2::Sha256::digest(b).to_vec();
        let s = digest_file(&p, 11, 6, false, Some(Algorithm::Sha256)).await.unwrap();
        assert_eq!(s.sum, sha(b"hello world"));
        assert_eq!(s.part_sums, [sha(b"hello "), sha(b"world")]);
        let one = digest_file(&p, 11, 11, true, Some(Algorithm::Sha256)).await.unwrap();
        assert_eq!((one.part_sums, one.part_md5s), (vec![sha(b"hello world")], vec![d.md5]));
    }
}
