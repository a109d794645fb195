//! `camvault restore …` and `camvault get KEY`: bring clips back, with the plan first.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::catalog::restores::{ItemState, RestoreStatus};
use crate::catalog::Catalog;
use crate::config::{human_bytes, Config};
use crate::restore::{self, Plan, Request, Source};
use crate::store::RestoreTier;

pub struct Args {
    pub camera: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub tier: Option<RestoreTier>,
    pub days: Option<u32>,
    pub dry_run: bool,
    pub max_wait: Option<f64>,
    pub wait: bool,
    pub out: Option<std::path::PathBuf>,
    pub merge: bool,
    pub yes: bool,
    pub json: bool,
}

pub fn run(cfg: Config, a: Args) -> Result<ExitCode> {
    let (Some(from), Some(to)) = (&a.from, &a.to) else {
        bail!("say which footage: `camvault restore --camera door --from \"2026-11-20 14:00\" --to \"2026-11-20 15:00\"` (see `camvault ls`)");
    };
    let tz = cfg.zone_of(a.camera.as_deref());
    let from_ms = super::times::parse(from, &tz, "--from")?.as_millisecond();
    let to_ms = super::times::parse(to, &tz, "--to")?.as_millisecond();
    if to_ms <= from_ms {
        bail!("--to {to:?} must be after --from {from:?}");
    }
    if let Some(d) = a.days.filter(|d| !(1..=365).contains(d)) {
        bail!("--days {d}: between 1 and 365 (an Archive object's copy is asked for 7 at most)");
    }
    if let Some(h) = a.max_wait.filter(|h| !(h.is_finite() && *h >= 0.0)) {
        bail!("--max-wait {h}: a number of hours ≥ 0 (0: only copies readable at once)");
    }
    let req = Request {
        camera: a.camera.clone(),
        from_ms,
        to_ms,
        key: None,
        keys: Vec::new(),
        tier: a.tier.unwrap_or(cfg.restore.tier),
        days: a.days.unwrap_or(cfg.restore.days),
        merge: a.merge,
        out_dir: out_dir(&a.out)?,
        drill: false,
        max_wait_hours: a.max_wait,
    };
    plan_and_start(cfg, req, a.dry_run, a.wait, a.yes, a.json)
}

/// `camvault get KEY`: one clip, from wherever it is.
pub fn get(
    cfg: Config,
    key: String,
    out: Option<std::path::PathBuf>,
    tier: Option<RestoreTier>,
    wait: bool,
    yes: bool,
) -> Result<ExitCode> {
    let req = Request {
        camera: None,
        from_ms: 0,
        to_ms: 0,
        key: Some(key),
        keys: Vec::new(),
        tier: tier.unwrap_or(cfg.restore.tier),
        days: cfg.restore.days,
        merge: false,
        out_dir: out_dir(&out)?,
        drill: false,
        max_wait_hours: None,
    };
    plan_and_start(cfg, req, false, wait, yes, false)
}

fn out_dir(out: &Option<std::path::PathBuf>) -> Result<String> {
    Ok(match out {
        Some(p) => std::path::absolute(p)?.to_string_lossy().into_owned(),
        None => String::new(),
    })
}

