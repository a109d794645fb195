//! `camvault init`: a new data directory with a commented config and every folder.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::catalog::Catalog;
use crate::config::{Config, TEMPLATE};

pub fn run(dir: &Path, force: bool) -> Result<ExitCode> {
    let cfg = create(dir, force, TEMPLATE)?;
    println!("camvault data directory ready: {}", dir.display());
    println!("  config   {}", cfg.source.display());
    println!(
        "  inbox    {}   <- point the camera's SMB share here",
        cfg.inbox().display()
    );
    println!("  vault    {}", cfg.vault().display());
    println!("  store    {}", cfg.fs_root().display());
    println!("  catalog  {}", cfg.catalog().display());
    println!();
    println!(
        "Next: edit the config (cameras, store), then `camvault --config {} doctor` and `... serve`.",
        cfg.source.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes `DIR/camvault.toml` from `text` and creates what it names.
pub fn create(dir: &Path, force: bool, text: &str) -> Result<Config> {
    let path = dir.join(crate::config::DEFAULT_FILE);
    if path.exists() && !force {
        bail!(
            "{} already exists; refusing to overwrite it (pass --force to replace it with the defaults)",
            path.display()
        );
    }
    let new_dir = !dir.exists();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if new_dir {
        // Others may pass through (the share's user reaches the inbox) but not list or read.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
            .with_context(|| format!("cannot chmod {}", dir.display()))?;
    }
    let mut cfg = Config::parse(text)?;
    cfg.source = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
    for d in [cfg.inbox(), cfg.vault(), cfg.fs_root()] {
        std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    // 0600: the config is where people put their store's secrets.
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Catalog::open(&cfg.catalog(), true)?;
    Ok(cfg)
}
