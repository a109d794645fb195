//! `camvault lifecycle show|apply|check`: the bucket rules that move recordings to an
//! archive class after `tiering.transition_days`, for every prefix that holds recordings
//! (the key template's, every prefix `adopt` found, and for `check` and `apply` every
//! camera folder a listing of the bucket shows; see [`crate::coverage`]). `check` and
//! `apply` also take each s3/oss mirror's bucket by that mirror's own plan
//! (`[store.mirror.tiering]`, else `[tiering]`); a read-only mirror is only checked.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{anyhow, Result};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::coverage::{self, Counts};
use crate::store::lifecycle::{self, Rule};

async fn current(store: &dyn crate::store::Backend) -> Result<Vec<Rule>> {
    match store.get_lifecycle().await.map_err(|e| anyhow!("{e}"))? {
        Some(xml) => lifecycle::parse(&xml).map_err(|e| anyhow!(e)),
        None => Ok(Vec::new()),
    }
}

/// The prefixes holding recordings: the config's and the catalog's, plus the camera folders
/// and template keys of a full listing, with the listing's counts.
async fn prefixes(
    cfg: &Config,
    cat: Option<&Catalog>,
    store: &dyn crate::store::Backend,
) -> Result<BTreeMap<String, coverage::Known>> {
    let mut known = coverage::known_prefixes(cfg, cat)?;
    let objects = store
        .list("")
        .await
        .map_err(|e| anyhow!("listing the bucket to find its recordings: {e}"))?;
    let template = cfg.store.key_template.clone();
    let mut listed: BTreeMap<String, Counts> = known.keys().map(|p| (p.clone(), Counts::default())).collect();
    for o in &objects {
        // camvault's own objects (manifests, the index objects, thumbnails) stay in Standard.
        if !crate::recordings::is_recording(&template, &o.key, o.size) {
            continue;
        }
        let prefix = if template.match_key(&o.key).is_some() {
            template.prefix().to_string()
        } else if let Some(f) = crate::recordings::recognize(&o.key) {
            f.prefix
        } else {
            continue;
        };
        // Counted under the longest known prefix that holds it, else its own.
        let home = known
            .keys()
            .filter(|p| o.key.starts_with(p.as_str()))
            .max_by_key(|p| p.len())
            .cloned()
            .unwrap_or(prefix);
        listed.entry(home).or_default().add(o.size, &o.storage_class);
    }
    for (p, c) in listed {
        known
            .entry(p)
            .or_insert(("bucket listing, not adopted yet", Counts::default(), None))
            .2 = Some(c);
    }
    Ok(known)
}

/// Whether the bucket's rule `r` is camvault's rule `w` as wanted (the XML itself may come
/// back reworded, e.g. S3's `<Filter>`).
fn same(r: &Rule, w: &Rule) -> bool {
    r.id == w.id
        && r.prefix == w.prefix
        && r.enabled
        && !r.conditional
        && r.transitions == w.transitions
        && r.expiration_days.is_none()
}

/// Prints one store's outcome of [`apply`], each line under the store's name (a mirror's;
/// the main store's lines as before), and says whether it went well.
fn report(who: Option<&str>, done: Result<(Vec<String>, bool)>) -> bool {
    let tag = |l: &str| who.map_or_else(|| l.to_string(), |w| format!("{w}: {l}"));
    match done {
        Ok((lines, ok)) => {
            for l in lines {
                println!("{}", tag(&l));
            }
            ok
        }
        Err(e) => {
            println!("{}", tag(&format!("not applied: {e:#}")));
            false
        }
    }
}

