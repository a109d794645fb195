//! The share's audit log: every delete, rename and overwrite tried over SMB.
//!
//! `full_audit` writes lines such as
//! `camvault|2026/11/25 09:37:45|192.168.1.20|camera|create_file|fail (…)|0x10000|file|open|/srv/inbox/a.mp4`
//! into smbd's log (see [`super::render`]). The reader follows that file across restarts
//! (its position is kept in the catalog) and across Samba's log rotation (`log.smbd.old`),
//! records each attempt, and groups a retention job's burst into one event.
//!
//! It also reads the camera's own writes that the share refused (an open for writing, a
//! write or a rename failing, e.g. `vfs_worm` judging a growing file too old): those mean
//! recordings are not reaching camvault, a health problem and an alert of their own,
//! separate from refused deletes (which are the share doing its job).

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use jiff::{civil, tz::TimeZone};
use tracing::warn;

use crate::catalog::{Catalog, DeletionAttempt};

/// Attempts from one client closer together than this are one burst.
pub const BURST_GAP_MS: i64 = 10 * 60 * 1000;
use crate::catalog::kv::AUDIT_POSITION as POS_KEY;
/// NT access mask bit for DELETE.
const DELETE_ACCESS: u64 = 0x10000;
/// NT access mask bits for writing data: FILE_WRITE_DATA, FILE_APPEND_DATA.
const WRITE_DATA_ACCESS: u64 = 0x2 | 0x4;
/// The kv key whose non-empty value is the health problem "the share refused a write".
pub use crate::catalog::kv::CAMERA_WRITES_PROBE as WRITE_REFUSED_PROBE;
/// When the last refused write was seen (ms).
use crate::catalog::kv::WRITE_REFUSED_MS as WRITE_REFUSED_AT;
/// A refused write stays a problem this long after the last one.
const WRITE_REFUSED_FOR_MS: i64 = 24 * 3_600_000;

/// A write of the camera that the share refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedWrite {
    pub at_ms: i64,
    pub client: String,
    pub user: String,
    /// `open for writing`, `write` or `rename`.
    pub op: &'static str,
    pub path: String,
    /// Samba's words (`fail (Permission denied)`, `fail (NT_STATUS_ACCESS_DENIED)`, …).
    pub why: String,
}

/// Parses one log line; `None` for anything that is not a refused open for writing, write
/// or rename.
pub fn parse_refused_write(line: &str, tz: &TimeZone) -> Option<RefusedWrite> {
    let at = line.find("camvault|")?;
    let fields: Vec<&str> = line[at..].trim_end().split('|').collect();
    let [_, time, client, user, op, result, rest @ ..] = fields.as_slice() else {
        return None;
    };
    if !result.starts_with("fail") || result.contains("No such file") {
        return None;
    }
    let (op, path) = match (*op, rest) {
        ("openat", [mode, path @ ..]) if *mode == "w" => ("open for writing", path.join("|")),
        ("pwrite" | "pwrite_send", path) => ("write", path.join("|")),
        ("renameat", [from, ..]) => ("rename", from.to_string()),
        ("create_file", [mask, _kind, disposition, path @ ..]) => {
            let mask = u64::from_str_radix(mask.trim_start_matches("0x"), 16).ok()?;
            // Overwrites and deletes are the deletion attempts `parse_line` reads.
            let opening = matches!(*disposition, "open" | "open_if" | "create");
            if !opening || mask & DELETE_ACCESS != 0 || mask & WRITE_DATA_ACCESS == 0 {
                return None;
            }
            ("open for writing", path.join("|"))
        }
        _ => return None,
    };
    if path.is_empty() || path.contains(&format!("/{}/", super::PROBE_DIR)) {
        return None;
    }
    let dt: civil::DateTime = civil::DateTime::strptime("%Y/%m/%d %H:%M:%S", time).ok()?;
    Some(RefusedWrite {
        at_ms: dt.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond(),
        client: client.strip_prefix("::ffff:").unwrap_or(client).to_string(),
        user: user.to_string(),
        op,
        path,
        why: result.to_string(),
    })
}

