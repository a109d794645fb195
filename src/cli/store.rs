//! `camvault store test`: the first thing to run after entering credentials.
//!
//! Writes a probe object under `camvault-probe/`, reads it back, checks size, CRC-64 and
//! bytes, proves that an overwrite is refused, removes the probe, and reports latency and
//! throughput. Nothing outside `camvault-probe/` is touched. It also tells whether the
//! bucket's WORM (S3: its Object Lock) protects recordings from deletion, and which
//! checksum the store checks on upload; `camvault store worm` sets an OSS WORM.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};

use crate::config::Config;
use crate::store::{self, crc_hex, ErrorKind};
use crate::upload::body::{crc_of_reader, Body};

const PROBE_BYTES: usize = 8 << 20;

pub fn test(cfg: Config) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let s = store::open(&cfg)?;
        println!("testing {}", s.describe());
        let t0 = Instant::now();
        s.check().await.map_err(|e| anyhow!("{e}"))?;
        println!("ok    reachable ({} ms)", t0.elapsed().as_millis());
        let worm = s.worm().await;
        match &worm {
            Ok(w) => {
                let (good, line) = w.summary();
                println!("{}  {line}", if good { "ok  " } else { "WARN" });
            }
            Err(e) => println!("WARN  cannot read the bucket's WORM: {e}"),
        }
        match s.bucket_settings().await {
            Ok(Some(b)) => {
                for f in store::settings::findings(&cfg, &b) {
                    if f.bad {
                        println!("WARN  {}\n      fix: {}", f.what, f.fix);
                    } else {
                        println!("ok    {}", f.what);
                    }
                }
                if b.versioning.is_none() && b.redundancy.is_some() {
                    println!("ok    versioning off: forbid-overwrite keeps uploads from replacing objects");
                }
            }
            Ok(None) => {}
            Err(e) => println!("WARN  cannot read the bucket's settings (redundancy, versioning, location): {e}"),
        }
        for (good, line) in replication_lines(&cfg, &*s).await {
            println!("{}  {line}", if good { "ok  " } else { "WARN" });
        }

        let dir = tempfile::tempdir()?;
        let local = dir.path().join("probe");
        let data: Vec<u8> = (0..PROBE_BYTES)
            .map(|i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) as u8)
            .collect();
        std::fs::write(&local, &data)?;
        let key = format!(
            "{}{}-{}",
            store::PROBE_PREFIX,
            jiff::Timestamp::now().as_second(),
            std::process::id()
        );
        let result = probe(&*s, &local, &key, cfg.store.storage_class.as_str()).await;
        // Always try to remove the probe, whatever failed.
        let cleanup = store::delete_probe(&*s, &key).await;
        match (result, cleanup) {
            (Ok(()), Ok(())) => {
                println!("ok    probe removed");
                println!("\nthe store works: camvault can upload, verify and read back recordings.");
                Ok(ExitCode::SUCCESS)
            }
            (Ok(()), Err(e)) => {
                println!("WARN  could not remove the probe {key}: {e}");
                if let Ok(store::WormStatus::Configured(w)) = &worm {
                    println!(
                        "      (the bucket's WORM keeps every object, probes included, for {} days)",
                        w.days
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            (Err(e), _) => {
                println!("FAIL  {e:#}");
                Ok(ExitCode::from(1))
            }
        }
    })
}

/// What `store test` and `doctor` say about the bucket's own replication (OSS Cross-Region
/// Replication, `store::replication`): (good, line) per rule; nothing for a store without it.
pub async fn replication_lines(cfg: &Config, s: &dyn store::Backend) -> Vec<(bool, String)> {
    match s.replication().await {
        Ok(None) => Vec::new(),
        Ok(Some(rules)) if rules.is_empty() => vec![(
            true,
            "the bucket does not replicate itself (no Cross-Region Replication rule)".to_string(),
        )],
        Ok(Some(rules)) => store::replication::findings(cfg, &rules),
        Err(e) => vec![(
            false,
            format!("cannot read the bucket's replication rules: {e} (give the key oss:GetBucketReplication)"),
        )],
    }
}

