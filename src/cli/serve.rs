//! `camvault serve`: runs every stage as a named worker on one runner
//! ([`crate::workers`]) until SIGINT or SIGTERM, then shuts down within
//! [`SHUTDOWN_DEADLINE`].
//!
//! The workers, in the order they start (`status`, `/api/status` and `/metrics` show each
//! one's runs, failures, last success and last error):
//!
//! | worker | schedule | job |
//! |---|---|---|
//! | `inbox` | service | watch the inbox (inotify + rescan), capture settled files |
//! | `uploads` | service, woken by capture | upload and verify due files |
//! | `upload:<mirror>` | service, one per `[[store.mirror]]` | copy and verify to that mirror ([`crate::mirror`]) |
//! | `scrub:<mirror>` | hourly, first after 10 min | re-check that mirror's copies (all every `verify.period_days`), copy lost ones again |
//! | `cache` | `cache.interval_secs` | purge verified local copies past the cache limits |
//! | `manifests` | hourly | write the daily manifests that are due |
//! | `catalog-backup` | hourly | back the catalog up when `health.catalog_backup_hours` is due |
//! | `verify` | hourly | re-verify a batch (all objects every `verify.period_days`) |
//! | `tiers` | hourly | check storage classes and the lifecycle rules |
//! | `alerts` | `alerts.interval_secs`, backoff ≤ 1 h | evaluate health, notify channels |
//! | `restores` | at the next poll (1–60 s), or when the web starts one | request, poll, download; the drill |
//! | `share-check` | hourly, first after 2 min (with a share) | prove the share refuses deletes |
//! | `web` | service (`http.enabled`) | the web interface, `/metrics`, the API |
//! | `thumbnails` | every 2 s (`http.enabled`) | the media stage: a frame per new clip, uploaded |
//! | `smbd`, `nmbd` | service (`samba.manage`) | supervise Samba |
//! | `share-audit` | every second, backoff ≤ 5 min | read the share's audit log |
//! | `selfwatch` | every minute | record serve's own resource use and the workers' states |
//!
//! A new worker (the indexer of issue 15, a camera poller) is one more entry in [`workers`].

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cache::{self, CacheKeeper};
use crate::capture::Capturer;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::media::queue::Queue;
use crate::upload::{self, limit::RateLimiter, Uploader};
use crate::workers::{Next, Worker};

/// How long the workers get to finish after SIGTERM before they are abandoned: above the
/// uploads' own 10 s grace for transfers in flight, well below systemd's 90 s stop timeout.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(15);

pub fn run(cfg: Config) -> Result<ExitCode> {
    // Passes and uploads run on the blocking pool (see `crate::workers`): threads it started
    // for a burst (a backlog of uploads) end a second after it, instead of idling on.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_keep_alive(Duration::from_secs(1))
        .build()?;
    let served = rt.block_on(async {
        let stop = CancellationToken::new();
        tokio::spawn(stop_on_signal(stop.clone()));
        serve_until(cfg, stop).await
    });
    // A pass abandoned at the deadline may still hold a blocking-pool thread: do not wait
    // for it (dropping the runtime would).
    rt.shutdown_timeout(Duration::from_secs(1));
    served?;
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
    /// One per `[[store.mirror]]` (issue 21).
    pub mirrors: Vec<Arc<crate::mirror::MirrorUploader>>,
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
    let limiter = Arc::new(RateLimiter::new(&cfg.upload));
    let mirrors = open_mirrors(cfg, &catalog, &vault, &limiter).await?;
    let uploader = Arc::new(Uploader {
        catalog: catalog.clone(),
        store,
        vault,
        limiter,
        storage_class: cfg.store.storage_class.as_str().to_string(),
        retry_initial: Duration::from_secs(cfg.upload.retry_initial_secs),
        retry_max: Duration::from_secs(cfg.upload.retry_max_secs),
        metrics: crate::metrics::PipelineMetrics::default(),
    });
    Ok(Pipeline {
        catalog,
        capturer: Arc::new(Capturer::new(cfg)?),
        uploader,
        mirrors,
        _lock: lock,
    })
}

