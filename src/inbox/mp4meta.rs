//! Best-effort MP4 header facts: duration, video codec, resolution.
//!
//! Written by hand rather than with an MP4 crate: camvault needs four fields from the
//! `moov` box of files that may be truncated, still growing, or garbage, and it must never
//! panic or allocate by a size the file claims. Full parsers read every sample table into
//! memory sized by the file's own counts. Here every read is a bounds-checked slice of at
//! most `MAX_MOOV` bytes, and anything unexpected simply yields fewer facts.
//!
//! Fragmented MP4 (what the new-layout Xiaomi cameras write, see docs/cameras.md) has an
//! `mvhd` duration of 0: the duration is then the sum of the video track's `trun` sample
//! durations (with the `tfhd` / `trex` defaults), counting only samples whose bytes are in
//! the file (a file cut short, or still growing, counts what it holds); else `mehd`; else
//! the `sidx` subsegment durations.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

/// Larger `moov` boxes are not read (a 128 MiB clip has a moov of a few hundred KiB).
const MAX_MOOV: u64 = 16 << 20;
/// Larger `moof` / `sidx` boxes are skipped (ffmpeg's are a few KiB each).
const MAX_FRAGMENT_BOX: u64 = 4 << 20;
/// Top-level boxes walked at most: a one-hour clip fragmented at every frame has ~100k.
const MAX_BOXES: usize = 400_000;
/// A `trun` without per-sample fields claiming more samples than this is ignored.
const MAX_IMPLICIT_SAMPLES: u64 = 1 << 20;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Mp4Info {
    pub duration_ms: Option<i64>,
    /// Sample entry of the first video track: `hvc1`, `hev1`, `avc1`, …
    pub codec: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The file is fragmented (`moov` has `mvex`).
    pub fragmented: bool,
}

/// Reads the header facts; `None` when the file is not an MP4 with a readable `moov`.
pub fn probe<R: Read + Seek>(r: &mut R, file_len: u64) -> Option<Mp4Info> {
    let mut moov: Option<Vec<u8>> = None;
    let mut frags = Fragments::default();
    let mut pos = 0u64;
    for i in 0..MAX_BOXES {
        let Some((kind, header_len, size)) = box_header(r, pos, file_len) else {
            break;
        };
        let body = size - header_len;
        let whole = pos.checked_add(size).is_some_and(|end| end <= file_len);
        match &kind {
            b"moov" if moov.is_none() => {
                if body > MAX_MOOV || !whole {
                    return None;
                }
                moov = Some(read_body(r, body)?);
            }
            b"moof" if whole && body <= MAX_FRAGMENT_BOX => {
                if let Some(b) = read_body(r, body) {
                    frags.moofs.push((pos, b));
                }
            }
            b"sidx" if whole && body <= MAX_FRAGMENT_BOX => {
                if let Some(b) = read_body(r, body) {
                    frags.sidx.push(b);
                }
            }
            // An ordinary MP4 needs nothing after its moov.
            _ if moov.as_ref().is_some_and(|m| child(m, b"mvex").is_none()) => break,
            _ => {}
        }
        // The old walk gave up after 64 boxes without a moov; keep that for non-MP4 noise.
        if moov.is_none() && i >= 64 {
            return None;
        }
        match pos.checked_add(size) {
            Some(next) if next > pos => pos = next,
            _ => break,
        }
    }
    let moov = moov?;
    let mut info = parse_moov(&moov);
    if info.fragmented {
        // mvhd covers only the samples inside the moov (none with `empty_moov`).
        let in_moov = info.duration_ms.unwrap_or(0);
        info.duration_ms = match frags.duration_ms(&moov, file_len) {
            Some((d, true)) => in_moov.checked_add(d),
            Some((d, false)) => Some(d),
            None => info.duration_ms,
        };
    }
    Some(info)
}

