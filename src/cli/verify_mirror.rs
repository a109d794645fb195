//! `camvault verify [--deep]` for one mirror: each verified copy checked again (present,
//! size, checksum; `--deep` reads the bytes back) with the same check as the scrub
//! (`mirror::check`), a lost one copied again from a good copy (the cheapest good one
//! among the other stores now, `mirror::sources`, or the vault by one upload pass), a
//! read-only mirror's only reported.

use std::sync::Arc;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::config::{Config, Mirror};
use crate::mirror::check::{self, Checked};
use crate::store::Backend;

/// Checks mirror `m`'s copies; answers (all good, the store's summary line).
pub async fn run(
    cfg: &Config,
    m: &Mirror,
    cat: Arc<Catalog>,
    main: &dyn Backend,
    deep: bool,
) -> Result<(bool, String)> {
    let up = crate::mirror::backfill::uploader(cfg, m, cat.clone())?;
    if let Some(d) = &up.disk {
        if let Err(why) = crate::mirror::disk::present(&d.root, &m.name) {
            return Ok((false, format!("AWAY  store {}: not checked: {why}", m.name)));
        }
    }
    let (mut checked, mut lost, mut recopied, mut unanswered) = (0u64, 0u64, 0u64, 0u64);
    let mut sources = crate::mirror::sources::Sources::new(cfg, main);
    let mut after = 0;
    loop {
        let page = cat.copies_to_scrub(&m.name, after, 500)?;
        let Some(last) = page.last() else { break };
        after = last.file_id;
        for c in page {
            checked += 1;
            match check::copy(&up, &mut sources, &c, deep).await {
                Ok(Checked::Good) => {}
                Ok(Checked::Lost { why, from }) => {
                    lost += 1;
                    recopied += from.is_some() as u64;
                    let then = if let Some(store) = from {
                        format!("copied again from {}", crate::mirror::sources::whose(&store))
                    } else if m.read_only {
                        "read-only mirror: not copied by camvault".into()
                    } else if c.local {
                        "to be copied again from the vault".into()
                    } else {
                        "not copied again (see the log)".into()
                    };
                    println!("BAD  {}  {}  {why}; {then}", m.name, c.key);
                }
                Err(e) => {
                    unanswered += 1;
                    println!("BAD  {}  {}  {e:#}", m.name, c.key);
                }
            }
        }
    }
    // Lost copies whose file is still in the vault: copied again from there now.
    if lost > recopied && !m.read_only {
        if let Ok(crate::mirror::Pass::Done { copied }) = up.pass(&CancellationToken::new()).await {
            recopied += copied;
        }
    }
    let how = if deep { "bytes re-read" } else { "size and checksum" };
    let pending = cat
        .copy_counts()?
        .into_iter()
        .find(|s| s.store == m.name)
        .map_or(0, |s| s.pending + s.failing + s.without_copy);
    Ok(if lost == 0 && unanswered == 0 {
        (
            true,
            format!(
                "ok: store {}: {checked} copy(ies) checked ({how}), all match{}",
                m.name,
                if pending > 0 {
                    format!("; {pending} recording(s) not copied there yet (`camvault status`)")
                } else {
                    String::new()
                }
            ),
        )
    } else {
        (
            false,
            format!(
                "store {}: {lost} of {checked} copy(ies) missing or different ({how}), {recopied} copied again from a good copy; {unanswered} could not be checked",
                m.name
            ),
        )
    })
}
