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
    /// was added, read back from the cheapest good copy (another disk mirror, the main
    /// store, another remote mirror) and checked against the catalog's CRC-64 (recordings
    /// still in the cache are copied by `serve`). Ones no store holds readable (archived in
    /// the main store) need restores: their plan (clips, bytes, cost and time per tier) is shown, and with --yes they are
    /// restored, checked and sent to the mirror; run again after an interruption, it
    /// resumes (never asks the store twice). Exit 1 when anything is left
    Backfill {
        /// The mirror's `name` in `[[store.mirror]]`
        name: String,
        /// Restore the archived recordings (billed: see the plan first)
        #[arg(long, short)]
        yes: bool,
        /// Restore speed for archived recordings [default: restore.tier]
        #[arg(long, value_enum)]
        tier: Option<super::TierArg>,
    },
}

pub(super) fn run(cfg: Config, command: MirrorCommand) -> Result<ExitCode> {
    match command {
        MirrorCommand::Init { name } => init(&cfg, &name),
        MirrorCommand::Backfill { name, yes, tier } => backfill(&cfg, &name, yes, tier.map(Into::into)),
    }
}

fn backfill(cfg: &Config, name: &str, yes: bool, tier: Option<crate::store::RestoreTier>) -> Result<ExitCode> {
    use crate::mirror::backfill_restore as br;
    let m = find(cfg, name)?;
    let catalog = std::sync::Arc::new(crate::catalog::Catalog::open(&cfg.catalog(), false)?);
    catalog.sync_mirrors(
        &cfg.store.mirror.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        jiff::Timestamp::now().as_millisecond(),
    )?;
    let up = crate::mirror::backfill::uploader(cfg, m, catalog.clone())?;
    let main = crate::store::open(cfg)?;
    let rt = super::runtime()?;
    rt.block_on(async move {
        // Restores of this mirror already running (an earlier `--yes`): resumed, not
        // planned again, their clips sent from their downloads.
        let (running, in_flight) = br::in_flight(&catalog, name)?;
        let mut sources = crate::mirror::sources::Sources::new(cfg, &*main);
        let out = crate::mirror::backfill::run_skipping(&up, &mut sources, &in_flight).await?;
        println!(
            "mirror {name:?}: {} recording(s) queued, {} copied and verified ({})",
            out.queued,
            out.copied,
            crate::config::human_bytes(out.copied_bytes)
        );
        for (store, n) in &out.from {
            println!("  {n} from {}", crate::mirror::sources::whose(store));
        }
        for (key, store, why) in out.skipped.iter().take(20) {
            println!(
                "  passed over {} for {key}: {why}",
                crate::mirror::sources::whose(store)
            );
        }
        let mut failed = out.failed;
        let todo: Vec<String> = out
            .archived
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| !in_flight.contains(k))
            .collect();
        let mut left = 0;
        if !todo.is_empty() {
            let tier = tier.unwrap_or(cfg.restore.tier);
            let (req, plan) = br::plan(cfg, &catalog, &*main, name, todo, tier).await?;
            let (n, bytes) = plan.count(crate::restore::Source::Archive);
            println!(
                "{} recording(s) ({}) are archived in the main store: restores first, then copied to {name:?}",
                n,
                crate::config::human_bytes(bytes)
            );
            for (t, cny, h) in br::tiers(cfg, &plan) {
                println!(
                    "  {:<9} about ¥{cny:.2}, ready within {h} hour(s){}",
                    t.as_str().to_lowercase(),
                    if t == tier { "  <- --tier" } else { "" }
                );
            }
            println!("  (prices as of {}, `[prices]`; restored copies kept {} day(s))", cfg.prices.taken, plan.days);
            if !yes {
                println!("nothing restored: run `camvault mirror backfill {name} --yes` (with --tier to choose) to restore and copy them");
                left += plan.items.len();
            } else {
                let now = jiff::Timestamp::now().as_millisecond();
                if let Some(msg) = crate::web::approvals::over_budget(cfg, &catalog, plan.total_cny, now)? {
                    bail!("{msg}");
                }
                let id = br::start(&catalog, name, &req, &plan, now)?;
                println!("restore #{id} started for mirror {name:?} (about ¥{:.2}); waiting for it (Ctrl-C stops waiting; run this again to resume)", plan.total_cny);
            }
        } else if !running.is_empty() {
            println!("resuming restore(s) {running:?} for mirror {name:?}");
        }
        if yes || !running.is_empty() {
            let serving = catalog.lock_exclusive().is_err();
            let sent = br::finish(cfg, &up, &*main, serving).await?;
            if sent.copied > 0 || !sent.failed.is_empty() {
                println!(
                    "restored and copied to {name:?}: {} recording(s) ({})",
                    sent.copied,
                    crate::config::human_bytes(sent.bytes)
                );
            }
            failed.extend(sent.failed);
        }
        for (key, why) in failed.iter().take(20) {
            println!("failed  {key}: {why}");
        }
        Ok(if left == 0 && failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
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
