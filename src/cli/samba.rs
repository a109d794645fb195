//! `camvault samba config` and `camvault samba check`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::samba::{self, check};

pub fn config(cfg: &Config, write: Option<Option<&Path>>) -> Result<ExitCode> {
    let text = samba::render(cfg)?;
    match write {
        Some(path) => {
            let path = path.map(Path::to_path_buf).unwrap_or_else(|| cfg.samba_config_file());
            let path = path.as_path();
            if cfg.samba.manage {
                samba::manage::create_state_dirs(cfg)?;
            }
            // smbd does not create the folder of its log: without it, no audit lines.
            if let Some(dir) = cfg.samba_audit_log().parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote {}", path.display());
            let owner = samba::owner::resolve(cfg)?;
            if rustix::process::geteuid().is_root() && owner.uid.is_some() && owner.gid.is_some() {
                let n = samba::owner::fix_inbox(cfg, &owner)?;
                println!(
                    "the inbox {} belongs to {}:{}, mode {:o} ({n} folder(s) changed)",
                    cfg.inbox().display(),
                    owner.user,
                    owner.group,
                    samba::owner::DIR_MODE
                );
            } else {
                for p in samba::owner::inbox_problems(cfg, &owner) {
                    println!("WARN  inbox: {p}");
                }
            }
        }
        None => print!("{text}"),
    }
    if !cfg.samba.manage {
        println!();
        for line in samba::GLOBAL_WARNING.lines() {
            println!("{line}");
        }
    }
    println!();
    for line in samba::setup_steps(cfg).lines() {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn check(cfg: &Config) -> Result<ExitCode> {
    let mut findings = Vec::new();
    let (path, grace) = check::check_config(cfg, &mut findings)?;
    let config_ok = findings.iter().all(|f| f.ok);
    let probed = if path.is_some() {
        check::probe(cfg, path.as_deref(), grace, &mut findings)
    } else {
        Ok(())
    };
    for f in &findings {
        println!("{}  {}", if f.ok { "ok  " } else { "FAIL" }, f.what);
    }
    if let Err(e) = probed {
        println!("FAIL  live check over SMB: {e:#}");
        return Ok(ExitCode::from(1));
    }
    if findings.iter().all(|f| f.ok) {
        println!("\nthe share refuses deletes, renames and overwrites of recordings older than {grace} s.");
        Ok(ExitCode::SUCCESS)
    } else {
        if !config_ok {
            if cfg.samba.manage {
                println!(
                    "\nfix: restart `camvault serve`, which writes {} and restarts smbd",
                    cfg.samba_config_file().display()
                );
            } else {
                println!(
                    "\nfix: `camvault samba config --write`, make sure {} includes {}, then `systemctl restart smbd`",
                    cfg.samba_running_config().display(),
                    cfg.samba_config_file().display()
                );
            }
        }
        Ok(ExitCode::from(1))
    }
}