pub(crate) fn plan_and_start(
    cfg: Config,
    req: Request,
    dry_run: bool,
    wait: bool,
    yes: bool,
    json: bool,
) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let cat = Catalog::open(&cfg.catalog(), false)?;
        let store = crate::store::open(&cfg)?;
        let plan = restore::plan(&cfg, &cat, &*store, &req).await?;
        if plan.items.is_empty() {
            match &req.key {
                Some(k) => bail!("no clip with key {k:?} in the catalog (see `camvault ls`)"),
                None => bail!("no clip in that range{} (see `camvault ls`)", req.camera.as_ref().map(|c| format!(" for camera {c}")).unwrap_or_default()),
            }
        }
        if json && dry_run {
            println!("{}", serde_json::to_string_pretty(&plan)?);
            return Ok(ExitCode::SUCCESS);
        }
        print_plan(&plan);
        if dry_run {
            println!("\n(dry run: nothing requested)");
            return Ok(ExitCode::SUCCESS);
        }
        // The monthly budget holds here too (an admin raises `restore.budget_cny_month`).
        let now = jiff::Timestamp::now().as_millisecond();
        if let Some(msg) = crate::web::approvals::over_budget(&cfg, &cat, plan.total_cny, now)? {
            bail!("{msg}");
        }
        let needs_restore = plan.count(Source::Archive).0 > 0;
        if needs_restore && !yes {
            if !std::io::stdin().is_terminal() {
                bail!("this restore costs about ¥{:.2}: confirm with --yes (no terminal to ask on)", plan.total_cny);
            }
            print!("\nrequest it? [y/N] ");
            std::io::stdout().flush()?;
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer)?;
            if !matches!(answer.trim(), "y" | "Y" | "yes") {
                println!("nothing requested");
                return Ok(ExitCode::from(1));
            }
        }
        let now = jiff::Timestamp::now().as_millisecond();
        let id = restore::start(&cat, &req, &plan, now)?;
        // Copies, downloads and restore requests happen now; only the waiting is left.
        let serving = cat.lock_exclusive().is_err();
        restore::step(&cfg, &cat, &*store, now).await?;
        let r = cat.restore(id)?.expect("just created");
        println!("\nrestore #{id}: clips go to {}", restore::out_dir(&cfg, &r).display());
        if wait {
            return wait_for(&cfg, &cat, &*store, id, serving).await;
        }
        if r.state == RestoreStatus::Active {
            println!(
                "the store is restoring {}; `camvault serve` downloads and checks each clip when ready and tells you through the alert channels. Follow with `camvault restore status {id}`, or use --wait.",
                if needs_restore { "archived clips" } else { "clips" }
            );
        } else {
            print_status(&cfg, &cat, id)?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn print_plan(plan: &Plan) {
    let line = |s: Source, what: &str| {
        let (n, b) = plan.count(s);
        if n > 0 {
            println!("  {n:>5} clip(s) {:>10}  {what}", human_bytes(b));
        }
    };
    println!("plan:");
    line(Source::Cache, "on local disk: copied at once");
    line(Source::Store, "readable in the store: downloaded at once");
    line(Source::Archive, "archived: restore requested first");
    print_mirrors(plan);
    line(
        Source::Missing,
        "MISSING: not on disk and not in the store (see `camvault verify`)",
    );
    for i in plan
        .items
        .iter()
        .filter(|i| i.note.is_some() && !matches!(i.source, Source::Store | Source::Mirror))
    {
        println!("        {}: {}", i.clip.key, i.note.as_deref().unwrap_or(""));
    }
    if plan.count(Source::Archive).0 > 0 {
        println!(
            "time: up to {} for the {} tier, restored copies kept {} day(s)",
            hours(plan.hours),
            plan.tier.as_str(),
            plan.days
        );
    }
    println!("estimated cost: ¥{:.2}", plan.total_cny);
    for l in &plan.estimate {
        let quantity = if l.unit == "10k requests" {
            format!("{:.0} request(s) × ¥{}/10k", l.quantity, l.price.cny)
        } else {
            format!("{:.3} {} × ¥{:.4}", l.quantity, l.unit, l.price.cny)
        };
        println!("  ¥{:>8.4}  {} — {quantity} (prices.{})", l.cny, l.what, l.price.key);
    }
}

/// Clips taken from each mirror, and every store's copies with their price and time
/// (issue 21): what each store would cost for the clips it holds.
fn print_mirrors(plan: &Plan) {
    let stores = restore::copies::by_store(&plan.items);
    for s in stores
        .iter()
        .filter(|s| s.store != crate::config::PRIMARY && s.chosen > 0)
    {
        println!(
            "  {:>5} clip(s) {:>10}  from mirror {}: read at once, free on a disk",
            s.chosen,
            human_bytes(s.chosen_bytes),
            s.store
        );
    }
    if stores.is_empty() {
        return;
    }
    println!("copies of the clips not on local disk (each store, if every clip came from it):");
    for s in &stores {
        let when = if s.hours > 0.0 {
            format!("up to {}", hours(s.hours))
        } else {
            "immediate".into()
        };
        println!(
            "  {:<12} {:<4} {:>5} clip(s)  ¥{:.2}  {when}{}",
            s.store,
            s.kind,
            s.clips,
            s.cny,
            if s.usable == s.clips {
                ""
            } else {
                " (not usable for some: see --json)"
            }
        );
    }
    if let Some(w) = plan.max_wait_hours {
        println!("the cheapest copy ready within --max-wait {w} h is taken for each clip");
    } else {
        println!(
            "the cheapest copy of each clip is taken (free and immediate first); --max-wait HOURS limits the wait"
        );
    }
}

fn hours(h: f64) -> String {
    if h < 1.0 {
        format!("{:.0} minute(s)", (h * 60.0).max(1.0))
    } else {
        format!("{h:.0} hour(s)")
    }
}

/// Drives the restore in the foreground (or watches `serve` drive it) until it ends.
async fn wait_for(
    cfg: &Config,
    cat: &Catalog,
    store: &dyn crate::store::Backend,
    id: i64,
    serving: bool,
) -> Result<ExitCode> {
    let total = cat.restore_items(id)?.len() as u64;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} restore #{msg} [{bar:30}] {pos}/{len} clips, {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(id.to_string());
    loop {
        let now = jiff::Timestamp::now().as_millisecond();
        if !serving {
            restore::step(cfg, cat, store, now).await?;
        }
        let items = cat.restore_items(id)?;
        bar.set_position(
            items
                .iter()
                .filter(|i| matches!(i.state, ItemState::Done | ItemState::Failed))
                .count() as u64,
        );
        let r = cat.restore(id)?.expect("exists");
        if r.state != RestoreStatus::Active {
            bar.finish_and_clear();
            print_status(cfg, cat, id)?;
            return Ok(if r.state == RestoreStatus::Done && r.error.is_none() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        let next = cat.next_restore_poll_ms()?.unwrap_or(now + 1000);
        let wait = (next - now).clamp(200, 60_000) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = tokio::signal::ctrl_c() => {
                bar.abandon();
                println!("stopped waiting; restore #{id} goes on (`camvault serve` finishes it, or `camvault restore status {id}`)");
                return Ok(ExitCode::from(130));
            }
        }
    }
}

pub fn list(cfg: Config, json: bool) -> Result<ExitCode> {
    let cat = Catalog::open(&cfg.catalog(), false)?;
    let rows = cat.restores(100)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no restores yet (`camvault restore --camera C --from T --to T`)");
    }
    for r in rows {
        let items = cat.restore_items(r.id)?;
        let done = items.iter().filter(|i| i.state == ItemState::Done).count();
        println!(
            "#{:<4} {:<9} {:<5} {} clip(s), {} done, {} {}, ¥{:.2} est.{}",
            r.id,
            r.state,
            r.kind,
            items.len(),
            done,
            r.camera.as_deref().unwrap_or("-"),
            super::rfc3339(r.created_ms, "UTC"),
            r.est_cost_cny,
            r.error.map(|e| format!(" — {e}")).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(cfg: Config, id: i64, json: bool) -> Result<ExitCode> {
    let cat = Catalog::open(&cfg.catalog(), false)?;
    if json {
        let Some(r) = cat.restore(id)? else {
            bail!("no restore #{id} (see `camvault restore list`)");
        };
        let items = cat.restore_items(id)?;
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"restore": r, "items": items, "dir": restore::out_dir(&cfg, &r)})
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    print_status(&cfg, &cat, id)?;
    Ok(ExitCode::SUCCESS)
}

fn print_status(cfg: &Config, cat: &Catalog, id: i64) -> Result<()> {
    let Some(r) = cat.restore(id)? else {
        bail!("no restore #{id} (see `camvault restore list`)");
    };
    let items = cat.restore_items(id)?;
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for i in &items {
        *counts.entry(i.state.as_str()).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!(
        "restore #{id}: {} ({}), in {}",
        r.state,
        summary.join(", "),
        restore::out_dir(cfg, &r).display()
    );
    if let Some(e) = &r.error {
        println!("  {e}");
    }
    for i in items.iter().filter(|i| i.state != ItemState::Done) {
        let detail = match (i.state.as_str(), &i.error) {
            (_, Some(e)) => e.clone(),
            ("requested", None) => format!(
                "restoring since {}, {} poll(s)",
                i.requested_ms.map(|t| super::rfc3339(t, "UTC")).unwrap_or_default(),
                i.polls
            ),
            _ => String::new(),
        };
        println!("  {:<9} {} {detail}", i.state, i.key);
    }
    Ok(())
}

pub fn cancel(cfg: Config, id: i64) -> Result<ExitCode> {
    let cat = Catalog::open(&cfg.catalog(), false)?;
    let now = jiff::Timestamp::now().as_millisecond();
    if cat.finish_restore(id, RestoreStatus::Cancelled, Some("cancelled by the user"), now)? {
        println!("restore #{id} cancelled: nothing more is downloaded. Restores the store already started run to their end (and are billed); clips already here stay.");
        Ok(ExitCode::SUCCESS)
    } else if cat.restore(id)?.is_some() {
        println!("restore #{id} has already ended");
        Ok(ExitCode::from(1))
    } else {
        bail!("no restore #{id} (see `camvault restore list`)")
    }
}

pub fn drill(cfg: Config, wait: bool) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let cat = Catalog::open(&cfg.catalog(), false)?;
        let store = crate::store::open(&cfg)?;
        let now = jiff::Timestamp::now().as_millisecond();
        let Some(id) = restore::start_drill(&cfg, &cat, &*store, now).await? else {
            println!("nothing to drill: no clip is in an archive class yet (they move after tiering.transition_days = {} days, once `camvault lifecycle apply` set the rule)", cfg.tiering.transition_days);
            return Ok(ExitCode::SUCCESS);
        };
        let serving = cat.lock_exclusive().is_err();
        restore::step(&cfg, &cat, &*store, now).await?;
        println!("restore drill #{id} started");
        if wait {
            let code = wait_for(&cfg, &cat, &*store, id, serving).await?;
            if let Some(d) = cat.slot(&crate::catalog::kv::DRILL)? {
                let (ok, msg) = (d.ok, d.what());
                println!("{}", if ok { format!("drill passed: {msg} restored and matched byte for byte") } else { format!("drill FAILED: {msg}") });
            }
            return Ok(code);
        }
        println!("`camvault serve` finishes it and records the result (`camvault restore status {id}`)");
        Ok(ExitCode::SUCCESS)
    })
}
