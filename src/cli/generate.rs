//! `camvault generate man|completions DIR` (hidden): the man pages and shell completions the
//! Debian package installs, generated from the same clap definition as `--help`, so they
//! cannot drift from it. Run at package build time (debian/build.sh), not in a build.rs,
//! so that ordinary builds do not pay for it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// The version `--version` prints: the crate's, and the commit when the build was given one
/// (`CAMVAULT_COMMIT`, set by debian/build.sh from `git describe`; cargo rebuilds when it changes).
pub fn version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| match option_env!("CAMVAULT_COMMIT") {
        Some(c) if !c.is_empty() => format!("{} (commit {c})", env!("CARGO_PKG_VERSION")),
        _ => format!(
            "{} (commit unknown: built without CAMVAULT_COMMIT)",
            env!("CARGO_PKG_VERSION")
        ),
    })
}

/// Writes `camvault.1` and one page per subcommand (`camvault-serve.1`, ...) into `dir`.
pub fn man(dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd, dir).with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    println!("man pages written to {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes the bash, zsh and fish completions into `dir` (`camvault.bash`, `_camvault`, `camvault.fish`).
pub fn completions(dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = Cli::command();
        clap_complete::generate_to(shell, &mut cmd, "camvault", dir)
            .with_context(|| format!("cannot write the {shell} completion into {}", dir.display()))?;
    }
    println!("completions written to {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Whether stderr is connected to the systemd journal: `$JOURNAL_STREAM` names the journal
/// stream's `device:inode`, and it only counts when it is still stderr (a child of the
/// service may have redirected it; systemd.exec(5), "$JOURNAL_STREAM").
pub fn stderr_is_journal() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let Ok(meta) = rustix::fs::fstat(std::io::stderr()) else {
        return false;
    };
    dev.parse().ok() == Some(meta.st_dev) && ino.parse().ok() == Some(meta.st_ino)
}