/// Records a refused write: the health problem (until a day passes without one) and, once
/// per burst, an event that goes out as an alert.
fn record_refused_write(catalog: &Catalog, w: &RefusedWrite) -> Result<()> {
    // With its key: the pages and the alert show it in their language.
    let at = jiff::Timestamp::from_millisecond(w.at_ms)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let (path, why) = (&w.path, &w.why);
    let msg = match w.op {
        "rename" => crate::msg!("health.detail.share_refused_rename", path = path, why = why, at = at),
        "write" => crate::msg!("health.detail.share_refused_write", path = path, why = why, at = at),
        _ => crate::msg!("health.detail.share_refused_open", path = path, why = why, at = at),
    };
    let message = msg.en();
    let last = catalog.slot(&WRITE_REFUSED_AT)?;
    if last.is_none_or(|l| w.at_ms - l > BURST_GAP_MS) {
        warn!(client = %w.client, user = %w.user, path = %w.path, "{message}");
        catalog.record_event_msg("share_refused_write", &message, &msg)?;
    }
    if last.is_none_or(|l| w.at_ms >= l) {
        catalog.set_slot(&WRITE_REFUSED_AT, &w.at_ms)?;
        catalog.set_slot(&WRITE_REFUSED_PROBE, &crate::msg::to_stored(&[msg]))?;
    }
    Ok(())
}

/// Clears the problem once a day has passed without a refused write.
fn expire_refused_write(catalog: &Catalog, now_ms: i64) -> Result<()> {
    let last = catalog.slot(&WRITE_REFUSED_AT)?;
    if last.is_some_and(|l| now_ms - l > WRITE_REFUSED_FOR_MS)
        && catalog.slot(&WRITE_REFUSED_PROBE)?.is_some_and(|v| !v.is_empty())
    {
        catalog.clear_slot(&WRITE_REFUSED_PROBE)?;
    }
    Ok(())
}

/// Parses one log line; `None` for anything that is not a delete, rename or overwrite.
pub fn parse_line(line: &str, tz: &TimeZone) -> Option<DeletionAttempt> {
    let at = line.find("camvault|")?;
    let fields: Vec<&str> = line[at..].trim_end().split('|').collect();
    let [_, time, client, user, op, result, rest @ ..] = fields.as_slice() else {
        return None;
    };
    let dt: civil::DateTime = civil::DateTime::strptime("%Y/%m/%d %H:%M:%S", time).ok()?;
    let at_ms = dt.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond();
    let ok = *result == "ok";
    if !ok && !result.starts_with("fail") {
        return None;
    }
    // A lookup of a file that does not exist is not an attempt on a recording. But vfs_worm
    // refuses with an NTSTATUS and sets no errno, so the text is whatever errno was left
    // (with the share acting as an unprivileged user, often ENOENT); an overwrite_if or
    // supersede of a missing file would create it, so its failure is never such a lookup.
    let creates = *op == "create_file" && rest.get(2).is_some_and(|d| matches!(*d, "overwrite_if" | "supersede"));
    if result.contains("No such file") && !creates {
        return None;
    }
    let (op, path) = match *op {
        "unlinkat" => ("delete", rest.join("|")),
        "renameat" => ("rename", rest.first()?.to_string()),
        "create_file" if !ok => {
            let [mask, _kind, disposition, path @ ..] = rest else {
                return None;
            };
            let mask = u64::from_str_radix(mask.trim_start_matches("0x"), 16).ok()?;
            if matches!(*disposition, "overwrite" | "overwrite_if" | "supersede") {
                ("overwrite", path.join("|"))
            } else if mask & DELETE_ACCESS != 0 {
                ("delete", path.join("|"))
            } else {
                return None;
            }
        }
        _ => return None,
    };
    // The share check's own probe is not an attempt on a recording.
    if path.is_empty() || path.contains(&format!("/{}/", super::PROBE_DIR)) {
        return None;
    }
    let client = client.strip_prefix("::ffff:").unwrap_or(client).to_string();
    Some(DeletionAttempt {
        at_ms,
        client,
        user: user.to_string(),
        op: op.into(),
        path,
        denied: !ok,
    })
}

/// Follows the audit log and records what it finds.
pub struct AuditReader {
    path: PathBuf,
    tz: TimeZone,
}

impl AuditReader {
    pub fn new(path: &Path) -> AuditReader {
        AuditReader {
            path: path.to_path_buf(),
            tz: TimeZone::system(),
        }
    }

