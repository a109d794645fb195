//! `camvault status`: what is captured, stored, verified, pending and failing.

use std::process::ExitCode;

use anyhow::Result;

use crate::catalog::Catalog;
use crate::config::{human_bytes, Config};

pub fn run(cfg: Config, as_json: bool) -> Result<ExitCode> {
    let cat = Catalog::open(&cfg.catalog(), false)?;
    let now = jiff::Timestamp::now().as_millisecond();
    if as_json {
        // The document reads the summary itself: reading it here too would double the time.
        println!(
            "{}",
            serde_json::to_string_pretty(&crate::report::status_json(&cfg, &cat, now)?)?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let s = cat.summary()?;
    let pending = s.captured.files + s.uploaded.files;
    let total = pending + s.verified.files + s.failed.files;
    let oldest_pending_secs = s.oldest_pending_ms.map(|t| ((now - t).max(0) / 1000) as u64);
    let del = cat.deletion_summary(now - 86_400_000)?;
    let problems = crate::health::check(&cfg, &s, now);
    println!("catalog {}", cat.path().display());
    println!(
        "files   {total} total: {} verified, {pending} pending, {} failed",
        s.verified.files, s.failed.files
    );
    let (recordings, sidecars, superseded, aliases) = cat.file_kinds()?;
    if sidecars + superseded + aliases > 0 {
        // What real cameras do (docs/cameras.md): snapshots beside clips, clips that grew
        // after an upload, the same clip written twice. All kept, none a second recording.
        println!(
            "        {recordings} recordings; {sidecars} sidecar files (snapshots, metadata), {superseded} partial copies superseded by the finished file, {aliases} duplicate names of stored clips"
        );
    }
    println!(
        "bytes   {} verified in the store, {} pending, {} failed, {} kept in the local cache",
        human_bytes(s.verified.bytes),
        human_bytes(s.captured.bytes + s.uploaded.bytes),
        human_bytes(s.failed.bytes),
        human_bytes(s.cached.bytes)
    );
    if !cfg.store.mirror.is_empty() {
        // One line per store: the main store, then each mirror (issue 21).
        for st in crate::mirror::stores(&cat, &s)? {
            let missing = if st.without_copy > 0 {
                format!(
                    ", {} recording(s) without a copy there (captured before it was added)",
                    st.without_copy
                )
            } else {
                String::new()
            };
            println!(
                "store   {:<12} {} verified ({}), {} pending, {} failing{missing}",
                st.store,
                st.verified,
                human_bytes(st.verified_bytes),
                st.pending,
                st.failing
            );
        }
    }
    if let Some(secs) = oldest_pending_secs {
        // Failed files count here: they are still waiting to be safe.
        println!(
            "oldest  file not yet verified (pending or failed) waits since {}",
            human_secs(secs)
        );
    }
    if s.cameras.is_empty() {
        println!(
            "cameras none yet: nothing has been captured from {}",
            cfg.inbox().display()
        );
    }
    for c in &s.cameras {
        let last = c
            .last_start_ms
            .map(|t| super::local_time(t, &c.tz))
            .unwrap_or_else(|| "-".into());
        let lag = c
            .min_lag_ms
            .map(|l| format!(", arrives {} s after recording", l / 1000))
            .unwrap_or_default();
        println!(
            "camera  {:<20} {:>7} files {:>10}  last clip {last}  ({}{lag})",
            c.id,
            c.files,
            human_bytes(c.bytes),
            c.tz
        );
    }
    for r in crate::miio::poll::readings(&cat).values() {
        println!(
            "device  {:<20} {} (read {})",
            r.camera,
            crate::miio::camera::describe(r),
            super::local_time(r.at_ms, "UTC")
        );
    }
    if del.total > 0 {
        println!(
            "deletes {} attempt(s) over SMB to delete, rename or overwrite ({} refused, {} in the last 24 h)",
            del.total, del.denied, del.last_24h
        );
        for b in &del.bursts {
            println!(
                "  {} from {} as {}: {} attempt(s), {} refused, e.g. {}",
                super::local_time(b.last_ms, "UTC"),
                b.client,
                b.user,
                b.attempts,
                b.denied,
                b.sample
            );
        }
    }
    // The bucket's own numbers (the last hourly check), beside the catalog's above.
    if let Some(u) = cat.slot(&crate::catalog::kv::STORE_USAGE)? {
        let classes: Vec<String> = u
            .classes
            .iter()
            .map(|(c, (n, b))| format!("{c} {n} / {}", human_bytes(*b)))
            .collect();
        println!(
            "bucket  {} object(s), {} by {} of {}: {}",
            u.objects,
            human_bytes(u.bytes),
            u.source,
            super::local_time(u.as_of_ms, "UTC"),
            classes.join(", ")
        );
    }
    match crate::selfwatch::Sample::current(&cat, now) {
        Some(u) => {
            println!("serve   running: {}", u.describe());
            let workers = crate::workers::recorded(&cat);
            if !workers.is_empty() {
                println!("workers {}", crate::workers::describe(&workers));
            }
        }
        None => println!("serve   not running"),
    }
    if problems.is_empty() {
        println!("health  ok");
    }
    for p in &problems {
        println!("health  PROBLEM {}: {}", p.rule, p.message);
    }
    if !s.recent_errors.is_empty() {
        println!("recent errors (retried automatically with backoff):");
        for (k, e) in &s.recent_errors {
            println!("  {k}: {e}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn human_secs(s: u64) -> String {
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}
