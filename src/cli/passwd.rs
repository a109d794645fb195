//! `camvault passwd`: sets the web interface's password. Only its Argon2 hash is stored, as
//! `http.password_hash` in the config, which is rewritten in place and kept at mode 0600.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

pub fn run(config: &Path) -> Result<ExitCode> {
    let text = std::fs::read_to_string(config).with_context(|| {
        format!(
            "cannot read config {}; create one with `camvault init`, or pass --config FILE",
            config.display()
        )
    })?;
    let password = read_password()?;
    if password.chars().count() < 8 {
        bail!("the password needs at least 8 characters");
    }
    let hash = crate::web::auth::hash_password(&password)?;
    let new = set_http_key(&text, "password_hash", &format!("\"{hash}\""));
    write_private(config, &new, None)?;
    println!("web password set in {} (as an Argon2 hash)", config.display());
    match crate::config::Config::parse(&new) {
        Ok(c) if c.http.listen.ip().is_loopback() => println!(
            "`http.listen` is {} (loopback): no login is asked there; set it to e.g. \"0.0.0.0:8640\" to reach the web interface from the LAN",
            c.http.listen
        ),
        Ok(c) => {
            // It is the web user `admin`'s password: applied (and their sessions ended) now
            // when the catalog exists, else by the next `serve`.
            if c.catalog().exists() {
                if let Ok(cat) = crate::catalog::Catalog::open(&c.catalog(), false) {
                    let _ = cat.import_config_password(&hash, jiff::Timestamp::now().as_millisecond());
                }
            }
            println!("this is the password of the web user `admin`; restart `camvault serve` if it runs")
        }
        Err(e) => println!("note: the config has another problem to fix: {e:#}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Twice without echo on a terminal; one line from stdin otherwise (scripts, tests).
pub(super) fn read_password() -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_string());
    }
    let first = prompt("New web password: ")?;
    let second = prompt("Again: ")?;
    if first != second {
        bail!("the two passwords differ; nothing changed");
    }
    Ok(first)
}

fn prompt(what: &str) -> Result<String> {
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    eprint!("{what}");
    std::io::stderr().flush()?;
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).context("cannot read the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes -= LocalModes::ECHO;
    tcsetattr(&stdin, OptionalActions::Now, &quiet).context("cannot turn off echo")?;
    let mut line = String::new();
    let r = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, OptionalActions::Now, &saved);
    eprintln!();
    r?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Sets `key = value` in the `[http]` section, keeping every other line as it is.
pub fn set_http_key(text: &str, key: &str, value: &str) -> String {
    let mut out = Vec::new();
    let (mut in_http, mut done) = (false, false);
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            if in_http && !done {
                out.push(format!("{key} = {value}"));
                done = true;
            }
            in_http = t == "[http]";
        } else if in_http && t.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
            if !done {
                out.push(format!("{key} = {value}"));
                done = true;
            }
            continue;
        }
        out.push(line.to_string());
    }
    if in_http && !done {
        out.push(format!("{key} = {value}"));
        done = true;
    }
    if !done {
        out.push(String::new());
        out.push("[http]".into());
        out.push(format!("{key} = {value}"));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// Replaces `path` atomically with `text`, mode 0600, owned by `owner` when given (the
/// service user, for files `setup` writes as root).
pub(super) fn write_private(path: &Path, text: &str, owner: Option<(u32, u32)>) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().map_or("camvault".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp); // left by a run of the same pid that crashed
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
                .with_context(|| format!("cannot chown {}", tmp.display()))?;
        }
    }
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::set_http_key;

    #[test]
    fn sets_the_key_in_the_http_section_only() {
        let t = "[log]\npassword_hash = \"x\"\n[http]\nlisten = \"a\"\npassword_hash = \"old\"\n[health]\nk = 1\n";
        let n = set_http_key(t, "password_hash", "\"new\"");
        assert_eq!(
            n,
            "[log]\npassword_hash = \"x\"\n[http]\nlisten = \"a\"\npassword_hash = \"new\"\n[health]\nk = 1\n"
        );
        let n = set_http_key("[http]\nlisten = \"a\"\n[x]\n", "password_hash", "\"h\"");
        assert_eq!(n, "[http]\nlisten = \"a\"\npassword_hash = \"h\"\n[x]\n");
        let n = set_http_key("[log]\n", "password_hash", "\"h\"");
        assert_eq!(n, "[log]\n\n[http]\npassword_hash = \"h\"\n");
    }
}
