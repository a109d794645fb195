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
    /// Copy to mirror NAME every recording that left the local cache before the mirror
    /// was added, read back from the main store and checked against the catalog's CRC-64
    /// (recordings still in the cache are copied by `serve`). Archived ones are listed, not
    /// restored. Exit 1 when anything is left
    Backfill {
        /// The mirror's `name` in `[[store.mirror]]`
        name: String,
    },
}

pub(super) fn run(cfg: Config, command: MirrorCommand) -> Result<ExitCode> {
    match command {
        MirrorCommand::Init { name } => init(&cfg, &name),
        MirrorCommand::Backfill { name } => backfill(&cfg, &name),
    }
}

fn backfill(cfg: &Config, name: &str) -> Result<ExitCode> {
    let m = find(cfg, name)?;
    let catalog = std::sync::Arc::new(crate::catalog::Catalog::open(&cfg.catalog(), false)?);
    catalog.sync_mirrors(
        &cfg.store.mirror.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        jiff::Timestamp::now().as_millisecond(),
    )?;
    let up = crate::mirror::backfill::uploader(cfg, m, catalog)?;
    let main = crate::store::open(cfg)?;
    let rt = super::runtime()?;
    let out = rt.block_on(crate::mirror::backfill::run(&up, &*main))?;
    println!(
        "mirror {name:?}: {} recording(s) queued, {} copied and verified ({})",
        out.queued,
        out.copied,
        crate::config::human_bytes(out.copied_bytes)
    );
    if !out.archived.is_empty() {
        let bytes: u64 = out.archived.iter().map(|(_, b)| b).sum();
        println!(
            "{} recording(s) ({}) are archived in the main store and were not copied: restore them first (`camvault restore`, docs/restore.md), then run this again; e.g. {}",
            out.archived.len(),
            crate::config::human_bytes(bytes),
            out.archived[0].0
        );
    }
    for (key, why) in out.failed.iter().take(20) {
        println!("failed  {key}: {why}");
    }
    Ok(if out.archived.is_empty() && out.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn find<'a>(cfg: &'a Config, name: &str) -> Result<&'a crate::config::Mirror> {
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
    Ok(m)
}

fn init(cfg: &Config, name: &str) -> Result<ExitCode> {
    let m = find(cfg, name)?;
    if false {
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
