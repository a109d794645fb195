//! `camvault verify`: checks every stored object against the store.

use std::process::ExitCode;

use anyhow::Result;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::store::crc_hex;
use crate::upload::body::crc_of_reader;

pub fn run(cfg: Config, deep: bool, manifests: bool) -> Result<ExitCode> {
    let rt = super::runtime()?;
    if manifests {
        return rt.block_on(async move {
            let store = crate::store::open(&cfg)?;
            let (checked, problems) = crate::manifest::verify(&*store, deep).await?;
            for p in &problems {
                println!("BAD  {p}");
            }
            if problems.is_empty() {
                println!(
                    "ok: every manifest chain is intact and its {checked} listed object(s) match{}",
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
        let cat = Catalog::open(&cfg.catalog(), false)?;
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
                let want = row.crc64.clone().unwrap_or_default();
                let problem = match store.head(&row.key).await {
                    Err(e) => Some(format!("cannot check: {e}")),
                    Ok(None) => Some("missing from the store".to_string()),
                    Ok(Some(h)) if h.size != row.size => Some(format!("size {} in the store, {} expected", h.size, row.size)),
                    Ok(Some(h)) if h.crc64.as_deref().is_some_and(|c| c != want) => {
                        Some(format!("checksum {} in the store, {want} expected", h.crc64.unwrap_or_default()))
                    }
                    Ok(Some(_)) if deep => match store.get(&row.key).await {
                        Err(e) => Some(format!("cannot read back: {e}")),
                        Ok(r) => match crc_of_reader(r).await {
                            Err(e) => Some(format!("read back failed: {e}")),
                            Ok((crc, n)) if n != row.size || crc_hex(crc) != want => {
                                Some(format!("bytes differ: read {n} bytes with checksum {}, expected {want}", crc_hex(crc)))
                            }
                            Ok(_) => None,
                        },
                    },
                    Ok(Some(_)) => None,
                };
                if let Some(p) = problem {
                    println!("BAD  {}  {p}", row.key);
                    bad.push(row.key);
                }
            }
        }
        let how = if deep { "bytes re-read" } else { "size and checksum" };
        if bad.is_empty() {
            println!("ok: {checked} object(s) checked ({how}), all match the catalog");
            Ok(ExitCode::SUCCESS)
        } else {
            println!(
                "{} of {checked} object(s) missing or different ({how}). Local copies, where still cached, are in {}; `camvault status` shows what is cached.",
                bad.len(),
                cfg.vault().display()
            );
            Ok(ExitCode::from(1))
        }
    })
}
