//! An upload body: a vault file streamed in chunks, checksummed and rate-limited on the way.
//!
//! Exactly the captured size is sent, never more: a file that grew after capture is a new
//! revision with its own row, and its first bytes are this one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use tokio::io::AsyncReadExt;

use super::limit::RateLimiter;
use super::MultipartJournal;

const CHUNK: usize = 1 << 20;

pub struct Body {
    file: tokio::fs::File,
    path: PathBuf,
    len: u64,
    sent: u64,
    crc: crc64fast::Digest,
    buf: Vec<u8>,
    limiter: Option<Arc<RateLimiter>>,
    journal: Option<(i64, Arc<dyn MultipartJournal>)>,
}

impl Body {
    /// Opens `path` (never through a symlink) to send its first `len` bytes.
    pub async fn open(path: &Path, len: u64, limiter: Option<Arc<RateLimiter>>) -> Result<Body> {
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
            .await
            .with_context(|| format!("cannot open vault copy {}", path.display()))?;
        let have = file.metadata().await?.len();
        if have < len {
            bail!(
                "vault copy {} has {have} bytes, fewer than the {len} captured; it was truncated after capture",
                path.display()
            );
        }
        Ok(Body {
            file,
            path: path.to_path_buf(),
            len,
            sent: 0,
            crc: crc64fast::Digest::new(),
            buf: vec![0; CHUNK],
            limiter,
            journal: None,
        })
    }

    /// Lets a multipart upload of this body record its progress under `file_id`, so that
    /// it resumes after a crash instead of starting over.
    pub fn with_journal(mut self, file_id: i64, journal: Arc<dyn MultipartJournal>) -> Body {
        self.journal = Some((file_id, journal));
        self
    }

    /// The file id and journal given by [`Body::with_journal`].
    pub fn journal(&self) -> Option<(i64, Arc<dyn MultipartJournal>)> {
        self.journal.clone()
    }

    /// The local file the bytes come from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Back to the first byte, to send the body again (a store refused a request's
    /// headers before taking its bytes).
    pub async fn rewind(&mut self) -> Result<()> {
        use tokio::io::AsyncSeekExt;
        self.file
            .seek(std::io::SeekFrom::Start(0))
            .await
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        self.sent = 0;
        self.crc = crc64fast::Digest::new();
        Ok(())
    }

    /// CRC-64/XZ of the bytes sent so far (all of them once `next_chunk` returned `None`).
    pub fn crc64(&self) -> u64 {
        self.crc.sum64()
    }

    /// The next chunk, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<&[u8]>> {
        self.read_chunk(CHUNK as u64, true).await
    }

    /// The next chunk of at most `max` bytes (so that parts end where they should).
    pub async fn next_chunk_upto(&mut self, max: u64) -> Result<Option<&[u8]>> {
        self.read_chunk(max, true).await
    }

    /// Like [`Body::next_chunk_upto`], outside the rate limit: for bytes the store already
    /// holds (a resumed upload), which are only read to keep the checksum whole.
    pub async fn skip_chunk_upto(&mut self, max: u64) -> Result<Option<&[u8]>> {
        self.read_chunk(max, false).await
    }

    async fn read_chunk(&mut self, max: u64, limited: bool) -> Result<Option<&[u8]>> {
        let want = (self.len - self.sent).min(CHUNK as u64).min(max) as usize;
        if want == 0 {
            return Ok(None);
        }
        if let Some(l) = self.limiter.as_ref().filter(|_| limited) {
            l.acquire(want as u64).await;
        }
        let mut filled = 0;
        while filled < want {
            let n = self
                .file
                .read(&mut self.buf[filled..want])
                .await
                .with_context(|| format!("cannot read {}", self.path.display()))?;
            if n == 0 {
                bail!(
                    "vault copy {} ended after {} of {} bytes; it was truncated after capture",
                    self.path.display(),
                    self.sent + filled as u64,
                    self.len
                );
            }
            filled += n;
        }
        self.sent += filled as u64;
        self.crc.write(&self.buf[..filled]);
        Ok(Some(&self.buf[..filled]))
    }
}

/// CRC-64/XZ of the first `len` bytes of a local file.
pub async fn crc_of_file(path: &Path, len: u64) -> Result<u64> {
    let mut b = Body::open(path, len, None).await?;
    while b.next_chunk().await?.is_some() {}
    Ok(b.crc64())
}

/// CRC-64/XZ and length of a stream, for reading objects back.
pub async fn crc_of_reader(r: impl tokio::io::AsyncRead + Unpin) -> std::io::Result<(u64, u64)> {
    copy_with_crc(r, &mut tokio::io::sink()).await
}

/// Copies `r` into `w`, returning the CRC-64/XZ and length of what went through.
pub async fn copy_with_crc(
    mut r: impl tokio::io::AsyncRead + Unpin,
    w: &mut (impl tokio::io::AsyncWrite + Unpin),
) -> std::io::Result<(u64, u64)> {
    use tokio::io::AsyncWriteExt;
    let mut crc = crc64fast::Digest::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            w.flush().await?;
            return Ok((crc.sum64(), total));
        }
        crc.write(&buf[..n]);
        w.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc64_is_xz() {
        // The check value of CRC-64/XZ (the one OSS calls crc64ecma).
        let mut d = crc64fast::Digest::new();
        d.write(b"123456789");
        assert_eq!(d.sum64(), 0x995d_c9bb_df19_39fa);
    }
}
