//! What the Samba tests share (tests/samba.rs, tests/cameras.rs): the camera's system user,
//! its Samba password, and a data dir whose `serve` runs the generated share on the real
//! smbd.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use super::{free_port, ready, wait_port, Env, SAMBA};

/// The camera's system user and its Samba password.
pub const USER: &str = "camtest";
pub const PASS: &str = "Camera-Pa55";

/// The Samba tests need root (a system user for the camera) and smbd; CI runs as root.
/// Creates the camera's user once.
pub fn prerequisites() -> bool {
    if !Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
    {
        eprintln!("SKIPPED: the Samba tests need root (CI runs as root)");
        return false;
    }
    static USER_ONCE: Once = Once::new();
    USER_ONCE.call_once(|| {
        if !Command::new("id").arg(USER).output().unwrap().status.success() {
            let st = Command::new("useradd")
                .args(["-M", "-s", "/usr/sbin/nologin", USER])
                .status()
                .unwrap();
            // Another test binary may have created it meanwhile.
            assert!(
                st.success() || Command::new("id").arg(USER).output().unwrap().status.success(),
                "useradd"
            );
        }
    });
    ready(&SAMBA)
}

/// Gives the camera user its Samba password in the passdb `conf` names.
pub fn set_password(conf: &Path) {
    let mut pw = Command::new("smbpasswd")
        .arg("-c")
        .arg(conf)
        .args(["-s", "-a", USER])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    pw.stdin
        .take()
        .unwrap()
        .write_all(format!("{PASS}\n{PASS}\n").as_bytes())
        .unwrap();
    assert!(pw.wait().unwrap().success(), "smbpasswd");
}

/// A data dir (`settle` s, `extra` config lines) whose `serve` runs the generated share on
/// the real smbd on a free port, listening on `interfaces`, with the camera's user set up;
/// returns when smbd answers.
pub fn managed_share(settle: u64, grace: u64, interfaces: &str, extra: &str) -> (Env, u16, Child) {
    let port = free_port();
    let env = Env::new(
        settle,
        &format!(
            "samba.manage = true\nsamba.port = {port}\nsamba.netbios = false\nsamba.grace_secs = {grace}\n\
             samba.camera_user = \"{USER}\"\nsamba.hosts_allow = [\"127.0.0.1\"]\n\
             samba.interfaces = {interfaces}\nsamba.password_file = \"camera.pw\"\n\
             cache.max_days = 36500\n{extra}"
        ),
    );
    std::fs::write(env.root().join("camera.pw"), PASS).unwrap();
    // The share acts as the camera's own user, which must be able to reach the inbox.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.root(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let conf = env.root().join("samba/smb.conf");
    env.ok(&["samba", "config", "--write", conf.to_str().unwrap()]);
    set_password(&conf);
    let serve = env.serve();
    wait_port("127.0.0.1", port, "smbd", Duration::from_secs(30));
    (env, port, serve)
}
