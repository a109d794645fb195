//! `camvault verify`: checks every stored object against the store, then every mirror's
//! copies (`verify_mirror`), one summary line per store.

use std::process::ExitCode;

use anyhow::Result;

use crate::catalog::Catalog;
use crate::config::Config;

pub fn run(cfg: Config, deep: bool, manifests: bool) -> Result<ExitCode> {
    let rt = super::runtime()?;
    if manifests {
        return rt.block_on(async move {
            let store = crate::store::open(&cfg)?;
            let mut mirrors = Vec::new();
            for m in &cfg.store.mirror {
                mirrors.push((m.name.clone(), crate::mirror::open_store(&cfg, m)?));
            }
            let (checked, problems) = crate::manifest::verify(&*store, &mirrors, deep).await?;
            for p in &problems {
                println!("BAD  {p}");
            }
            if problems.is_empty() {
                println!(
                    "ok: every manifest chain is intact and its {checked} listed object(s) and copies match{}",
                    if deep { " byte for byte" } else { "" }
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "{} problem(s) in the manifests: something in the store was changed or lost after it was listed",
                    problems.len()
                );
                Ok(ExitCode::from(1))
            }
        });
    }
    rt.block_on(async move {
        let cat = std::sync::Arc::new(Catalog::open(&cfg.catalog(), false)?);
        let store = crate::store::open(&cfg)?;
        store.check().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let (mut checked, mut bad) = (0u64, Vec::new());
        let mut after = 0;
        loop {
            let page = cat.stored_after(after, 500)?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for row in page {
                checked += 1;
                let problem = crate::verify::check_and_record(&cat, &*store, &row, deep).await?;
                if let Some(p) = problem {
                    println!("BAD  {}  {p}", row.key);
                    bad.push(row.key);
                }
            }
        }
        let how = if deep { "bytes re-read" } else { "size and checksum" };
        let mut ok = bad.is_empty();
        if bad.is_empty() {
            println!("ok: {checked} object(s) checked ({how}), all match the catalog");
        } else {
            println!(
                "{} of {checked} object(s) missing or different ({how}). Local copies, where still cached, are in {}; `camvault status` shows what is cached.",
                bad.len(),
                cfg.vault().display()
            );
        }
        // Every mirror's copies, one store at a time (docs/mirrors.md).
        for m in &cfg.store.mirror {
            let line = super::verify_mirror::run(&cfg, m, cat.clone(), &*store, deep).await?;
            ok &= line.0;
            println!("{}", line.1);
        }
        Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}
