//! `camvault doctor`: checks the setup and says what to fix.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::cache::free_bytes;
use crate::catalog::Catalog;
use crate::config::{human_bytes, Config};

#[derive(Default)]
struct Report {
    failures: usize,
    warnings: usize,
}

impl Report {
    fn ok(&mut self, what: &str) {
        println!("ok    {what}");
    }
    fn warn(&mut self, what: &str, fix: &str) {
        self.warnings += 1;
        println!("WARN  {what}\n      -> {fix}");
    }
    fn fail(&mut self, what: &str, fix: &str) {
        self.failures += 1;
        println!("FAIL  {what}\n      -> {fix}");
    }
}

fn writable_dir(r: &mut Report, name: &str, dir: &Path, key: &str) -> bool {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {
            let probe = dir.join(format!(".camvault-doctor.{}", std::process::id()));
            match std::fs::write(&probe, b"") {
                Ok(()) => {
                    let _ = std::fs::remove_file(&probe);
                    r.ok(&format!("{name} {} exists and is writable", dir.display()));
                    true
                }
                Err(e) => {
                    r.fail(
                        &format!("{name} {} is not writable: {e}", dir.display()),
                        "give the user camvault runs as write access (chown/chmod)",
                    );
                    false
                }
            }
        }
        Ok(_) => {
            r.fail(
                &format!("{name} {} is not a directory", dir.display()),
                &format!("fix `{key}`"),
            );
            false
        }
        Err(e) => {
            r.fail(
                &format!("{name} {} cannot be read: {e}", dir.display()),
                &format!("run `camvault init`, create it, or fix `{key}`"),
            );
            false
        }
    }
}

