//! `[samba] manage = true`: `serve` runs smbd (and nmbd) itself.
//!
//! The generated configuration is written to `samba.config_file` at start, each daemon
//! runs in the foreground as a child, a daemon that dies is restarted with exponential
//! backoff, and both are stopped (SIGTERM, then SIGKILL) when `serve` shuts down.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::Config;

/// Creates the state folders managed smbd needs (`smbpasswd` needs them too).
pub fn create_state_dirs(cfg: &Config) -> Result<()> {
    let state = cfg.samba_state();
    for d in ["private", "lock", "state", "cache", "run/ncalrpc"] {
        let dir = state.join(d);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(())
}

/// Writes the configuration and the state folders managed smbd needs, and (as root) gives
/// the inbox to the share's unprivileged owner. Refuses a share that would act as root.
pub fn prepare(cfg: &Config) -> Result<PathBuf> {
    let text = super::render(cfg)?;
    create_state_dirs(cfg)?;
    let owner = super::owner::resolve(cfg)?;
    if rustix::process::geteuid().is_root() {
        let n = super::owner::fix_inbox(cfg, &owner)?;
        if n > 0 {
            info!(
                "gave {n} inbox folder(s) to the share's user {}:{}",
                owner.user, owner.group
            );
        }
    } else {
        for p in super::owner::inbox_problems(cfg, &owner) {
            warn!("inbox: {p}; fix: {}", super::owner::fix_commands(&cfg.inbox(), &owner));
        }
    }
    let conf = cfg.samba_config_file();
    if let Some(parent) = conf.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&conf, text).with_context(|| format!("cannot write {}", conf.display()))?;
    Ok(conf)
}

/// Runs `program` until `stop`, restarting it with backoff whenever it exits.
pub async fn supervise(program: &'static str, conf: PathBuf, stop: CancellationToken) {
    let path = super::check::find(program);
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = tokio::time::Instant::now();
        let spawned = Command::new(&path)
            .args(["--foreground", "--no-process-group", "-s"])
            .arg(&conf)
            .stdin(std::process::Stdio::null())
            // Its own process group: on shutdown smbd signals its whole group, which
            // would otherwise be camvault (and whatever started camvault).
            .process_group(0)
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(c) => {
                info!(pid = c.id(), "{program} started with {}", conf.display());
                c
            }
            Err(e) => {
                error!(
                    "cannot start {} ({e}); install Samba (apt-get install samba) or set samba.manage = false",
                    path.display()
                );
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(60)) => continue,
                }
            }
        };
        tokio::select! {
            _ = stop.cancelled() => {
                terminate(&mut child, program).await;
                return;
            }
            status = child.wait() => {
                if started.elapsed() > Duration::from_secs(60) {
                    backoff = Duration::from_secs(1);
                }
                warn!("{program} exited ({status:?}); restarting in {} s", backoff.as_secs());
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

async fn terminate(child: &mut Child, program: &str) {
    if let Some(pid) = child.id() {
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
    if tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    info!("{program} stopped");
}