/// Each mirror's backend and uploader; records the mirrors in the catalog (a new one gets
/// a copy of every recording the vault holds queued). A mirror that is away does not stop
/// `serve`: its worker waits for it. Missing credentials do (as for the main store).
async fn open_mirrors(
    cfg: &Config,
    catalog: &Arc<Catalog>,
    vault: &std::path::Path,
    limiter: &Arc<RateLimiter>,
) -> Result<Vec<Arc<crate::mirror::MirrorUploader>>> {
    use crate::config::StoreKind;
    let mut out = Vec::new();
    for m in &cfg.store.mirror {
        let mc = cfg.for_mirror(m);
        let store = crate::mirror::open_store(cfg, m)?;
        let disk = (m.kind == StoreKind::Fs).then(|| crate::mirror::DiskMirror {
            root: mc.fs_root(),
            min_free: m.min_free.0,
            warn_days: m.warn_days,
            free: Arc::new(cache::free_bytes),
        });
        match &disk {
            // Never `check()` a disk mirror: it writes a probe, and an empty mount point
            // must receive nothing. The marker says whether the disk is there.
            Some(d) => {
                if let Err(why) = crate::mirror::disk::present(&d.root, &m.name) {
                    warn!("{why}");
                }
            }
            None => {
                if let Err(e) = store.check().await {
                    warn!(
                        "mirror {:?} is not usable right now: {e}. Its copies wait; everything else goes on.",
                        m.name
                    );
                }
            }
        }
        info!(mirror = %m.name, store = %store.describe(), "mirror");
        out.push(Arc::new(crate::mirror::MirrorUploader {
            name: m.name.clone(),
            catalog: catalog.clone(),
            store,
            vault: vault.to_path_buf(),
            limiter: (m.kind != StoreKind::Fs).then(|| limiter.clone()),
            storage_class: m.storage_class.as_str().to_string(),
            retry_initial: Duration::from_secs(cfg.upload.retry_initial_secs),
            retry_max: Duration::from_secs(cfg.upload.retry_max_secs),
            disk,
            clock: Default::default(),
            read_only: m.read_only,
        }));
    }
    let names: Vec<&str> = cfg.store.mirror.iter().map(|m| m.name.as_str()).collect();
    let now = jiff::Timestamp::now().as_millisecond();
    for (name, queued) in catalog.sync_mirrors(&names, now)? {
        info!("mirror {name:?} added: {queued} recording(s) in the vault queued for it; older ones have no copy there yet (see `camvault status`)");
    }
    Ok(out)
}

pub async fn serve_until(cfg: Config, stop: CancellationToken) -> Result<()> {
    let p = open_pipeline(&cfg).await?;
    if cfg.http.enabled {
        // A LAN address needs someone who can log in (issue 17): said now, before anything runs.
        crate::web::startup::check_logins(&cfg, &p.catalog, jiff::Timestamp::now().as_millisecond())?;
    }
    info!(store = %p.uploader.store.describe(), catalog = %p.catalog.path().display(), "camvault serving");
    let list = workers(&cfg, &p, &stop)?;
    let names: Vec<&str> = list.iter().map(|w| w.name).collect();
    info!("workers: {}", names.join(", "));
    let board = p.uploader.metrics.workers.clone();
    let late = crate::workers::run(list, &board, stop, SHUTDOWN_DEADLINE).await;
    let cat = p.catalog.clone();
    let _ = crate::workers::blocking(move || {
        crate::selfwatch::clear(&cat);
        cat.kv_set(crate::workers::KEY, "")
    })
    .await;
    if late.is_empty() {
        info!("camvault stopped cleanly");
    } else {
        warn!(
            "camvault stopped; abandoned after {} s: {} (redone at the next start)",
            SHUTDOWN_DEADLINE.as_secs(),
            late.join(", ")
        );
    }
    Ok(())
}

