//! `camvault alerts test [CHANNEL]`: sends a test message.

use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::alerts::{channels, Message};
use crate::config::Config;

pub fn test(cfg: Config, only: Option<String>) -> Result<ExitCode> {
    let chans: Vec<_> = cfg
        .alerts
        .channel
        .iter()
        .filter(|c| only.as_ref().is_none_or(|n| &c.name == n))
        .collect();
    if chans.is_empty() {
        match only {
            Some(n) => bail!("no channel named {n:?} in `alerts.channel`"),
            None => bail!("no alert channels configured: add an [[alerts.channel]] section (see the example config)"),
        }
    }
    let rt = super::runtime()?;
    rt.block_on(async move {
        let client = channels::client();
        let msg = Message {
            status: "test",
            key: "test".into(),
            title: "camvault: test message".into(),
            body: "If you can read this, camvault can reach you here.".into(),
        };
        let mut failed = 0;
        for ch in chans {
            match channels::send(&client, ch, &msg).await {
                Ok(()) => println!("ok    {} ({:?})", ch.name, ch.kind),
                Err(e) => {
                    failed += 1;
                    println!("FAIL  {e}");
                }
            }
        }
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}
