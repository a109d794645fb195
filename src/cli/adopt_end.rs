//! End times of adopted clips whose names give only the start (the old layout,
//! `<MM>M<SS>S_<unix10>.mp4`). Capture takes the end from the MP4's duration; adopt does the
//! same without downloading where that is cheap, and otherwise says what it could not know:
//!
//! 1. An object in Standard: ranged GETs of its top-level box headers (16 bytes each, a
//!    handful per clip) and of the `moov` box, read by [`crate::inbox::mp4meta::probe`] as
//!    capture reads the file: the end is the start plus the header's duration.
//! 2. Otherwise (archived: a GET would fail or need a billed restore; no readable header):
//!    the next clip's start of the same camera and lens, when it comes at most
//!    [`CLIP_MAX_MS`] later (the camera records clip after clip, about a minute each). A
//!    clip followed by a gap has no known end, as capture has none without a duration.

use std::io::Cursor;

use tokio::io::AsyncReadExt;

use crate::store::Backend;

/// An old-layout clip is about 60 s; a next clip further away than this follows a gap.
pub const CLIP_MAX_MS: i64 = 65_000;
/// Top-level boxes walked before giving up (ftyp, free, mdat, moov: a few in practice).
const MAX_BOXES: usize = 16;
/// A larger `moov` is not fetched (a minute of camera video has a few KiB).
const MAX_MOOV: u64 = 4 << 20;

/// The clip's duration from its MP4 header, read with ranged GETs; `None` when the object
/// has no readable ordinary MP4 header (a fragmented one's duration is in its fragments).
pub async fn duration_ms(store: &dyn Backend, key: &str, size: u64) -> Option<i64> {
    let mut pos = 0u64;
    for _ in 0..MAX_BOXES {
        if pos.checked_add(8)? > size {
            return None;
        }
        let head = read(store, key, pos..(pos + 16).min(size)).await?;
        let mut len = u64::from(u32::from_be_bytes(head.get(0..4)?.try_into().ok()?));
        let kind = head.get(4..8)?;
        if len == 1 {
            len = u64::from_be_bytes(head.get(8..16)?.try_into().ok()?);
        } else if len == 0 {
            len = size - pos;
        }
        if len < 8 {
            return None;
        }
        if kind == b"moov" {
            if len > MAX_MOOV || pos.checked_add(len)? > size {
                return None;
            }
            let moov = read(store, key, pos..pos + len).await?;
            let info = crate::inbox::mp4meta::probe(&mut Cursor::new(&moov), len)?;
            return info.duration_ms.filter(|d| *d > 0 && !info.fragmented);
        }
        pos = pos.checked_add(len)?;
    }
    None
}

async fn read(store: &dyn Backend, key: &str, range: std::ops::Range<u64>) -> Option<Vec<u8>> {
    let want = range.end - range.start;
    let mut r = store.get_range(key, Some(range)).await.ok()?;
    let mut buf = Vec::with_capacity(want as usize);
    r.read_to_end(&mut buf).await.ok()?;
    (buf.len() as u64 == want).then_some(buf)
}
