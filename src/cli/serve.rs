//! `camvault serve`: runs every stage until SIGINT or SIGTERM, then shuts down cleanly.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::cache::{self, CacheKeeper};
use crate::capture::Capturer;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::upload::{self, limit::RateLimiter, Uploader};

/// A failing periodic job's log and pace: the first failure of a streak is logged, later
/// ones only at the 64th, 128th, ... (so a lasting problem is not silent for ever, nor
/// logged every second); the retry wait doubles from the job's period up to `max`; the end
/// of a streak is logged too.
struct Streak {
    what: &'static str,
    failures: u32,
    max: Duration,
}

impl Streak {
    fn new(what: &'static str, max: Duration) -> Streak {
        Streak { what, failures: 0, max }
    }

    fn failed(&mut self, e: &anyhow::Error) {
        if self.failures == 0 || (self.failures >= 64 && self.failures.is_power_of_two()) {
            warn!(
                "{}: {e:#} (failing {} time(s) in a row; retried with backoff)",
                self.what,
                self.failures + 1
            );
        }
        self.failures = self.failures.saturating_add(1);
    }

    fn ok(&mut self) {
        if self.failures > 0 {
            info!("{}: works again after {} failure(s)", self.what, self.failures);
        }
        self.failures = 0;
    }

    /// How long to wait before the next run, given the job's usual `period`.
    fn wait(&self, period: Duration) -> Duration {
        if self.failures == 0 {
            return period;
        }
        period
            .saturating_mul(1 << self.failures.min(16))
            .min(self.max.max(period))
    }
}

pub fn run(cfg: Config) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async {
        let stop = CancellationToken::new();
        tokio::spawn(stop_on_signal(stop.clone()));
        serve_until(cfg, stop).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Cancels `stop` on SIGINT or SIGTERM.
pub async fn stop_on_signal(stop: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT: shutting down"),
        _ = term.recv() => info!("SIGTERM: shutting down"),
    }
    stop.cancel();
}

/// The parts every pipeline run needs, opened and checked.
pub struct Pipeline {
    pub catalog: Arc<Catalog>,
    pub capturer: Arc<Capturer>,
    pub uploader: Arc<Uploader>,
    pub _lock: std::fs::File,
}

pub async fn open_pipeline(cfg: &Config) -> Result<Pipeline> {
    let inbox = cfg.inbox();
    if !inbox.is_dir() {
        bail!(
            "inbox {} does not exist; run `camvault init` or fix `paths.inbox`",
            inbox.display()
        );
    }
    let vault = cfg.vault();
    std::fs::create_dir_all(&vault).with_context(|| format!("cannot create vault {}", vault.display()))?;
    let catalog = Arc::new(Catalog::open(&cfg.catalog(), true)?);
    let lock = catalog.lock_exclusive()?;
    let store: Arc<dyn crate::store::Backend> = Arc::from(crate::store::open(cfg)?);
    if cfg.store.kind == crate::config::StoreKind::Fs {
        crate::store::fs::FsStore::new(&cfg.fs_root(), true).clean_tmp();
    }
    if let Err(e) = store.check().await {
        // Store-and-forward: capture goes on while the store is away; uploads retry.
        warn!("the store is not usable right now: {e}. Recordings are still captured and will be uploaded once it is back.");
    }
    let uploader = Arc::new(Uploader {
        catalog: catalog.clone(),
        store,
        vault,
        limiter: Arc::new(RateLimiter::new(&cfg.upload)),
        storage_class: cfg.store.storage_class.clone(),
        retry_initial: Duration::from_secs(cfg.upload.retry_initial_secs),
        retry_max: Duration::from_secs(cfg.upload.retry_max_secs),
        metrics: crate::metrics::PipelineMetrics::default(),
    });
    Ok(Pipeline {
        catalog,
        capturer: Arc::new(Capturer::new(cfg)?),
        uploader,
        _lock: lock,
    })
}

