//! `camvault ingest --once`: one pass of the whole pipeline, for cron jobs and tests.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::cache::{self, CacheKeeper};
use crate::config::Config;
use crate::upload;

pub fn run(cfg: Config) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let p = super::serve::open_pipeline(&cfg).await?;
        let (cap, cat) = (p.capturer.clone(), p.catalog.clone());
        // A spinner while the inbox is scanned and captured (long for a month of clips).
        let spinner = std::io::stderr().is_terminal().then(|| {
            let s = indicatif::ProgressBar::new_spinner();
            s.set_message(format!("scanning and capturing {}", cfg.inbox().display()));
            s.enable_steady_tick(Duration::from_millis(120));
            s
        });
        let (new, known, growing, cap_errors) =
            tokio::task::spawn_blocking(move || crate::inbox::capture_all_complete(&cap, &cat)).await?;
        if let Some(s) = spinner {
            s.finish_and_clear();
        }
        let progress = std::io::stderr().is_terminal().then(|| progress(p.catalog.clone()));
        let failed = upload::drain(p.uploader.clone(), cfg.upload.concurrency, 3).await;
        if let Some((bar, task)) = progress {
            task.abort();
            bar.finish_and_clear();
        }
        // Then every mirror from the vault, before the cache may let go (issue 21).
        let mirror_left = mirrors(&p).await;
        // The days' index objects first: a day's manifest names them (src/index/days.rs).
        let manifest_error = match crate::index::days::write_due(&cfg, &p.catalog, &*p.uploader.store, jiff::Timestamp::now()).await {
            Ok(_) => crate::manifest::write_due(&p.catalog, &*p.uploader.store, jiff::Timestamp::now(), cfg.index.enabled).await.err(),
            Err(e) => Some(e),
        };
        if let Some(e) = &manifest_error {
            eprintln!("manifests not written (retried next run): {e:#}");
        }
        let every = cfg.health.catalog_backup_hours as i64 * 3_600_000;
        if let Err(e) = crate::backup::run_if_due(&p.catalog, &*p.uploader.store, every).await {
            eprintln!("catalog backup failed (retried next run): {e:#}");
        }
        let keeper = CacheKeeper::new(&cfg);
        let pass = keeper.pass(&p.catalog, jiff::Timestamp::now().as_millisecond(), &cache::free_bytes)?;
        let s = p.catalog.summary()?;
        println!(
            "captured {new} new file(s) ({known} already known); {} verified in total, {} purged from the local cache now",
            s.verified.files, pass.purged
        );
        if !growing.is_empty() {
            println!(
                "{} file(s) still being written (changed less than {} s ago), left for the next run:",
                growing.len(),
                cfg.capture.settle_secs
            );
            for g in growing.iter().take(10) {
                println!("  {}", cfg.inbox().join(g).display());
            }
        }
        for (path, e) in &cap_errors {
            eprintln!("capture failed: {}: {e}", cfg.inbox().join(path).display());
        }
        for (key, e) in &failed {
            eprintln!("not verified: {key}: {e}");
        }
        for line in &mirror_left {
            eprintln!("{line}");
        }
        if cap_errors.is_empty() && failed.is_empty() && mirror_left.is_empty() {
            Ok(ExitCode::SUCCESS)
        } else {
            eprintln!(
                "{} file(s) could not be captured and {} not stored; nothing was deleted. Fix the cause above and run again.",
                cap_errors.len(),
                failed.len()
            );
            Ok(ExitCode::from(1))
        }
    })
}

/// One run of each mirror's uploads (`mirror::MirrorUploader::pass`) until nothing is due
/// or the mirror is away; answers a line for each mirror with copies left.
async fn mirrors(p: &super::serve::Pipeline) -> Vec<String> {
    let stop = tokio_util::sync::CancellationToken::new();
    let mut left = Vec::new();
    for m in &p.mirrors {
        let mut why = None;
        if let Err(e) = p.catalog.copies_due_now(&m.name) {
            why = Some(format!("{e:#}"));
        }
        // Passes until nothing more is copied (a pass takes a bounded batch).
        for _ in 0..1000 {
            if why.is_some() {
                break;
            }
            match m.pass(&stop).await {
                Ok(crate::mirror::Pass::Done { copied: 0 }) => break,
                Ok(crate::mirror::Pass::Done { .. }) => {}
                Ok(crate::mirror::Pass::Away(w)) => {
                    why = Some(w.en());
                    break;
                }
                Err(e) => {
                    why = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        let counts = p.catalog.copy_counts().unwrap_or_default();
        let waiting = counts
            .iter()
            .find(|c| c.store == m.name)
            .map_or(0, |c| c.pending + c.failing);
        if waiting > 0 || why.is_some() {
            left.push(format!(
                "mirror {:?}: {waiting} copy(ies) not verified yet{}; the local files stay until they are (run again, or `camvault serve`)",
                m.name,
                why.map(|w| format!(" ({w})")).unwrap_or_default()
            ));
        }
    }
    left
}

fn progress(cat: std::sync::Arc<crate::catalog::Catalog>) -> (indicatif::ProgressBar, tokio::task::JoinHandle<()>) {
    let start = cat
        .summary()
        .map(|s| s.captured.files + s.uploaded.files + s.failed.files)
        .unwrap_or(0);
    let bar = indicatif::ProgressBar::new(start);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} uploading {pos}/{len} files [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let b = bar.clone();
    let task = tokio::spawn(async move {
        loop {
            if let Ok(s) = cat.summary() {
                let left = s.captured.files + s.uploaded.files + s.failed.files;
                b.set_position(start.saturating_sub(left));
                b.set_message(crate::config::human_bytes(s.verified.bytes) + " verified");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    (bar, task)
}