    /// Reads what was appended since the last call (or the last run); returns how many
    /// attempts were recorded. A missing log is not an error: Samba may not have started.
    pub fn poll(&self, catalog: &Catalog) -> Result<usize> {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return Ok(0);
        };
        let (mut ino, mut pos) = catalog
            .slot(&POS_KEY)?
            .and_then(|v| {
                let (i, p) = v.split_once(':')?;
                Some((i.parse::<u64>().ok()?, p.parse::<u64>().ok()?))
            })
            .unwrap_or((meta.ino(), 0));
        let before = (ino, pos);
        let mut found = 0;
        if ino != meta.ino() {
            // Rotated: finish the old file (now `<log>.old`) if it is the one we were reading.
            let old = PathBuf::from(format!("{}.old", self.path.display()));
            if std::fs::metadata(&old).is_ok_and(|m| m.ino() == ino) {
                found += self.read_from(&old, pos, catalog)?.1;
            }
            ino = meta.ino();
            pos = 0;
        } else if meta.len() < pos {
            pos = 0; // truncated
        }
        let (new_pos, n) = self.read_from(&self.path, pos, catalog)?;
        // Polled every second: an unchanged log must not cost a catalog write each time.
        if (ino, new_pos) != before || n > 0 {
            catalog.set_slot(&POS_KEY, &format!("{ino}:{new_pos}"))?;
        }
        expire_refused_write(catalog, jiff::Timestamp::now().as_millisecond())?;
        Ok(found + n)
    }

    /// Records complete lines from `pos` on; returns the position after the last one.
    fn read_from(&self, path: &Path, pos: u64, catalog: &Catalog) -> Result<(u64, usize)> {
        let mut f = std::fs::File::open(path)?;
        f.seek(SeekFrom::Start(pos))?;
        let mut buf = Vec::new();
        f.take(64 << 20).read_to_end(&mut buf)?;
        let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
            return Ok((pos, 0));
        };
        let mut n = 0;
        for line in String::from_utf8_lossy(&buf[..end]).lines() {
            if let Some(w) = parse_refused_write(line, &self.tz) {
                record_refused_write(catalog, &w)?;
            }
            if let Some(a) = parse_line(line, &self.tz) {
                if let Some(_burst) = catalog.record_deletion_attempt(&a, BURST_GAP_MS)? {
                    warn!(
                        client = %a.client, user = %a.user, path = %a.path,
                        "deletion attempt over SMB: {} {} ({}); further attempts in this burst are only counted",
                        a.op,
                        if a.denied { "refused" } else { "ALLOWED (inside the grace period)" },
                        a.path
                    );
                }
                n += 1;
            }
        }
        Ok((pos + end as u64 + 1, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> TimeZone {
        TimeZone::UTC
    }

    #[test]
    fn parses_what_samba_4_17_writes() {
        let p = |l: &str| parse_line(l, &utc());
        let d = p("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|create_file|fail (Operation not supported)|0x10000|file|open|/s/a.txt").unwrap();
        assert_eq!(
            (d.op.as_str(), d.path.as_str(), d.denied, d.client.as_str()),
            ("delete", "/s/a.txt", true, "127.0.0.1")
        );
        assert_eq!(d.at_ms, 1_795_599_465_000);
        let r = p("  camvault|2026/11/25 09:37:45|::ffff:10.0.0.2|camtest|renameat|fail (Permission denied)|/s/a.txt|/s/b.txt").unwrap();
        assert_eq!(
            (r.op.as_str(), r.path.as_str(), r.client.as_str()),
            ("rename", "/s/a.txt", "10.0.0.2")
        );
        let o = p("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|create_file|fail (Success)|0x12019f|file|overwrite_if|/s/a.txt").unwrap();
        assert_eq!((o.op.as_str(), o.denied), ("overwrite", true));
        let ok = p("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|unlinkat|ok|/s/new.txt").unwrap();
        assert_eq!((ok.op.as_str(), ok.denied), ("delete", false));
        assert_eq!(p("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|create_file|fail (No such file or directory)|0x120089|file|open|/s/x"), None);
        assert_eq!(
            p("[2026/11/25 09:37:45.140773,  1] ../../source3/modules/vfs_full_audit.c:643(do_log)"),
            None
        );
        assert_eq!(p("  camvault|garbage"), None);
    }

    #[test]
    fn refused_writes_are_told_apart_from_deletes() {
        let w = |l: &str| parse_refused_write(l, &utc());
        let open = w("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|create_file|fail (NT_STATUS_ACCESS_DENIED)|0x120196|file|open_if|/s/c.mp4").unwrap();
        assert_eq!((open.op, open.path.as_str()), ("open for writing", "/s/c.mp4"));
        let o =
            w("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|openat|fail (Permission denied)|w|/s/c.mp4").unwrap();
        assert_eq!(o.op, "open for writing");
        assert_eq!(
            w("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|openat|fail (Permission denied)|r|/s/c.mp4"),
            None,
            "a read is not a write"
        );
        let p = w("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|pwrite|fail (No space left on device)|/s/c.mp4")
            .unwrap();
        assert_eq!((p.op, p.why.as_str()), ("write", "fail (No space left on device)"));
        let r =
            w("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|renameat|fail (Permission denied)|/s/a.mp4|/s/b.mp4")
                .unwrap();
        assert_eq!((r.op, r.path.as_str()), ("rename", "/s/a.mp4"));
        // Deletes and overwrites are deletion attempts, not refused writes.
        assert_eq!(w("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|create_file|fail (Success)|0x10000|file|open|/s/a.txt"), None);
        assert_eq!(w("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|create_file|fail (Success)|0x12019f|file|overwrite_if|/s/a.txt"), None);
        assert_eq!(
            w("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|unlinkat|fail (Permission denied)|/s/a.txt"),
            None
        );
        assert_eq!(
            w("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|pwrite|ok|/s/c.mp4"),
            None
        );
        assert_eq!(
            w("  camvault|2026/11/25 09:37:45|127.0.0.1|camtest|openat|fail (No such file or directory)|w|/s/x"),
            None
        );
    }

    #[test]
    fn a_refused_write_is_a_problem_and_one_event_per_burst() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let log = dir.path().join("log.smbd");
        let now = jiff::Timestamp::now();
        let line = |secs: i64| {
            let t = (now - jiff::SignedDuration::from_secs(secs)).to_zoned(TimeZone::UTC);
            format!(
                "  camvault|{}|10.0.0.5|camera|openat|fail (Permission denied)|w|/s/clip.mp4\n",
                t.strftime("%Y/%m/%d %H:%M:%S")
            )
        };
        std::fs::write(&log, format!("{}{}", line(120), line(60))).unwrap();
        let r = AuditReader {
            path: log.clone(),
            tz: utc(),
        };
        r.poll(&cat).unwrap();
        let events = cat.events_after(0).unwrap();
        assert_eq!(events.len(), 1, "one alert for the burst: {events:?}");
        assert_eq!(events[0].2, "share_refused_write");
        assert!(events[0]
            .3
            .contains("refused the camera's open for writing of /s/clip.mp4"));
        let s = cat.summary().unwrap();
        assert!(s
            .probes
            .get(WRITE_REFUSED_PROBE.name())
            .and_then(|m| crate::msg::from_stored(m))
            .is_some_and(|m| m[0].en().contains("not reaching camvault")));
        assert_eq!(cat.deletion_summary(0).unwrap().total, 0, "not a deletion attempt");
        // A day without another refusal clears the problem.
        expire_refused_write(&cat, now.as_millisecond() + 25 * 3_600_000).unwrap();
        assert!(!cat.summary().unwrap().probes.contains_key(WRITE_REFUSED_PROBE.name()));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(line in "(camvault\\|)?(\\PC|\\|){0,120}") {
            let _ = parse_line(&line, &utc());
            let _ = parse_refused_write(&line, &utc());
        }
    }

    #[test]
    fn follows_appends_restarts_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let log = dir.path().join("log.smbd");
        let line = |n: u32| {
            format!("  camvault|2026/11/25 09:{n:02}:00|10.0.0.5|camera|unlinkat|fail (Permission denied)|/s/{n}.mp4\n")
        };
        std::fs::write(&log, format!("{}{}[partial", line(1), line(2))).unwrap();
        let r = AuditReader {
            path: log.clone(),
            tz: utc(),
        };
        assert_eq!(r.poll(&cat).unwrap(), 2);
        assert_eq!(r.poll(&cat).unwrap(), 0, "nothing read twice");
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        std::io::Write::write_all(&mut f, format!(" line]\n{}", line(3)).as_bytes()).unwrap();
        let r2 = AuditReader {
            path: log.clone(),
            tz: utc(),
        }; // a restarted camvault
        assert_eq!(r2.poll(&cat).unwrap(), 1);
        std::io::Write::write_all(&mut f, line(4).as_bytes()).unwrap();
        std::fs::rename(&log, dir.path().join("log.smbd.old")).unwrap();
        std::fs::write(&log, line(5)).unwrap();
        assert_eq!(
            r2.poll(&cat).unwrap(),
            2,
            "the rest of the rotated file, then the new one"
        );
        assert_eq!(cat.deletion_summary(0).unwrap().total, 5);
    }

    #[test]
    fn a_refused_overwrite_counts_whatever_errno_was_left() {
        let tz = TimeZone::UTC;
        let o = parse_line("  camvault|2026/12/03 12:50:13|127.0.0.1|camtest|create_file|fail (No such file or directory)|0x12019f|file|overwrite_if|/s/k1", &tz).unwrap();
        assert_eq!((o.op.as_str(), o.denied), ("overwrite", true));
        assert!(parse_line("  camvault|2026/12/03 12:50:13|127.0.0.1|camtest|create_file|fail (No such file or directory)|0x10000|file|open|/s/gone", &tz).is_none());
    }
}