/// `serve`'s workers (see the table in the module doc). `stop` is for passes that check it
/// between items of a long backlog.
pub fn workers(cfg: &Config, p: &Pipeline, stop: &CancellationToken) -> Result<Vec<Worker>> {
    let hour = crate::clock::period(Duration::from_secs(3600));
    // Capture wakes the uploads; the web interface wakes the restores.
    let (wake, restore_wake) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    // Every ffmpeg of this serve: the media stage's and the web's.
    let ffmpeg = Arc::new(Queue::default());
    let (cat, up) = (&p.catalog, &p.uploader);
    let mut w = Vec::new();

    let (cap, c, wk) = (p.capturer.clone(), cat.clone(), wake.clone());
    w.push(Worker::service("inbox", move |stop| async move {
        let s = stop.clone();
        let watched = tokio::task::spawn_blocking(move || crate::inbox::run_blocking(cap, c, wk, s)).await;
        let stopped = match watched {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("panicked: {e}")),
        };
        if stopped.is_err() {
            // Nothing would be captured any more: stop, so the service manager restarts us.
            stop.cancel();
        }
        stopped.context("inbox watcher stopped")
    }));

    let (u, n, wk) = (up.clone(), cfg.upload.concurrency, wake.clone());
    w.push(Worker::service("uploads", move |stop| async move {
        upload::run(u, n, wk, stop).await;
        Ok(())
    }));

    // One uploader per mirror, each on its own: a mirror that is away holds up nothing else.
    for m in &p.mirrors {
        let name: &'static str = Box::leak(crate::mirror::worker_name(&m.name).into_boxed_str());
        let worker = m.clone();
        w.push(Worker::service(name, move |stop| async move {
            crate::mirror::run(worker, stop).await;
            Ok(())
        }));
        // Each copy checked again within `verify.period_days`; a lost one copied again
        // from the best other copy (the stores opened afresh each pass: a disk plugged in
        // since is seen).
        let scrub: &'static str = Box::leak(format!("scrub:{}", m.name).into_boxed_str());
        let (m, main, days, sample, all) = (
            m.clone(),
            up.store.clone(),
            cfg.verify.period_days,
            cfg.verify.deep_sample,
            Arc::new(cfg.clone()),
        );
        w.push(
            Worker::every(scrub, hour, move || {
                let (m, main, all) = (m.clone(), main.clone(), all.clone());
                async move {
                    let verified = m
                        .catalog
                        .copy_counts()?
                        .into_iter()
                        .find(|c| c.store == m.name)
                        .map_or(0, |c| c.verified);
                    let batch = crate::mirror::scrub::batch(verified, days);
                    let mut sources = crate::mirror::sources::Sources::new(&all, &*main);
                    let s = crate::mirror::scrub::pass(&m, &mut sources, batch, sample).await?;
                    if !s.bad.is_empty() {
                        warn!(
                            "mirror {:?}: scrub found {} copy(ies) missing or different, {} copied again",
                            m.name,
                            s.bad.len(),
                            s.recopied
                        );
                    }
                    Ok(Next::Period)
                }
            })
            .after(Duration::from_secs(600)),
        );
    }

    let (keeper, c) = (CacheKeeper::new(cfg), cat.clone());
    w.push(
        Worker::blocking("cache", Duration::from_secs(cfg.cache.interval_secs), move || {
            let now = jiff::Timestamp::now().as_millisecond();
            keeper.pass(&c, now, &cache::free_bytes)?;
            Ok(Next::Period)
        })
        .backoff_max(Duration::from_secs(3600)),
    );

    // The four hourly jobs, once one loop run one after another: each on its own now, so a
    // slow verification no longer holds up the manifests.
    let (u, c) = (up.clone(), cfg.clone());
    w.push(Worker::every("manifests", hour, move || {
        let (u, c) = (u.clone(), c.clone());
        async move {
            // The day's index objects first: the day's manifest names them.
            crate::index::days::write_due(&c, &u.catalog, &*u.store, crate::clock::now()).await?;
            crate::manifest::write_due(&u.catalog, &*u.store, crate::clock::now(), c.index.enabled).await?;
            Ok(Next::Period)
        }
    }));
    let (u, every_ms) = (up.clone(), cfg.health.catalog_backup_hours as i64 * 3_600_000);
    w.push(Worker::every("catalog-backup", hour, move || {
        let u = u.clone();
        async move {
            crate::backup::run_if_due(&u.catalog, &*u.store, every_ms).await?;
            Ok(Next::Period)
        }
    }));
    let (u, days, sample) = (up.clone(), cfg.verify.period_days, cfg.verify.deep_sample);
    w.push(Worker::every("verify", hour, move || {
        let u = u.clone();
        async move {
            // Every object once per `verify.period_days`, an hour's share at a time.
            let s = u.catalog.summary()?;
            let batch = ((s.verified.files + s.uploaded.files) / (days * 24).max(1) + 1) as usize;
            let (_, bad) = crate::verify::scheduled(&u.catalog, &*u.store, batch, sample).await?;
            if bad > 0 {
                warn!("scheduled verification: {bad} object(s) missing or different");
            }
            Ok(Next::Period)
        }
    }));
    let (u, c) = (up.clone(), Arc::new(cfg.clone()));
    w.push(Worker::every("tiers", hour, move || {
        let (u, c) = (u.clone(), c.clone());
        async move {
            crate::tiers::check(&c, &u.catalog, &*u.store).await?;
            Ok(Next::Period)
        }
    }));

    // Channels down: evaluations back off (up to an hour apart) instead of resending every
    // interval; run_once fails when no channel took anything.
    let (c, k, client) = (Arc::new(cfg.clone()), cat.clone(), crate::alerts::channels::client());
    w.push(
        Worker::every("alerts", Duration::from_secs(cfg.alerts.interval_secs), move || {
            let (c, k, client) = (c.clone(), k.clone(), client.clone());
            async move {
                crate::alerts::run_once(&c, &k, &client).await?;
                Ok(Next::Period)
            }
        })
        .backoff_max(Duration::from_secs(3600)),
    );

    // Restores: requests, polls, downloads; and the periodic drill. A restore started in
    // the web interface is requested at once (the wake).
    let (c, u) = (Arc::new(cfg.clone()), up.clone());
    w.push(
        Worker::every("restores", Duration::from_secs(60), move || {
            let (c, u) = (c.clone(), u.clone());
            async move {
                let now = crate::clock::now().as_millisecond();
                let wait = crate::restore::pass(&c, &u.catalog, &*u.store, now).await?;
                Ok(Next::In(wait))
            }
        })
        .wake_on(restore_wake.clone())
        .backoff_max(Duration::from_secs(3600)),
    );

    // The cameras' SD card and NAS sync over miIO (cameras with an address and a token);
    // it schedules each camera itself.
    let (c, k) = (cfg.clone(), cat.clone());
    w.push(Worker::service("miio", move |stop| async move {
        crate::miio::poll::run(c, k, stop).await;
        Ok(())
    }));

    if cfg.samba.manage || cfg.samba_password().ok().flatten().is_some() {
        // The share must keep refusing deletes: prove it hourly, as `samba check` does;
        // smbd needs a moment after start, and a check before that would be a false alarm.
        let (c, k) = (cfg.clone(), cat.clone());
        w.push(
            Worker::blocking("share-check", Duration::from_secs(3600), move || {
                let v = crate::samba::check::verdict(&c).context("cannot check the share")?;
                if let Some(why) = &v {
                    warn!("{why}");
                }
                k.kv_set(crate::samba::check::SHARE_PROBE, &crate::msg::to_stored(v.as_slice()))
                    .context("recording the share check")?;
                Ok(Next::Period)
            })
            .after(Duration::from_secs(120)),
        );
    }

    if cfg.http.enabled {
        let (c, k, pm, st, rw, q) = (
            cfg.clone(),
            cat.clone(),
            up.metrics.clone(),
            up.store.clone(),
            restore_wake.clone(),
            ffmpeg.clone(),
        );
        // Capture and upload go on without it: losing metrics must not lose clips.
        w.push(Worker::service("web", move |stop| async move {
            crate::web::serve(c, k, pm, st, rw, q, stop)
                .await
                .context("HTTP endpoint not available")
        }));
        // The media stage: thumbnails right after capture, for the web interface to serve.
        let every = Duration::from_secs(2);
        let mut stage = crate::media::thumbs::Stage::new(
            cfg.clone(),
            cat.clone(),
            up.store.clone(),
            ffmpeg.clone(),
            every,
            stop.clone(),
        );
        w.push(Worker::blocking("thumbnails", every, move || stage.pass()).backoff_max(Duration::from_secs(60)));
    }

    // The video index: a low-priority stage of its own (ffmpeg at nice 19, idle IO), off
    // the capture and upload path; a clip it cannot read is given up after 3 tries.
    if cfg.index.enabled {
        let (c, k, st, q) = (cfg.clone(), cat.clone(), stop.clone(), ffmpeg.clone());
        let every = Duration::from_secs(cfg.index.interval_secs.max(1));
        // The detector is loaded once, in the worker's first pass (on its blocking thread,
        // a real model takes seconds); a bad model is a health problem, not a stop.
        let mut detector = None;
        w.push(
            Worker::blocking("index", every, move || {
                let d = detector.get_or_insert_with(|| crate::index::worker::load_detector(&c, &k));
                let n = crate::index::worker::pass_with(&c, &k, &st, Some(&q), d.as_ref())?;
                if n > 0 {
                    info!("index: {n} clip(s) indexed");
                }
                Ok(Next::Period)
            })
            .backoff_max(Duration::from_secs(600)),
        );
        // Notifications on activity (`[[index.notify]]`): the freshly indexed clips' segments
        // against the rules; also empties the catalog's list of them when there is no rule.
        let (c, k, client) = (Arc::new(cfg.clone()), cat.clone(), crate::alerts::channels::client());
        w.push(
            Worker::every("notify", every, move || {
                let (c, k, client) = (c.clone(), k.clone(), client.clone());
                async move {
                    let n = crate::index::notify::pass(&c, &k, &client, &crate::index::notify::RETRY_WAITS).await?;
                    if n.sent + n.failed > 0 {
                        info!(
                            "notify: {} sent, {} suppressed, {} failed",
                            n.sent, n.suppressed, n.failed
                        );
                    }
                    Ok(Next::Period)
                }
            })
            .backoff_max(Duration::from_secs(600)),
        );
    }

    if cfg.samba.manage {
        let conf = crate::samba::manage::prepare(cfg)?;
        let daemons: &[&'static str] = if cfg.samba.netbios {
            &["smbd", "nmbd"]
        } else {
            &["smbd"]
        };
        for &program in daemons {
            let conf = conf.clone();
            w.push(Worker::service(program, move |stop| async move {
                crate::samba::manage::supervise(program, conf, stop).await;
                Ok(())
            }));
        }
    }

    let (reader, k) = (
        crate::samba::audit::AuditReader::new(&cfg.samba_audit_log()),
        cat.clone(),
    );
    w.push(
        Worker::blocking("share-audit", Duration::from_secs(1), move || {
            reader.poll(&k).context("reading the share's audit log")?;
            Ok(Next::Period)
        })
        .backoff_max(Duration::from_secs(300)),
    );

    // Last, so that its first record already lists every worker.
    let (mut sampler, k, board) = (
        crate::selfwatch::Sampler::new(cfg.clone()),
        cat.clone(),
        up.metrics.workers.clone(),
    );
    w.push(Worker::blocking("selfwatch", crate::selfwatch::EVERY, move || {
        sampler.pass(&k).context("recording serve's resource use")?;
        crate::workers::record(&k, &board)?;
        Ok(Next::Period)
    }));
    Ok(w)
}
