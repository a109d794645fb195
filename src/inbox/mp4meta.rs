//! Best-effort MP4 header facts: duration, video codec, resolution.
//!
//! Written by hand rather than with an MP4 crate: camvault needs four fields from the
//! `moov` box of files that may be truncated, still growing, or garbage, and it must never
//! panic or allocate by a size the file claims. Full parsers read every sample table into
//! memory sized by the file's own counts. Here every read is a bounds-checked slice of at
//! most `MAX_MOOV` bytes, and anything unexpected simply yields fewer facts.

use std::io::{Read, Seek, SeekFrom};

/// Larger `moov` boxes are not read (a 128 MiB clip has a moov of a few hundred KiB).
const MAX_MOOV: u64 = 16 << 20;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Mp4Info {
    pub duration_ms: Option<i64>,
    /// Sample entry of the first video track: `hvc1`, `hev1`, `avc1`, …
    pub codec: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Reads the header facts; `None` when the file is not an MP4 with a readable `moov`.
pub fn probe<R: Read + Seek>(r: &mut R, file_len: u64) -> Option<Mp4Info> {
    let moov = find_moov(r, file_len)?;
    Some(parse_moov(&moov))
}

fn find_moov<R: Read + Seek>(r: &mut R, file_len: u64) -> Option<Vec<u8>> {
    let mut pos = 0u64;
    for _ in 0..64 {
        if pos + 8 > file_len {
            return None;
        }
        r.seek(SeekFrom::Start(pos)).ok()?;
        let mut hdr = [0u8; 16];
        r.read_exact(&mut hdr[..8]).ok()?;
        let mut size = u32::from_be_bytes(hdr[0..4].try_into().ok()?) as u64;
        let kind: [u8; 4] = hdr[4..8].try_into().ok()?;
        let mut header_len = 8;
        if size == 1 {
            r.read_exact(&mut hdr[8..16]).ok()?;
            size = u64::from_be_bytes(hdr[8..16].try_into().ok()?);
            header_len = 16;
        } else if size == 0 {
            size = file_len - pos;
        }
        if size < header_len {
            return None;
        }
        if &kind == b"moov" {
            let body = size - header_len;
            if body > MAX_MOOV || pos + size > file_len {
                return None;
            }
            let mut buf = vec![0u8; body as usize];
            r.read_exact(&mut buf).ok()?;
            return Some(buf);
        }
        pos = pos.checked_add(size)?;
    }
    None
}

/// Iterates the child boxes of a container body: `(type, body)`.
fn boxes(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 8 {
            return None;
        }
        let size = u32::from_be_bytes(data[0..4].try_into().ok()?) as usize;
        let kind: [u8; 4] = data[4..8].try_into().ok()?;
        let (hdr, size) = match size {
            0 => (8, data.len()),
            1 => {
                let big = u64::from_be_bytes(data.get(8..16)?.try_into().ok()?);
                (16, usize::try_from(big).ok()?)
            }
            n => (8, n),
        };
        if size < hdr || size > data.len() {
            return None;
        }
        let body = &data[hdr..size];
        data = &data[size..];
        Some((kind, body))
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| k == kind).map(|(_, b)| b)
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}
fn be64(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

fn parse_moov(moov: &[u8]) -> Mp4Info {
    let mut info = Mp4Info::default();
    if let Some(mvhd) = child(moov, b"mvhd") {
        let (timescale, duration) = match mvhd.first() {
            Some(1) => (be32(mvhd, 20), be64(mvhd, 24)),
            Some(_) => (be32(mvhd, 12), be32(mvhd, 16).map(u64::from)),
            None => (None, None),
        };
        if let (Some(ts), Some(d)) = (timescale, duration) {
            if ts > 0 && d != u64::from(u32::MAX) && d != u64::MAX {
                info.duration_ms = i64::try_from(d as u128 * 1000 / ts as u128).ok();
            }
        }
    }
    for (kind, trak) in boxes(moov) {
        if &kind != b"trak" {
            continue;
        }
        let Some(mdia) = child(trak, b"mdia") else {
            continue;
        };
        let is_video = child(mdia, b"hdlr").and_then(|h| h.get(8..12)) == Some(b"vide");
        if !is_video {
            continue;
        }
        if let Some(tkhd) = child(trak, b"tkhd") {
            let off = if tkhd.first() == Some(&1) { 88 } else { 76 };
            info.width = be32(tkhd, off).map(|w| w >> 16).filter(|w| *w > 0);
            info.height = be32(tkhd, off + 4).map(|h| h >> 16).filter(|h| *h > 0);
        }
        let stsd = child(mdia, b"minf")
            .and_then(|m| child(m, b"stbl"))
            .and_then(|s| child(s, b"stsd"));
        // stsd: version/flags (4), entry count (4), then sample entries as boxes.
        if let Some(entry) = stsd.and_then(|s| s.get(8..)).and_then(|e| boxes(e).next()) {
            let fourcc = entry.0;
            if fourcc.iter().all(|b| b.is_ascii_alphanumeric()) {
                info.codec = Some(String::from_utf8_lossy(&fourcc).into_owned());
            }
        }
        break;
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn sample() -> Vec<u8> {
        let mut mvhd = vec![0u8; 100];
        mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
        mvhd[16..20].copy_from_slice(&60_500u32.to_be_bytes());
        let mut tkhd = vec![0u8; 84];
        tkhd[76..80].copy_from_slice(&(2304u32 << 16).to_be_bytes());
        tkhd[80..84].copy_from_slice(&(1296u32 << 16).to_be_bytes());
        let mut hdlr = vec![0u8; 24];
        hdlr[8..12].copy_from_slice(b"vide");
        let mut stsd = vec![0u8; 8];
        stsd.extend(bx(b"hvc1", &[0u8; 16]));
        let stbl = bx(b"stbl", &bx(b"stsd", &stsd));
        let minf = bx(b"minf", &stbl);
        let mdia = bx(b"mdia", &[bx(b"hdlr", &hdlr), minf].concat());
        let trak = bx(b"trak", &[bx(b"tkhd", &tkhd), mdia].concat());
        let moov = bx(b"moov", &[bx(b"mvhd", &mvhd), trak].concat());
        [bx(b"ftyp", b"isom"), bx(b"mdat", &[7u8; 100]), moov].concat()
    }

    #[test]
    fn reads_header_facts() {
        let f = sample();
        let info = probe(&mut Cursor::new(&f), f.len() as u64).unwrap();
        assert_eq!(info.duration_ms, Some(60_500));
        assert_eq!(info.codec.as_deref(), Some("hvc1"));
        assert_eq!((info.width, info.height), (Some(2304), Some(1296)));
    }

    #[test]
    fn truncated_and_garbage_are_none() {
        let f = sample();
        assert_eq!(probe(&mut Cursor::new(&f[..f.len() - 5]), (f.len() - 5) as u64), None);
        assert_eq!(probe(&mut Cursor::new(b"hello world"), 11), None);
        assert_eq!(probe(&mut Cursor::new(&[]), 0), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_mutations(pos in 0usize..400, byte in proptest::num::u8::ANY, cut in 0usize..400) {
            let mut f = sample();
            let p = pos % f.len();
            f[p] = byte;
            f.truncate(f.len() - cut % f.len());
            let _ = probe(&mut Cursor::new(&f), f.len() as u64);
        }

        #[test]
        fn never_panics_on_noise(data in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = probe(&mut Cursor::new(&data), data.len() as u64);
            let _ = parse_moov(&data);
        }
    }
}