/// Reads a box header at `pos`: (type, header length, total size); `None` past the end.
fn box_header<R: Read + Seek>(r: &mut R, pos: u64, file_len: u64) -> Option<([u8; 4], u64, u64)> {
    if pos.checked_add(8)? > file_len {
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
    (size >= header_len).then_some((kind, header_len, size))
}

fn read_body<R: Read>(r: &mut R, body: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(body).ok()?];
    r.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// What a fragmented file says about its length, gathered while walking it.
#[derive(Default)]
struct Fragments {
    /// (file offset of the moof box, its body).
    moofs: Vec<(u64, Vec<u8>)>,
    sidx: Vec<Vec<u8>>,
}

/// A track's id and timescale, from `tkhd` and `mdhd`.
struct Track {
    id: u32,
    timescale: u32,
    video: bool,
}

fn tracks(moov: &[u8]) -> Vec<Track> {
    boxes(moov)
        .filter(|(k, _)| k == b"trak")
        .filter_map(|(_, trak)| {
            let tkhd = child(trak, b"tkhd")?;
            let id = be32(tkhd, if tkhd.first() == Some(&1) { 20 } else { 12 })?;
            let mdia = child(trak, b"mdia")?;
            let mdhd = child(mdia, b"mdhd")?;
            let timescale = be32(mdhd, if mdhd.first() == Some(&1) { 20 } else { 12 })?;
            let video = child(mdia, b"hdlr").and_then(|h| h.get(8..12)) == Some(b"vide");
            Some(Track { id, timescale, video })
        })
        .collect()
}

/// `trex` defaults per track: (sample duration, sample size).
fn trex_defaults(moov: &[u8]) -> HashMap<u32, (u32, u32)> {
    let Some(mvex) = child(moov, b"mvex") else {
        return HashMap::new();
    };
    boxes(mvex)
        .filter(|(k, _)| k == b"trex")
        .filter_map(|(_, t)| Some((be32(t, 4)?, (be32(t, 12)?, be32(t, 16)?))))
        .collect()
}

impl Fragments {
    /// The duration, and whether it only counts the fragments (true: `trun` sums) or is
    /// the whole file's (`mehd`, `sidx`).
    fn duration_ms(&self, moov: &[u8], file_len: u64) -> Option<(i64, bool)> {
        let tracks = tracks(moov);
        let ms = |ticks: u128, ts: u32| {
            (ts > 0)
                .then(|| i64::try_from(ticks * 1000 / ts as u128).ok())
                .flatten()
        };
        // 1. The samples the fragments hold.
        let defaults = trex_defaults(moov);
        let mut ticks: u128 = 0;
        let mut any = false;
        let track = tracks.iter().find(|t| t.video).or(tracks.first());
        for (at, moof) in self.moofs.iter().filter(|_| track.is_some()) {
            let Some(track) = track else { break };
            for (kind, traf) in boxes(moof) {
                if &kind != b"traf" {
                    continue;
                }
                if let Some(t) = traf_ticks(traf, *at, track.id, &defaults, file_len) {
                    ticks += t as u128;
                    any = true;
                }
            }
        }
        if let Some(track) = track.filter(|_| any && ticks > 0) {
            return ms(ticks, track.timescale).map(|d| (d, true));
        }
        // 2. mehd: the whole fragmented file's duration, in the movie timescale.
        let mvhd_ts = child(moov, b"mvhd").and_then(|m| be32(m, if m.first() == Some(&1) { 20 } else { 12 }));
        let mehd = child(moov, b"mvex")
            .and_then(|m| child(m, b"mehd"))
            .and_then(|m| match m.first() {
                Some(1) => be64(m, 4),
                Some(_) => be32(m, 4).map(u64::from),
                None => None,
            });
        if let (Some(d), Some(ts)) = (mehd.filter(|d| *d > 0), mvhd_ts) {
            return ms(d as u128, ts).map(|d| (d, false));
        }
        // 3. sidx subsegment durations, for the first referenced stream.
        let mut total: u128 = 0;
        let mut ts_of = None;
        for sidx in &self.sidx {
            let (Some(ref_id), Some(ts)) = (be32(sidx, 4), be32(sidx, 8)) else {
                continue;
            };
            if ts_of.is_some_and(|(id, _)| id != ref_id) {
                continue;
            }
            ts_of = Some((ref_id, ts));
            let refs_at = if sidx.first() == Some(&1) { 28 } else { 20 };
            let Some(count) = sidx.get(refs_at + 2..refs_at + 4) else {
                continue;
            };
            let count = u16::from_be_bytes([count[0], count[1]]) as usize;
            for i in 0..count {
                match be32(sidx, refs_at + 4 + i * 12 + 4) {
                    Some(d) => total += d as u128,
                    None => break,
                }
            }
        }
        match ts_of {
            Some((_, ts)) if total > 0 => ms(total, ts).map(|d| (d, false)),
            _ => None,
        }
    }
}

/// Ticks of the samples of one `traf` of `track` whose bytes lie inside the file.
fn traf_ticks(traf: &[u8], moof_at: u64, track: u32, trex: &HashMap<u32, (u32, u32)>, file_len: u64) -> Option<u64> {
    let tfhd = child(traf, b"tfhd")?;
    let flags = be32(tfhd, 0)? & 0x00ff_ffff;
    if be32(tfhd, 4)? != track {
        return None;
    }
    let (mut dur, mut size) = trex.get(&track).copied().unwrap_or((0, 0));
    let mut at = 8;
    let mut base = moof_at;
    if flags & 0x01 != 0 {
        base = be64(tfhd, at)?;
        at += 8;
    }
    if flags & 0x02 != 0 {
        at += 4;
    }
    if flags & 0x08 != 0 {
        dur = be32(tfhd, at)?;
        at += 4;
    }
    if flags & 0x10 != 0 {
        size = be32(tfhd, at)?;
    }
    let mut ticks = 0u64;
    let mut cursor = base;
    for (kind, trun) in boxes(traf) {
        if &kind != b"trun" {
            continue;
        }
        let tf = be32(trun, 0)? & 0x00ff_ffff;
        let count = be32(trun, 4)? as u64;
        let mut p = 8;
        if tf & 0x01 != 0 {
            let off = be32(trun, p)? as i32 as i64;
            cursor = base.checked_add_signed(off)?;
            p += 4;
        }
        if tf & 0x04 != 0 {
            p += 4;
        }
        let fields = [0x100, 0x200, 0x400, 0x800].iter().filter(|f| tf & **f != 0).count();
        if fields == 0 {
            // Every sample has the defaults: count them without a loop, but not absurdly many.
            if count > MAX_IMPLICIT_SAMPLES {
                return None;
            }
            let fit = match size {
                0 => count,
                s => count.min(file_len.saturating_sub(cursor) / s as u64),
            };
            ticks = ticks.checked_add(fit.checked_mul(dur as u64)?)?;
            cursor = cursor.checked_add(fit.checked_mul(size as u64)?)?;
            continue;
        }
        // Per-sample records: the count cannot exceed what the box holds.
        for i in 0..count {
            let rec = p + i as usize * fields * 4;
            if rec + fields * 4 > trun.len() {
                break;
            }
            let mut f = rec;
            let mut d = dur;
            let mut s = size;
            if tf & 0x100 != 0 {
                d = be32(trun, f)?;
                f += 4;
            }
            if tf & 0x200 != 0 {
                s = be32(trun, f)?;
            }
            let end = cursor.checked_add(s as u64)?;
            if end > file_len {
                return Some(ticks);
            }
            cursor = end;
            ticks = ticks.checked_add(d as u64)?;
        }
    }
    Some(ticks)
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
    let mut info = Mp4Info {
        fragmented: child(moov, b"mvex").is_some(),
        ..Default::default()
    };
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

/// A camera-like fragmented clip made by ffmpeg: HEVC `hvc1`, G.711 A-law audio,
/// a fragment per keyframe (every second), `secs` long.
#[cfg(test)]
pub(crate) fn ffmpeg_fragmented(secs: u32, extra_flags: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("frag.mp4");
    let st = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=duration={secs}:size=320x240:rate=10"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=duration={secs}:sample_rate=8000"))
        .args([
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error",
            "-tag:v",
            "hvc1",
            "-g",
            "10",
        ])
        .args(["-c:a", "pcm_alaw", "-movflags"])
        .arg(format!("frag_keyframe+empty_moov+default_base_moof{extra_flags}"))
        .args(["-f", "mov"])
        .arg(&out)
        .status()
        .expect("ffmpeg is needed for this test: apt-get install ffmpeg (.ci/run does)");
    assert!(st.success());
    std::fs::read(out).unwrap()
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

    fn real() -> &'static [u8] {
        static F: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        F.get_or_init(|| ffmpeg_fragmented(6, ""))
    }

    /// Offsets of the top-level boxes of `kind`.
    fn top(f: &[u8], kind: &[u8; 4]) -> Vec<usize> {
        let (mut p, mut out) = (0, Vec::new());
        while p + 8 <= f.len() {
            let size = u32::from_be_bytes(f[p..p + 4].try_into().unwrap()) as usize;
            if &f[p + 4..p + 8] == kind {
                out.push(p);
            }
            p += size.max(8);
        }
        out
    }

    fn probe_bytes(f: &[u8]) -> Option<Mp4Info> {
        probe(&mut Cursor::new(f), f.len() as u64)
    }

    #[test]
    fn fragmented_hevc_duration_is_the_sum_of_its_fragments() {
        let f = real();
        assert!(top(f, b"moof").len() >= 5, "ffmpeg made a fragmented file");
        let info = probe_bytes(f).unwrap();
        assert!(info.fragmented);
        assert_eq!(info.duration_ms, Some(6000), "6 s of 10 fps video; mvhd says 0");
        assert_eq!(info.codec.as_deref(), Some("hvc1"));
        assert_eq!((info.width, info.height), (Some(320), Some(240)));
    }

    /// What ffprobe reads of the video in `f`: packets × 100 ms (10 fps).
    fn ffprobe_video_ms(f: &[u8]) -> i64 {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cut.mp4");
        std::fs::write(&p, f).unwrap();
        let out = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v", "-count_packets"])
            .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
            .arg(&p)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse::<i64>().unwrap() * 100
    }

    #[test]
    fn fragmented_file_cut_short_counts_what_it_holds() {
        let f = real();
        let moofs = top(f, b"moof");
        // A moof cut short: the fragments before it count, it does not.
        let cut = moofs[2] + 20;
        let d = probe_bytes(&f[..cut]).unwrap().duration_ms.unwrap();
        assert_eq!(
            d,
            ffprobe_video_ms(&f[..cut]),
            "the whole fragments before the cut moof"
        );
        assert!((1800..=2000).contains(&d), "{d}");
        // An mdat cut short: only the samples whose bytes are there.
        let cut = moofs[3] - 100;
        let d = probe_bytes(&f[..cut]).unwrap().duration_ms.unwrap();
        assert_eq!(
            d,
            ffprobe_video_ms(&f[..cut]),
            "the samples whose bytes are in the file"
        );
        // Growing: never more than the whole, never decreasing.
        let mut last = 0;
        for cut in (moofs[0]..f.len()).step_by(997).chain([f.len()]) {
            let d = probe_bytes(&f[..cut]).and_then(|i| i.duration_ms).unwrap_or(0);
            assert!(d >= last && d <= 6000, "cut {cut}: {d} after {last}");
            last = d;
        }
        assert_eq!(last, 6000);
    }

    #[test]
    fn absurd_sample_counts_are_bounded() {
        let f = real();
        let moof = top(f, b"moof")[0];
        let trun = moof + f[moof..].windows(4).position(|w| w == b"trun").unwrap() - 4;
        let mut bad = f.to_vec();
        bad[trun + 12..trun + 16].copy_from_slice(&u32::MAX.to_be_bytes());
        let d = probe_bytes(&bad).unwrap().duration_ms.unwrap();
        assert!(
            d <= 6000,
            "a count of 4 billion cannot add samples the box does not hold: {d}"
        );
        // A trun claiming samples without per-sample fields: ignored, not looped over.
        let flags_at = trun + 8;
        bad[flags_at..flags_at + 4].copy_from_slice(&0u32.to_be_bytes());
        let started = std::time::Instant::now();
        let _ = probe_bytes(&bad);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn sidx_and_mehd_when_fragments_say_nothing() {
        // global_sidx: ffmpeg writes one sidx per track after the moov.
        let mut f = ffmpeg_fragmented(4, "+global_sidx");
        assert!(!top(&f, b"sidx").is_empty());
        for at in top(&f, b"moof") {
            f[at + 4..at + 8].copy_from_slice(b"free");
        }
        let d = probe_bytes(&f).unwrap().duration_ms.unwrap();
        assert!((3900..=4200).contains(&d), "from sidx: {d}");
        // mehd, hand-built: 90 s at timescale 1000.
        let mut mvhd = vec![0u8; 100];
        mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
        let mut mehd = vec![0u8; 4];
        mehd.extend(90_000u32.to_be_bytes());
        let moov = bx(
            b"moov",
            &[bx(b"mvhd", &mvhd), bx(b"mvex", &bx(b"mehd", &mehd))].concat(),
        );
        let f = [bx(b"ftyp", b"isom"), moov].concat();
        assert_eq!(probe_bytes(&f).unwrap().duration_ms, Some(90_000));
    }

    proptest::proptest! {
        #[test]
        fn fragmented_never_panics(edits in proptest::collection::vec((0usize..100_000, proptest::num::u8::ANY), 1..8), cut in 0usize..100_000) {
            let mut f = real().to_vec();
            for (pos, byte) in edits {
                let p = pos % f.len();
                f[p] = byte;
            }
            f.truncate(f.len() - cut % f.len());
            let _ = probe_bytes(&f);
        }

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