/// `camvault store head KEY`: the store's metadata of one object, as JSON. `transition_ms`
/// is when a lifecycle rule moved it to its archive class (null when the store does not
/// say), the start of the class's minimum storage duration.
pub fn head(cfg: Config, key: &str) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let s = store::open(&cfg)?;
        match s.head(key).await.map_err(|e| anyhow!("{e}"))? {
            None => {
                eprintln!("{key}: not in {}", s.describe());
                Ok(ExitCode::from(1))
            }
            Some(m) => {
                let (restore, expires_ms) = match m.restore {
                    store::RestoreState::None => ("none", None),
                    store::RestoreState::InProgress => ("in-progress", None),
                    store::RestoreState::Ready { expires_ms } => ("ready", Some(expires_ms)),
                };
                let v = serde_json::json!({
                    "key": m.key,
                    "size": m.size,
                    "crc64": m.crc64,
                    "storage_class": m.storage_class,
                    "modified_ms": m.modified_ms,
                    "readable": m.readable(),
                    "restore": restore,
                    "restore_expires_ms": expires_ms,
                    "transition_ms": m.transition_ms,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

/// Parses `START-END` (inclusive byte offsets, as `curl -r`) into an exclusive range.
fn parse_range(s: &str) -> Result<std::ops::Range<u64>> {
    let bad = || anyhow!("--range {s:?}: write START-END in bytes, e.g. 0-1023 for the first KiB");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (a, b): (u64, u64) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if b < a {
        return Err(bad());
    }
    Ok(a..b + 1)
}

/// `camvault store get KEY [--range START-END] [--out FILE]`: an object's bytes, or some
/// of them, straight from the store (no catalog, no checks: for looking at one object).
pub fn get(cfg: Config, key: &str, range: Option<&str>, out: Option<&std::path::Path>) -> Result<ExitCode> {
    let range = range.map(parse_range).transpose()?;
    let rt = super::runtime()?;
    rt.block_on(async move {
        let s = store::open(&cfg)?;
        let mut reader = s.get_range(key, range).await.map_err(|e| anyhow!("{e}"))?;
        let n = match out {
            Some(p) => {
                let mut f = tokio::fs::File::create(p)
                    .await
                    .map_err(|e| anyhow!("cannot write {}: {e}", p.display()))?;
                tokio::io::copy(&mut reader, &mut f).await?
            }
            None => {
                use std::io::Write;
                use tokio::io::AsyncReadExt;
                let (mut buf, mut n) = (vec![0u8; 1 << 16], 0u64);
                let mut stdout = std::io::stdout().lock();
                loop {
                    let k = reader.read(&mut buf).await?;
                    if k == 0 {
                        break;
                    }
                    stdout.write_all(&buf[..k])?;
                    n += k as u64;
                }
                stdout.flush()?;
                n
            }
        };
        eprintln!("{n} byte(s) of {key}");
        Ok(ExitCode::SUCCESS)
    })
}

/// `camvault store restore KEY`: one RestoreObject request, for trying a store's restores
/// by hand (the restore planner requests whole time ranges).
pub fn restore(cfg: Config, key: &str, days: u32, tier: &str) -> Result<ExitCode> {
    let tier = match tier.to_ascii_lowercase().as_str() {
        "expedited" => store::RestoreTier::Expedited,
        "standard" => store::RestoreTier::Standard,
        "bulk" => store::RestoreTier::Bulk,
        other => bail!("--tier {other:?}: use expedited, standard or bulk"),
    };
    if days == 0 {
        bail!("--days must be at least 1");
    }
    let rt = super::runtime()?;
    rt.block_on(async move {
        let s = store::open(&cfg)?;
        let answer = s.restore(key, days, tier).await.map_err(|e| anyhow!("{e}"))?;
        println!(
            "{key}: {}",
            match answer {
                store::RestoreAnswer::Started => "restore started",
                store::RestoreAnswer::AlreadyInProgress => "a restore is already in progress",
                store::RestoreAnswer::AlreadyRestored =>
                    "already readable (a restored copy is there; its time was extended)",
            }
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// `camvault store worm [--days N | --lock] [--yes]`.
pub fn worm(cfg: Config, days: Option<u32>, lock: bool, yes: bool) -> Result<ExitCode> {
    if let Some(d) = days {
        if !(1..=25550).contains(&d) {
            bail!("--days {d}: a WORM retention is 1 to 25550 days (70 years)");
        }
    }
    let rt = super::runtime()?;
    rt.block_on(async move {
        let s = store::open(&cfg)?;
        let status = s.worm().await.map_err(|e| anyhow!("{e}"))?;
        if let store::WormStatus::Unsupported(why) = &status {
            eprintln!("{why}");
            return Ok(ExitCode::from(2));
        }
        if matches!(status, store::WormStatus::Described { .. }) && (days.is_some() || lock) {
            // S3 Object Lock: shown, never set by camvault (see `store::s3::lock`).
            println!("{}", status.summary().1);
            eprintln!("{}", s.no_worm());
            return Ok(ExitCode::from(2));
        }
        let current = match &status {
            store::WormStatus::Configured(w) => Some(w.clone()),
            _ => None,
        };
        if let Some(days) = days {
            if let Some(w) = &current {
                println!("{}", status.summary().1);
                if w.locked() {
                    bail!("the bucket's WORM ({}) is locked: it can never be shortened or removed", w.id);
                }
                bail!(
                    "a WORM of {} days (id {}) is already initiated: lock it with `camvault store worm --lock`, or let it lapse 24 h after it was started",
                    w.days,
                    w.id
                );
            }
            let id = s.initiate_worm(days).await.map_err(|e| anyhow!("{e}"))?;
            println!("WORM of {days} days initiated on {} (id {id}).", s.describe());
            println!(
                "It is not in force for good yet: lock it within 24 hours with `camvault store worm --lock`, or it lapses.
                 Once locked, no recording can be deleted or overwritten for {days} days after its upload, by anyone,
                 the account owner included, and the WORM itself can never be shortened or removed (only extended)."
            );
            return Ok(ExitCode::SUCCESS);
        }
        if lock {
            let Some(w) = current else {
                bail!("the bucket has no WORM to lock: start one with `camvault store worm --days N`");
            };
            if w.locked() {
                println!("{}", status.summary().1);
                println!("already locked: nothing to do");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "Locking the WORM {} on {}: recordings can then not be deleted or overwritten for {} days after upload,
                 by anyone, and the WORM can NEVER be shortened or removed (only extended).",
                w.id,
                s.describe(),
                w.days
            );
            if !yes {
                if !std::io::stdin().is_terminal() {
                    bail!("locking a WORM is irreversible: confirm with --yes (no terminal to ask on)");
                }
                print!("lock it for good? [y/N] ");
                std::io::stdout().flush()?;
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    println!("not locked");
                    return Ok(ExitCode::from(1));
                }
            }
            s.lock_worm(&w.id).await.map_err(|e| anyhow!("{e}"))?;
            println!(
                "locked: recordings are protected from deletion for {} days; this can never be shortened or removed",
                w.days
            );
            return Ok(ExitCode::SUCCESS);
        }
        let (good, line) = status.summary();
        println!("{line}");
        if let Some(w) = current {
            println!("(WORM id {}, state {}, created {})", w.id, w.state, w.created);
        }
        Ok(if good { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

async fn probe(s: &dyn store::Backend, local: &std::path::Path, key: &str, class: &str) -> Result<()> {
    let len = PROBE_BYTES as u64;
    let mut body = Body::open(local, len, None).await?;
    let t = Instant::now();
    s.put(key, &mut body, class).await.map_err(|e| anyhow!("write: {e}"))?;
    let put_s = t.elapsed().as_secs_f64();
    let crc = crc_hex(body.crc64());
    println!(
        "ok    wrote {} MiB in {:.2} s ({:.1} MB/s)",
        len >> 20,
        put_s,
        len as f64 / put_s / 1e6
    );
    if let Some((good, line)) = s.checksum_report() {
        println!("{}  {line}", if good { "ok  " } else { "WARN" });
    }

    let t = Instant::now();
    let head = s
        .head(key)
        .await
        .map_err(|e| anyhow!("read metadata: {e}"))?
        .ok_or_else(|| anyhow!("the probe is missing right after writing it"))?;
    println!(
        "ok    metadata in {} ms (class {})",
        t.elapsed().as_millis(),
        head.storage_class
    );
    if head.size != len || head.crc64.as_deref() != Some(crc.as_str()) {
        bail!(
            "the store reports {} bytes with CRC-64 {:?}; camvault wrote {len} bytes with {crc}",
            head.size,
            head.crc64
        );
    }
    println!("ok    size and CRC-64 match");

    let t = Instant::now();
    let reader = s.get(key).await.map_err(|e| anyhow!("read: {e}"))?;
    let (got, n) = crc_of_reader(reader).await?;
    let get_s = t.elapsed().as_secs_f64();
    if n != len || crc_hex(got) != crc {
        bail!(
            "read back {n} bytes with CRC-64 {}, expected {len} bytes with {crc}",
            crc_hex(got)
        );
    }
    println!(
        "ok    read back in {:.2} s ({:.1} MB/s), bytes identical",
        get_s,
        len as f64 / get_s / 1e6
    );

    let mut again = Body::open(local, 16, None).await?;
    match s.put(key, &mut again, class).await {
        Err(e) if e.kind == ErrorKind::AlreadyExists => println!("ok    overwriting an existing object is refused"),
        Ok(()) => {
            bail!("the store let camvault OVERWRITE an existing object: recordings would not be safe from replacement")
        }
        Err(e) => bail!("overwrite check: {e}"),
    }
    Ok(())
}
