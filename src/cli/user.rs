//! `camvault user add|del|passwd|list|revoke`: the web interface's accounts, kept in the
//! catalog. Passwords come from a prompt (twice, no echo) or one line of stdin, never
//! from the command line; only their Argon2 hash is stored. A new password, a new role, a
//! deletion or `revoke` ends the user's sessions at once, also in a running `serve`.

use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::catalog::users::Role;
use crate::catalog::Catalog;
use crate::config::Config;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn new_hash() -> Result<String> {
    let password = super::passwd::read_password()?;
    if password.chars().count() < 8 {
        bail!("the password needs at least 8 characters; nothing changed");
    }
    crate::web::auth::hash_password(&password)
}

fn open(cfg: &Config) -> Result<Catalog> {
    let cat = Catalog::open(&cfg.catalog(), true)?;
    // The config's password is the `admin` user's, here as in `serve`.
    cat.import_config_password(&cfg.http.password_hash.0, now_ms())?;
    Ok(cat)
}

pub fn add(cfg: Config, name: &str, role: &str) -> Result<ExitCode> {
    let role = Role::parse(role)?;
    crate::catalog::users::check_name(name)?;
    let cat = open(&cfg)?;
    if cat.user(name)?.is_some() {
        bail!("user {name:?} exists already; change the password with `camvault user passwd {name}`");
    }
    let hash = new_hash()?;
    cat.add_user(name, &hash, role, now_ms())?;
    println!("user {name} added ({})", role.as_str());
    Ok(ExitCode::SUCCESS)
}

pub fn del(cfg: Config, name: &str) -> Result<ExitCode> {
    let cat = open(&cfg)?;
    if !cat.delete_user(name)? {
        bail!("no user {name:?}; `camvault user list` shows them");
    }
    println!("user {name} deleted; their sessions ended");
    if name == crate::catalog::users::CONFIG_USER && !cfg.http.password_hash.0.is_empty() {
        println!("note: `http.password_hash` in the config is still set; a new `camvault passwd` makes the user `admin` again");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn passwd(cfg: Config, name: &str, role: Option<&str>) -> Result<ExitCode> {
    let role = role.map(Role::parse).transpose()?;
    let cat = open(&cfg)?;
    if cat.user(name)?.is_none() {
        bail!("no user {name:?}; add one with `camvault user add {name}`");
    }
    let hash = new_hash()?;
    cat.set_user(name, &hash, role, now_ms())?;
    println!("password of {name} changed; their sessions ended");
    Ok(ExitCode::SUCCESS)
}

pub fn revoke(cfg: Config, name: &str) -> Result<ExitCode> {
    let cat = open(&cfg)?;
    if cat.user(name)?.is_none() {
        bail!("no user {name:?}; `camvault user list` shows them");
    }
    let n = cat.revoke_sessions(name)?;
    println!("{n} session(s) of {name} ended");
    Ok(ExitCode::SUCCESS)
}

pub fn list(cfg: Config, json: bool) -> Result<ExitCode> {
    let cat = open(&cfg)?;
    let users = cat.users(now_ms())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&users)?);
        return Ok(ExitCode::SUCCESS);
    }
    if users.is_empty() {
        println!("no web users; add one with `camvault user add NAME --role admin`");
    }
    for u in users {
        println!("{:<20} {:<7} {} session(s)", u.name, u.role.as_str(), u.sessions);
    }
    Ok(ExitCode::SUCCESS)
}