pub async fn serve_until(cfg: Config, stop: CancellationToken) -> Result<()> {
    let p = open_pipeline(&cfg).await?;
    info!(store = %p.uploader.store.describe(), catalog = %p.catalog.path().display(), "camvault serving");
    let wake = Arc::new(Notify::new());

    let watcher = {
        let (cap, cat, wake, stop) = (p.capturer.clone(), p.catalog.clone(), wake.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            if let Err(e) = crate::inbox::run_blocking(cap, cat, wake, stop.clone()) {
                error!("inbox watcher stopped: {e:#}");
                stop.cancel();
            }
        })
    };
    let uploads = tokio::spawn(upload::run(
        p.uploader.clone(),
        cfg.upload.concurrency,
        wake.clone(),
        stop.clone(),
    ));
    let keeper = {
        let (cat, stop) = (p.catalog.clone(), stop.clone());
        let keeper = CacheKeeper::new(&cfg);
        let every = Duration::from_secs(cfg.cache.interval_secs);
        tokio::spawn(async move {
            let mut streak = Streak::new("cache keeper", Duration::from_secs(3600));
            loop {
                let (k, c) = (&keeper, cat.clone());
                let now = jiff::Timestamp::now().as_millisecond();
                match tokio::task::block_in_place(|| k.pass(&c, now, &cache::free_bytes)) {
                    Ok(_) => streak.ok(),
                    Err(e) => streak.failed(&e),
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(streak.wait(every)) => {}
                }
            }
        })
    };
    let mut daemons = Vec::new();
    {
        let (cfg, up, stop) = (cfg.clone(), p.uploader.clone(), stop.clone());
        let backup_every_ms = cfg.health.catalog_backup_hours as i64 * 3_600_000;
        let (verify_days, verify_sample) = (cfg.verify.period_days, cfg.verify.deep_sample);
        daemons.push(tokio::spawn(async move {
            loop {
                if let Err(e) = crate::manifest::write_due(&up.catalog, &*up.store, crate::clock::now()).await {
                    warn!("daily manifests: {e:#} (retried within the hour)");
                }
                if let Err(e) = crate::backup::run_if_due(&up.catalog, &*up.store, backup_every_ms).await {
                    warn!("catalog backup: {e:#} (retried within the hour)");
                }
                let total = up
                    .catalog
                    .summary()
                    .map(|s| s.verified.files + s.uploaded.files)
                    .unwrap_or(0);
                let batch = (total / (verify_days * 24).max(1) + 1) as usize;
                match crate::verify::scheduled(&up.catalog, &*up.store, batch, verify_sample).await {
                    Ok((_, bad)) if bad > 0 => warn!("scheduled verification: {bad} object(s) missing or different"),
                    Ok(_) => {}
                    Err(e) => warn!("scheduled verification: {e:#}"),
                }
                if let Err(e) = crate::tiers::check(&cfg, &up.catalog, &*up.store).await {
                    warn!("tiering check: {e:#}");
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(crate::clock::period(Duration::from_secs(3600))) => {}
                }
            }
        }));
    }
    {
        let (cfg, cat, stop) = (cfg.clone(), p.catalog.clone(), stop.clone());
        daemons.push(tokio::spawn(async move {
            let client = crate::alerts::channels::client();
            let every = Duration::from_secs(cfg.alerts.interval_secs);
            // Channels down: evaluations back off (up to an hour apart) instead of resending
            // every interval; run_once fails when no channel took anything.
            let mut streak = Streak::new("alerts", Duration::from_secs(3600));
            loop {
                match crate::alerts::run_once(&cfg, &cat, &client).await {
                    Ok(_) => streak.ok(),
                    Err(e) => streak.failed(&e),
                }
                let wait = streak.wait(every);
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }));
    }
    let restore_wake = Arc::new(Notify::new());
    {
        // Restores: requests, polls, downloads; and the periodic drill.
        let (cfg, up, stop, wake) = (cfg.clone(), p.uploader.clone(), stop.clone(), restore_wake.clone());
        daemons.push(tokio::spawn(async move {
            let mut streak = Streak::new("restores", Duration::from_secs(3600));
            loop {
                let now = crate::clock::now().as_millisecond();
                match crate::restore::step(&cfg, &up.catalog, &*up.store, now).await {
                    Ok(p) => {
                        streak.ok();
                        if p.finished_restores > 0 {
                            info!("{} restore(s) finished", p.finished_restores)
                        }
                    }
                    Err(e) => streak.failed(&e),
                }
                match crate::restore::drill_if_due(&cfg, &up.catalog, &*up.store, now).await {
                    Ok(Some(id)) => info!("restore drill #{id} started"),
                    Ok(None) => {}
                    Err(e) => warn!("restore drill: {e:#}"),
                }
                let next = up.catalog.next_restore_poll_ms().ok().flatten().unwrap_or(i64::MAX);
                let wait = next.saturating_sub(now).clamp(1_000, 60_000) as u64;
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(streak.wait(Duration::from_millis(wait))) => {}
                    // A restore started in the web interface is requested at once.
                    _ = wake.notified() => {}
                }
            }
        }));
    }
    if cfg.samba.manage || cfg.samba_password().ok().flatten().is_some() {
        // The share must keep refusing deletes: prove it hourly, as `samba check` does.
        let (cfg, cat, stop) = (cfg.clone(), p.catalog.clone(), stop.clone());
        daemons.push(tokio::spawn(async move {
            // smbd needs a moment after start; a check before that would be a false alarm.
            let mut wait = Duration::from_secs(120);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
                wait = Duration::from_secs(3600);
                let c = cfg.clone();
                match tokio::task::spawn_blocking(move || crate::samba::check::verdict(&c)).await {
                    Ok(Ok(v)) => {
                        if let Some(why) = &v {
                            warn!("{why}");
                        }
                        if let Err(e) = cat.kv_set(crate::samba::check::SHARE_PROBE, v.as_deref().unwrap_or("")) {
                            warn!("recording the share check: {e:#}");
                        }
                    }
                    Ok(Err(e)) => warn!("cannot check the share: {e:#}"),
                    Err(e) => warn!("share check: {e}"),
                }
            }
        }));
    }
    if cfg.http.enabled {
        {
            let (cfg, cat, pm, stop) = (cfg.clone(), p.catalog.clone(), p.uploader.metrics.clone(), stop.clone());
            let (store, wake) = (p.uploader.store.clone(), restore_wake.clone());
            daemons.push(tokio::spawn(async move {
                // Capture and upload go on without it: losing metrics must not lose clips.
                if let Err(e) = crate::web::serve(cfg, cat, pm, store, wake, stop).await {
                    error!("HTTP endpoint not available: {e:#}");
                }
            }));
        }
        // Thumbnails for the web interface, right after capture.
        let (cfg, cat, stop) = (cfg.clone(), p.catalog.clone(), stop.clone());
        daemons.push(tokio::spawn(crate::web::thumbs::run(
            cfg,
            cat,
            p.uploader.store.clone(),
            Duration::from_secs(2),
            stop,
        )));
    }
    if cfg.samba.manage {
        let conf = crate::samba::manage::prepare(&cfg)?;
        daemons.push(tokio::spawn(crate::samba::manage::supervise(
            "smbd",
            conf.clone(),
            stop.clone(),
        )));
        if cfg.samba.netbios {
            daemons.push(tokio::spawn(crate::samba::manage::supervise(
                "nmbd",
                conf,
                stop.clone(),
            )));
        }
    }
    // The video index: its own low-priority worker, off the capture/upload path.
    daemons.extend(crate::index::worker::spawn(
        &cfg,
        p.catalog.clone(),
        p.uploader.store.clone(),
        stop.clone(),
    ));
    {
        // serve's own memory and CPU, for `status` and the `resources` health rule.
        let (cfg, cat, stop) = (cfg.clone(), p.catalog.clone(), stop.clone());
        daemons.push(tokio::spawn(crate::selfwatch::run(
            cfg,
            cat,
            crate::selfwatch::EVERY,
            stop,
        )));
    }
    let audit = {
        let (cat, stop) = (p.catalog.clone(), stop.clone());
        let reader = crate::samba::audit::AuditReader::new(&cfg.samba_audit_log());
        tokio::spawn(async move {
            let mut streak = Streak::new("reading the share's audit log", Duration::from_secs(300));
            loop {
                match tokio::task::block_in_place(|| reader.poll(&cat)) {
                    Ok(_) => streak.ok(),
                    Err(e) => streak.failed(&e),
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(streak.wait(Duration::from_secs(1))) => {}
                }
            }
        })
    };
    stop.cancelled().await;
    let _ = tokio::join!(watcher, uploads, keeper, audit);
    for d in daemons {
        let _ = d.await;
    }
    info!("camvault stopped cleanly");
    Ok(())
}
