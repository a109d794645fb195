//! `camvault mirror`: the mirror stores of `[[store.mirror]]` (issue 21, docs/mirrors.md).
//!
//! `mirror init NAME` writes the marker that tells a disk mirror's mounted disk from an
//! empty mount point (`mirror::disk`); without it `serve` treats the mirror as away.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Subcommand;

use crate::config::{Config, StoreKind};

#[derive(Subcommand)]
pub(super) enum MirrorCommand {
    /// Mark a disk mirror's folder (on the mounted disk) as that mirror's: writes
    /// `<root>/.camvault/mirror`. Run once per disk, with the disk mounted; `serve` copies
    /// to a disk mirror only while its marker is there
    Init {
        /// The mirror's `name` in `[[store.mirror]]`
        name: String,
    },
}

pub(super) fn run(cfg: Config, command: MirrorCommand) -> Result<ExitCode> {
    match command {
        MirrorCommand::Init { name } => init(&cfg, &name),
    }
}

fn init(cfg: &Config, name: &str) -> Result<ExitCode> {
    let Some(m) = cfg.store.mirror.iter().find(|m| m.name == name) else {
        let known: Vec<&str> = cfg.store.mirror.iter().map(|m| m.name.as_str()).collect();
        bail!(
            "no `[[store.mirror]]` named {name:?} in {} (mirrors: {}); add it to the config first (docs/mirrors.md)",
            cfg.source.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    if m.kind != StoreKind::Fs {
        bail!("mirror {name:?} is not a disk (`kind = \"fs\"`): only disk mirrors have a marker");
    }
    let root = cfg.mirror_root(m);
    let marker = crate::mirror::disk::init(&root, name)?;
    println!(
        "{} marks {} as mirror {name:?}; `serve` copies every recording there while it is mounted",
        marker.display(),
        root.display()
    );
    Ok(ExitCode::SUCCESS)
}
