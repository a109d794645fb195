//! Issue 13, finding 10: footage, catalog and restores are the service user's only, and
//! `doctor` finds what older versions left readable by every local user and says what to run.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;

/// Every file and folder below `dir` (not following links), with its mode.
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        out.push((p.clone(), m.permissions().mode() & 0o7777));
        if m.is_dir() {
            out.extend(modes(&p));
        }
    }
    out
}

/// `camvault passwd`'s hash of "correct horse battery staple".
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$xjLMOyZY3nMAhG4X1Ldlbw$Ot2TsKNo8iS6Pu/Xq/0IZqsDtDGO+tc9yxGODsRaRcU";

#[test]
fn data_is_for_the_service_user_only_and_doctor_says_what_to_fix() {
    let env = Env::new(1, "");
    let data = bytes(3, 40_000);
    env.put_old(&old_clip(now_unix() - 3600), &data);
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.status()["files"]["verified"], 1);
    let from = jiff::Timestamp::from_second(now_unix() - 2 * 3600).unwrap().to_string();
    let to = jiff::Timestamp::from_second(now_unix()).unwrap().to_string();
    env.ok(&["restore", "--from", &from, "--to", &to, "--tier", "expedited", "--yes"]);
    let restored = modes(&env.root().join("restores"));
    assert!(
        restored
            .iter()
            .any(|(p, _)| std::fs::read(p).ok().as_deref() == Some(&data[..])),
        "the clip was restored: {restored:?}"
    );

    // What camvault made: nothing for group or others. The vault's files are the inbox's
    // (hard links, written by the camera, here by this test): their folders are checked.
    let mut made = modes(&env.root().join("restores"));
    made.extend(modes(&env.store()));
    made.extend(modes(&env.vault()).into_iter().filter(|(p, _)| p.is_dir()));
    for name in ["vault", "store", "restores", "catalog.sqlite", "camvault.toml"] {
        let p = env.root().join(name);
        made.push((p.clone(), std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777));
    }
    assert!(made.len() > 8, "{made:?}");
    for (p, m) in &made {
        assert_eq!(m & 0o077, 0, "{} is mode {m:o}", p.display());
    }
    let out = env.ok(&["doctor"]);
    assert!(out.contains("readable by camvault's user only"), "{out}");

    // What an older camvault left: a config with the web password hash at 0644, a vault and
    // a catalog open to everyone. doctor fails and names each fix; after them, it passes.
    let cfg = env.config();
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, set_key(&text, "http", "password_hash", &format!("\"{HASH}\""))).unwrap();
    let set = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    set(&cfg, 0o644);
    set(&env.vault(), 0o755);
    set(&env.root().join("catalog.sqlite"), 0o644);
    let out = env.run(&["doctor"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for needle in [
        "holds `http.password_hash` but is readable by others (mode 644)".to_string(),
        format!("chmod 600 {}", cfg.display()),
        format!(
            "`paths.vault` {} is open to other users (mode 755)",
            env.vault().display()
        ),
        format!("chmod 700 {}", env.vault().display()),
        "catalog.sqlite is readable by others (mode 644)".to_string(),
    ] {
        assert!(text.contains(&needle), "missing {needle:?} in\n{text}");
    }
    set(&cfg, 0o600);
    set(&env.vault(), 0o700);
    set(&env.root().join("catalog.sqlite"), 0o600);
    let out = env.ok(&["doctor"]);
    assert!(out.contains("readable by camvault's user only"), "{out}");
}
