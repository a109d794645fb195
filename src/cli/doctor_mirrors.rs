//! `doctor`'s lines for each `[[store.mirror]]` (issue 21): a disk mirror's marker, a
//! remote mirror reachable (read-only ones only read), and each s3/oss mirror's bucket
//! lifecycle checked against that mirror's own plan (`[store.mirror.tiering]`, else
//! `[tiering]`) as the main store's is.

use crate::config::{Config, StoreKind};

pub enum Line {
    Ok(String),
    Warn(String, String),
    Fail(String, String),
}

pub async fn check(cfg: &Config) -> Vec<Line> {
    let mut out = Vec::new();
    let cat = crate::catalog::Catalog::open(&cfg.catalog(), false).ok();
    for m in &cfg.store.mirror {
        if m.kind == StoreKind::Fs {
            // Never `check()` a disk mirror: it would write to an empty mount point.
            match crate::mirror::disk::present(&cfg.mirror_root(m), &m.name) {
                Ok(()) => out.push(Line::Ok(format!("mirror {:?}: its disk is mounted and marked", m.name))),
                Err(why) => out.push(Line::Warn(
                    why,
                    format!(
                        "mount the disk; a new disk needs `camvault mirror init {}` once",
                        m.name
                    ),
                )),
            }
            continue;
        }
        let store = match crate::mirror::open_store(cfg, m) {
            Ok(s) => s,
            Err(e) => {
                out.push(Line::Fail(
                    format!("{e:#}"),
                    format!("fix mirror {:?} in `[[store.mirror]]`", m.name),
                ));
                continue;
            }
        };
        match store.check().await {
            Ok(()) => out.push(Line::Ok(format!(
                "mirror {:?}: {} is reachable{}",
                m.name,
                store.describe(),
                if m.read_only {
                    "; read-only: camvault verifies its copies and never writes there"
                } else {
                    ""
                }
            ))),
            Err(e) => {
                out.push(Line::Fail(
                    format!("mirror {:?}: {}: {e}", m.name, store.describe()),
                    format!(
                        "fix mirror {:?} in `[[store.mirror]]` (its copies wait meanwhile)",
                        m.name
                    ),
                ));
                continue;
            }
        }
        out.extend(lifecycle(cfg, m, cat.as_ref(), &*store).await);
    }
    out
}

/// Mirror `m`'s bucket lifecycle against its plan.
pub async fn lifecycle(
    cfg: &Config,
    m: &crate::config::Mirror,
    cat: Option<&crate::catalog::Catalog>,
    store: &dyn crate::store::Backend,
) -> Option<Line> {
    if m.kind == StoreKind::Fs {
        return None;
    }
    let mc = cfg.for_mirror(m);
    Some(match crate::tiers::lifecycle_problem(&mc, cat, store).await {
        Ok(None) => Line::Ok(format!(
            "mirror {:?}: every prefix holding recordings is under a lifecycle rule to {} after {} days",
            m.name, mc.tiering.storage_class, mc.tiering.transition_days
        )),
        Ok(Some(p)) if p.key == "health.detail.lifecycle_deletes" => Line::Fail(
            format!("mirror {:?}: {}", m.name, p.en()),
            "remove the expiration from that rule in the mirror bucket's lifecycle settings".into(),
        ),
        Ok(Some(p)) => Line::Warn(
            format!("mirror {:?}: {}", m.name, p.en()),
            if m.read_only {
                "set the rule on the replica bucket in the OSS console (camvault does not write to a read-only mirror)"
                    .into()
            } else {
                "run `camvault lifecycle check` for the details".into()
            },
        ),
        Err(e) => Line::Warn(
            format!("mirror {:?}: cannot read the bucket's lifecycle rules: {e:#}", m.name),
            "give the mirror's access key the right to read them".into(),
        ),
    })
}