pub fn run(cfg: Config) -> Result<ExitCode> {
    let mut r = Report::default();
    r.ok(&format!("config {} is valid", cfg.source.display()));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cfg.source)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        if cfg.holds_secrets() && mode & 0o077 != 0 {
            r.fail(
                &format!(
                    "config {} holds secrets but is readable by others (mode {mode:o})",
                    cfg.source.display()
                ),
                &format!("chmod 600 {}", cfg.source.display()),
            );
        }
        let files = [
            ("store.oss.credentials_file", cfg.oss_credentials_file()),
            ("store.s3.credentials_file", cfg.s3_credentials_file()),
        ];
        for (key, path) in files {
            let Some(p) = path else { continue };
            match std::fs::metadata(&p) {
                Ok(m) if m.permissions().mode() & 0o077 != 0 => r.warn(
                    &format!(
                        "`{key}` {} is readable by others (mode {:o})",
                        p.display(),
                        m.permissions().mode() & 0o777
                    ),
                    &format!("chmod 600 {}", p.display()),
                ),
                Ok(_) => {}
                Err(e) => r.fail(
                    &format!("`{key}` {}: {e}", p.display()),
                    &format!("create it or fix `{key}`"),
                ),
            }
        }
    }
    // The cameras polled over miIO: address, token (file mode 0600), memory-card ids.
    match crate::miio::camera::targets(&cfg) {
        Ok(t) if !t.is_empty() => r.ok(&format!("{} camera(s) configured for SD card and NAS sync monitoring over miIO (`camvault camera probe CAMERA` asks one now)", t.len())),
        Ok(_) => {}
        Err(e) => r.fail(&format!("{e:#}"), "see docs/monitoring.md, section 4"),
    }
    let modes = crate::modes::findings(&cfg);
    if !modes.iter().any(|f| f.fail) {
        r.ok("footage, catalog and restores are readable by camvault's user only");
    }
    for f in modes {
        if f.fail {
            r.fail(&f.what, &f.fix);
        } else {
            r.warn(&f.what, &f.fix);
        }
    }
    let (inbox, vault, store) = (cfg.inbox(), cfg.vault(), cfg.fs_root());
    let inbox_ok = writable_dir(&mut r, "inbox", &inbox, "paths.inbox");
    let vault_ok = writable_dir(&mut r, "vault", &vault, "paths.vault");
    if cfg.store.kind == crate::config::StoreKind::Fs {
        writable_dir(&mut r, "store", &store, "store.fs.root");
    }

    if inbox_ok && vault_ok {
        let (a, b) = (std::fs::metadata(&inbox)?, std::fs::metadata(&vault)?);
        if a.dev() == b.dev() {
            let src = vault.join(format!(".camvault-doctor-link.{}", std::process::id()));
            let dst = src.with_extension("b");
            let linked = std::fs::write(&src, b"x").and_then(|_| std::fs::hard_link(&src, &dst));
            let _ = (std::fs::remove_file(&src), std::fs::remove_file(&dst));
            match linked {
                Ok(()) => r.ok(
                    "inbox and vault share a filesystem with hard links: capture is instant and uses no extra space",
                ),
                Err(e) => r.warn(
                    &format!("the vault's filesystem refuses hard links ({e}): capture copies every file"),
                    "put the vault on a Linux filesystem (ext4, xfs, btrfs)",
                ),
            }
        } else {
            r.warn(
                "inbox and vault are on different filesystems: capture copies each file instead of hard-linking it (slower, twice the space)",
                "put `paths.vault` on the same disk as `paths.inbox`",
            );
        }
    }

    match Catalog::open(&cfg.catalog(), false) {
        Ok(cat) => match cat.quick_check() {
            Ok(s) if s == "ok" => {
                let sum = cat.summary()?;
                r.ok(&format!(
                    "catalog {} is healthy ({} files, {} failing)",
                    cfg.catalog().display(),
                    sum.captured.files + sum.uploaded.files + sum.verified.files + sum.failed.files,
                    sum.failed.files
                ));
                if sum.failed.files > 0 {
                    r.warn(
                        &format!("{} file(s) are failing to upload or verify", sum.failed.files),
                        "see `camvault status` for the errors",
                    );
                }
            }
            Ok(s) => r.fail(
                &format!("catalog check reports: {s}"),
                "stop camvault, move the catalog aside and restore a backup",
            ),
            Err(e) => r.fail(&format!("{e:#}"), "stop camvault and restore the catalog from a backup"),
        },
        Err(e) => r.fail(&format!("{e:#}"), "run `camvault init` or fix `paths.catalog`"),
    }

    let min_free = cfg.cache.min_free.0;
    for (name, dir) in [("inbox/vault disk", &vault), ("store disk", &store)] {
        if let Some(f) = free_bytes(dir) {
            if f < min_free {
                r.warn(
                    &format!("{name} has {} free, below `cache.min_free` = {}", human_bytes(f), human_bytes(min_free)),
                    "free space, or lower `cache.max_bytes` / `cache.max_days` so verified clips leave the cache sooner",
                );
            } else {
                r.ok(&format!("{name} has {} free", human_bytes(f)));
            }
        }
    }

    let rt = super::runtime()?;
    match crate::store::open(&cfg) {
        Ok(s) => match rt.block_on(s.check()) {
            Ok(()) => {
                r.ok(&format!("{} is reachable and writable", s.describe()));
                match rt.block_on(s.worm()) {
                    Ok(crate::store::WormStatus::Unsupported(_)) => {}
                    Ok(crate::store::WormStatus::Described { good: false, line }) => {
                        r.warn(&line, "see `camvault store test`")
                    }
                    Ok(w @ crate::store::WormStatus::Configured(_)) if !w.summary().0 => {
                        r.warn(&w.summary().1, "run `camvault store worm --lock` (irreversible)")
                    }
                    Ok(w) if !w.summary().0 => r.warn(
                        &w.summary().1,
                        "`camvault store worm --days N`, then `--lock`, makes recordings undeletable for N days",
                    ),
                    Ok(w) => r.ok(&w.summary().1),
                    Err(e) => r.warn(
                        &format!("cannot read the bucket's WORM: {e}"),
                        "give the access key oss:GetBucketWorm",
                    ),
                }
                match rt.block_on(s.bucket_settings()) {
                    Ok(Some(b)) => {
                        for f in crate::store::settings::findings(&cfg, &b) {
                            if f.bad {
                                r.warn(&f.what, &f.fix);
                            } else {
                                r.ok(&f.what);
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(e) => r.warn(
                        &format!("cannot read the bucket's settings: {e}"),
                        "give the access key oss:GetBucketInfo (s3:GetBucketVersioning, s3:GetBucketLocation)",
                    ),
                }
                for (good, line) in rt.block_on(super::store::replication_lines(&cfg, &*s)) {
                    if good {
                        r.ok(&line);
                    } else {
                        r.warn(&line, "see docs/mirrors.md, \"A replica as a read-only mirror\"");
                    }
                }
                // Every prefix holding recordings under a rule to the archive class.
                let cat = crate::catalog::Catalog::open(&cfg.catalog(), false).ok();
                match rt.block_on(crate::tiers::lifecycle_problem(&cfg, cat.as_ref(), &*s)) {
                    Ok(None) => r.ok("every prefix holding recordings is under a lifecycle rule to the archive class"),
                    // A rule that deletes recordings is a failure; recordings left in
                    // Standard cost money but lose nothing.
                    Ok(Some(p)) if p.key == "health.detail.lifecycle_deletes" => r.fail(
                        &p.en(),
                        "remove the expiration from that rule in the bucket's lifecycle settings",
                    ),
                    Ok(Some(p)) => r.warn(
                        &p.en(),
                        "run `camvault lifecycle check` for the details, then `camvault lifecycle apply`",
                    ),
                    Err(e) => r.warn(
                        &format!("cannot read the bucket's lifecycle rules: {e:#}"),
                        "give the access key the right to read them",
                    ),
                }
            }
            Err(e) => r.fail(&format!("{}: {e}", s.describe()), "fix the `[store]` section"),
        },
        Err(e) => r.fail(&format!("{e:#}"), "fix the `[store]` section"),
    }
    for line in rt.block_on(super::doctor_mirrors::check(&cfg)) {
        match line {
            super::doctor_mirrors::Line::Ok(w) => r.ok(&w),
            super::doctor_mirrors::Line::Warn(w, fix) => r.warn(&w, &fix),
            super::doctor_mirrors::Line::Fail(w, fix) => r.fail(&w, &fix),
        }
    }

    let (_, zone) = cfg.default_zone();
    r.ok(&format!(
        "default camera time zone: {zone}{}",
        if cfg.capture.timezone.is_none() {
            " (this machine's)"
        } else {
            ""
        }
    ));
    if cfg.cameras.is_empty() {
        r.warn(
            "no cameras configured: cameras are named by their MAC and use the default zone",
            "add a [cameras.<MAC>] section with `name` and `timezone` for each camera",
        );
    }
    if super::which("ffmpeg").is_none() {
        r.warn(
            "ffmpeg is not installed: the demo writes placeholder clips",
            "apt-get install ffmpeg",
        );
    } else {
        r.ok("ffmpeg is installed");
    }
    // The index's detector: loaded here as the indexer will (issue 15, item 2).
    if cfg.index.enabled {
        match crate::index::detector::Detector::from_config(&cfg) {
            Ok(Some(d)) => r.ok(&format!(
                "detector {} loads ({}×{} input, {} classes, names from {})",
                d.path.display(),
                d.input.0,
                d.input.1,
                d.layout.classes(),
                d.names_from
            )),
            Ok(None) => {}
            Err(e) => r.fail(
                &format!("{e:#}"),
                "without a usable model the index runs without labels (docs/index.md, \"Objects\")",
            ),
        }
    }

    println!();
    if r.failures > 0 {
        println!("{} problem(s) to fix, {} warning(s).", r.failures, r.warnings);
        Ok(ExitCode::from(1))
    } else {
        println!("all good ({} warning(s)).", r.warnings);
        Ok(ExitCode::SUCCESS)
    }
}
