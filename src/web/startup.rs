//! Whether `serve` may open the web interface: who could log in to it.
//!
//! A LAN `http.listen` (or any `http.trusted_proxies`) means people must log in. Either way
//! of having an admin counts: the config's `http.password_hash` (`camvault passwd`, made
//! the admin `admin` here) or an admin account in the catalog (`camvault user add NAME
//! --role admin`). This is checked when `serve` starts, with the catalog open, and not when
//! the config is read: the `user` commands must work on a config with a LAN address before
//! any account exists.

use anyhow::{bail, Context, Result};

use crate::catalog::users::Role;
use crate::catalog::Catalog;
use crate::config::Config;

/// Imports `http.password_hash` as the admin `admin` (as before accounts), then refuses to
/// start when a login is needed and no admin could give one.
pub fn check_logins(cfg: &Config, cat: &Catalog, now_ms: i64) -> Result<()> {
    cat.import_config_password(&cfg.http.password_hash.0, now_ms)
        .context("cannot make `http.password_hash` the password of the web user `admin`")?;
    let lan = !cfg.http.listen.ip().to_canonical().is_loopback();
    if !lan && cfg.http.trusted_proxies.is_empty() {
        return Ok(());
    }
    let users = cat.users(now_ms)?;
    if users.iter().any(|u| u.role == Role::Admin) {
        return Ok(());
    }
    let why = if lan {
        format!(
            "`http.listen` = \"{}\" is not a loopback address, so the web interface needs a login",
            cfg.http.listen
        )
    } else {
        "`http.trusted_proxies` is set, so people reach camvault through a proxy and must log in".to_string()
    };
    let viewers = if users.is_empty() {
        String::new()
    } else {
        format!(" (the catalog has {} viewer(s) but no admin)", users.len())
    };
    bail!(
        "{why}, and nobody could log in as an admin{viewers}: add an admin account with `camvault user add NAME --role admin`, or set the password of the admin `admin` with `camvault passwd`; then start `camvault serve` again{}",
        if lan { ", or listen on 127.0.0.1" } else { "" }
    )
}
