//! `camvault lifecycle show|apply|check`: the bucket rule that moves recordings to an
//! archive class after `tiering.transition_days`.

use std::process::ExitCode;

use anyhow::{anyhow, Result};

use crate::config::Config;
use crate::store::lifecycle::{self, Rule};

async fn current(store: &dyn crate::store::Backend) -> Result<Vec<Rule>> {
    match store.get_lifecycle().await.map_err(|e| anyhow!("{e}"))? {
        Some(xml) => lifecycle::parse(&xml).map_err(|e| anyhow!(e)),
        None => Ok(Vec::new()),
    }
}

pub fn run(cfg: Config, action: &str) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let store = crate::store::open(&cfg)?;
        let want = lifecycle::wanted(&cfg)?;
        let rules = current(&*store).await?;
        match action {
            "show" => {
                if rules.is_empty() {
                    println!(
                        "{} has no lifecycle rules: every object stays in its upload class.",
                        store.describe()
                    );
                }
                for r in &rules {
                    println!("{}", r.describe());
                }
                println!("\nthe config asks for: {}", want.describe());
                Ok(ExitCode::SUCCESS)
            }
            "check" => match lifecycle::check(&rules, &want) {
                Ok(()) => {
                    println!("ok: {}", want.describe());
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    println!("{why}");
                    Ok(ExitCode::from(1))
                }
            },
            _ => {
                if lifecycle::check(&rules, &want).is_ok() {
                    println!("already in place: {}", want.describe());
                    return Ok(ExitCode::SUCCESS);
                }
                let xml = lifecycle::merge(&rules, &want);
                store.put_lifecycle(&xml).await.map_err(|e| anyhow!("{e}"))?;
                // Read back: the store must now hold exactly what was asked.
                let after = current(&*store).await?;
                lifecycle::check(&after, &want).map_err(|e| anyhow!("the rule did not take: {e}"))?;
                let kept = after.iter().filter(|r| r.id != lifecycle::RULE_ID).count();
                println!("applied: {}", want.describe());
                println!("{kept} other rule(s) of the bucket kept unchanged.");
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