/// Applies `cfg`'s plan (`[tiering]`; a mirror's `cfg` is [`Config::for_mirror`]'s) to
/// `store`'s bucket: the missing camvault rules merged with
/// the bucket's others (kept unchanged), refused when the bucket cannot hold the class,
/// then read back and checked (camvault's rules as asked, none that deletes). The main
/// store and every mirror go through here. Returns the lines to print and whether every
/// prefix is now covered.
async fn apply(cfg: &Config, cat: Option<&Catalog>, store: &dyn crate::store::Backend) -> Result<(Vec<String>, bool)> {
    let mut out = Vec::new();
    let rules = current(store)
        .await
        .map_err(|e| anyhow!("{}: reading its lifecycle rules: {e:#}", store.describe()))?;
    let prefixes = prefixes(cfg, cat, store).await?;
    let names: Vec<String> = prefixes.keys().cloned().collect();
    let want = coverage::wanted(cfg, &names, &rules)?;
    // A rule to a class the bucket cannot hold would be accepted and never act.
    if let Ok(Some(b)) = store.bucket_settings().await {
        let zrs: Vec<_> = crate::store::settings::findings(cfg, &b)
            .into_iter()
            .filter(|f| f.bad && f.what.contains("ZRS"))
            .collect();
        if let Some(f) = zrs.first() {
            out.push(format!("not applied: {}\nfix: {}", f.what, f.fix));
            return Ok((out, false));
        }
    }
    let missing: Vec<&Rule> = want.iter().filter(|w| !rules.iter().any(|r| same(r, w))).collect();
    if !missing.is_empty() {
        let xml = lifecycle::merge_all(&rules, &want);
        let merged = lifecycle::parse(&xml).map_err(|e| anyhow!(e))?;
        for (a, b) in lifecycle::same_action_overlaps(&merged) {
            out.push(format!("note: rules {a:?} and {b:?} both act on the same objects (overlapping prefixes, same action); both are kept, and OSS is asked to allow it (x-oss-allow-same-action-overlap)"));
        }
        store
            .put_lifecycle(&xml)
            .await
            .map_err(|e| anyhow!("{}: {e}", store.describe()))?;
        for w in &missing {
            out.push(format!("applied: {}", w.describe()));
        }
        let kept = rules.iter().filter(|r| !want.iter().any(|w| w.id == r.id)).count();
        out.push(format!("{kept} other rule(s) of the bucket kept unchanged."));
    } else {
        out.push("already in place: every prefix holding recordings is under a rule".into());
    }
    // Read back: the store must now hold what was asked, and nothing may delete.
    let after = current(store).await?;
    for w in &want {
        if !after.iter().any(|r| same(r, w)) {
            return Err(anyhow!("the rule did not take: {}", w.describe()));
        }
    }
    let states = coverage::assess(cfg, &prefixes, &after);
    let (lines, ok) = coverage::report(cfg, &states);
    out.extend(lines.into_iter().filter(|l| !l.starts_with("ok: ")));
    Ok((out, ok))
}

pub fn run(cfg: Config, action: &str) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let store = crate::store::open(&cfg)?;
        let cat = if cfg.catalog().exists() {
            Some(Catalog::open(&cfg.catalog(), false)?)
        } else {
            None
        };
        match action {
            "show" => {
                let rules = current(&*store).await?;
                if rules.is_empty() {
                    println!(
                        "{} has no lifecycle rules: every object stays in its upload class.",
                        store.describe()
                    );
                }
                for r in &rules {
                    println!("{}", r.describe());
                }
                let known = coverage::known_prefixes(&cfg, cat.as_ref())?;
                let want = coverage::wanted(&cfg, &known.keys().cloned().collect::<Vec<_>>(), &rules)?;
                println!(
                    "\nprefixes holding recordings (config and catalog): {:?}",
                    known.keys().collect::<Vec<_>>()
                );
                for w in &want {
                    println!("camvault wants: {}", w.describe());
                }
                Ok(ExitCode::SUCCESS)
            }
            "check" => {
                let rules = current(&*store).await?;
                let prefixes = prefixes(&cfg, cat.as_ref(), &*store).await?;
                let states = coverage::assess(&cfg, &prefixes, &rules);
                let (lines, mut ok) = coverage::report(&cfg, &states);
                for l in lines {
                    println!("{l}");
                }
                // Each s3/oss mirror's bucket against its own plan (issue 21).
                for m in cfg.store.mirror.iter().filter(|m| m.kind != crate::config::StoreKind::Fs) {
                    let line = match crate::mirror::open_store(&cfg, m) {
                        Ok(s) => super::doctor_mirrors::lifecycle(&cfg, m, cat.as_ref(), &*s).await,
                        Err(e) => Some(super::doctor_mirrors::Line::Fail(format!("{e:#}"), String::new())),
                    };
                    match line {
                        Some(super::doctor_mirrors::Line::Ok(l)) => println!("ok: {l}"),
                        Some(super::doctor_mirrors::Line::Warn(l, fix) | super::doctor_mirrors::Line::Fail(l, fix)) => {
                            ok = false;
                            println!("{l}{}", if fix.is_empty() { String::new() } else { format!("\n  fix: {fix}") });
                        }
                        None => {}
                    }
                }
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
            }
            _ => {
                // Every store its own plan, one after another; one that is away or refuses
                // is reported and the others still get theirs.
                let mut ok = report(None, apply(&cfg, cat.as_ref(), &*store).await);
                for m in cfg.store.mirror.iter().filter(|m| m.kind != crate::config::StoreKind::Fs) {
                    let who = format!("mirror {:?}", m.name);
                    if m.read_only {
                        println!("{who}: read-only (a replication target): camvault never writes there, so its rules were not applied; set them in the OSS console (`lifecycle check` checks them)");
                        continue;
                    }
                    let done = match crate::mirror::open_store(&cfg, m) {
                        Ok(s) => apply(&cfg.for_mirror(m), cat.as_ref(), &*s).await,
                        Err(e) => Err(e),
                    };
                    ok &= report(Some(&who), done);
                }
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
            }
        }
    })
}
