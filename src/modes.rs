//! Who may read camvault's data: the service user only.
//!
//! Footage, thumbnails, restores and the catalog (which names every recording) are for the
//! user camvault runs as. camvault sets its umask to 077 at start, so everything it (and the
//! ffmpeg it runs) creates is 0600/0700; `doctor` checks what exists, including what older
//! versions created 0644/0755, and says what to run. The exceptions are deliberate: the
//! data directory itself (0711, so the share's user can reach the inbox) and the inbox
//! (2770, the share's user and camvault's group: see `samba::owner`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::{Config, StoreKind};

/// The umask camvault runs with: nothing for group or others.
pub const UMASK: u32 = 0o077;

/// Sets the process umask (inherited by smbd and ffmpeg children).
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(UMASK));
}

/// One thing `doctor` reports: `fail` = others can read data; else a warning.
pub struct Finding {
    pub fail: bool,
    pub what: String,
    pub fix: String,
}

/// What in the data directory others can read, and what is wrong with the inbox.
pub fn findings(cfg: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    let mode = |p: &Path| std::fs::metadata(p).ok().map(|m| m.permissions().mode() & 0o7777);
    if !cfg.http.password_hash.0.is_empty() {
        if let Some(m) = mode(&cfg.source).filter(|m| m & 0o077 != 0) {
            out.push(Finding {
                fail: true,
                what: format!(
                    "config {} holds `http.password_hash` but is readable by others (mode {m:o}): anyone on the box can try to crack the web password offline",
                    cfg.source.display()
                ),
                fix: format!("chmod 600 {}", cfg.source.display()),
            });
        }
    }
    let mut dirs: Vec<(&str, PathBuf)> = vec![
        ("paths.vault", cfg.vault()),
        ("http.cache_dir", cfg.web_cache()),
        ("restore.dir", cfg.restore_dir()),
        ("samba.state_dir", cfg.samba_state()),
    ];
    if cfg.store.kind == StoreKind::Fs {
        dirs.push(("store.fs.root", cfg.fs_root()));
    }
    for (key, dir) in dirs {
        if let Some(m) = mode(&dir).filter(|m| m & 0o077 != 0) {
            out.push(Finding {
                fail: true,
                what: format!(
                    "`{key}` {} is open to other users (mode {m:o}): they can read footage or its metadata",
                    dir.display()
                ),
                // The folder alone is enough: nobody else can reach what is below it.
                fix: format!("chmod 700 {}", dir.display()),
            });
        }
    }
    let catalog = cfg.catalog();
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", catalog.display()));
        if let Some(m) = mode(&p).filter(|m| m & 0o077 != 0) {
            out.push(Finding {
                fail: true,
                what: format!("catalog {} is readable by others (mode {m:o})", p.display()),
                fix: format!("chmod 600 {}*", catalog.display()),
            });
        }
    }
    let inbox = cfg.inbox();
    match crate::samba::owner::resolve(cfg) {
        Ok(owner) => {
            let fix = crate::samba::owner::fix_commands(&inbox, &owner);
            if let Some(m) = mode(&inbox).filter(|m| m & 0o007 != 0) {
                out.push(Finding {
                    fail: true,
                    what: format!("the inbox {} is open to every local user (mode {m:o})", inbox.display()),
                    fix: fix.clone(),
                });
            }
            for p in crate::samba::owner::inbox_problems(cfg, &owner) {
                out.push(Finding {
                    fail: false,
                    what: format!("inbox: {p}"),
                    fix: format!("{fix}   (as root; `camvault samba config --write` does it)"),
                });
            }
        }
        Err(e) => out.push(Finding {
            fail: true,
            what: format!("{e:#}"),
            fix: "fix the `[samba]` section".into(),
        }),
    }
    out
}
