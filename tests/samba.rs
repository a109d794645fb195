//! The camera's share, end to end: Debian's real smbd, and smbclient speaking SMB1 as the camera.
//! These tests need root (a system user for the camera) and Samba; `.ci/run` installs it.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

use common::samba::{set_password, PASS, USER};

fn prerequisites() -> bool {
    // smbd and smbclient; pysmb (the camera) from the test venv.
    common::samba::prerequisites() && ready(&PYTHON)
}

/// smbclient as the camera: SMB1 only. Commands come on stdin, one per line.
fn smb(addr: &str, port: u16, user: &str, pass: &str, commands: &str) -> String {
    let mut child = Command::new("timeout")
        .args(["300", "smbclient"])
        .arg(format!("//{addr}/camera"))
        .args(["-p", &port.to_string(), "-U", &format!("{user}%{pass}")])
        .args(["--option=client min protocol=NT1", "--option=client max protocol=NT1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let commands_owned = commands.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(commands_owned.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    format!("{}{}", stdout(&out), stderr(&out))
}

struct Share {
    env: Env,
    port: u16,
    serve: Option<Child>,
}

impl Share {
    /// A data dir whose `serve` runs smbd on a free port, with the camera user set up.
    fn start(settle: u64, grace: u64) -> Share {
        let (env, port, serve) = common::samba::managed_share(
            settle,
            grace,
            "[\"127.0.0.1\", \"127.0.0.2\"]",
            "capture.rescan_secs = 5",
        );
        Share {
            env,
            port,
            serve: Some(serve),
        }
    }

    fn camera(&self, commands: &str) -> String {
        smb("127.0.0.1", self.port, USER, PASS, commands)
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        if let Some(mut s) = self.serve.take() {
            let _ = Command::new("kill").args(["-TERM", &s.id().to_string()]).status();
            let _ = s.wait();
        }
    }
}

#[test]
fn camera_over_smb1_everything_captured_once_and_deletes_refused() {
    if !prerequisites() {
        return;
    }
    let share = Share::start(2, 15);
    let env = &share.env;
    let local = tempfile::tempdir().unwrap();
    let mut inputs: BTreeMap<String, Vec<u8>> = BTreeMap::new();

    // A day of old-layout clips in one session, as the camera backfills after an outage.
    let day_start = now_unix() - 2 * 86_400;
    let mut cmds = String::new();
    let mut dirs = std::collections::BTreeSet::new();
    for i in 0..1440 {
        let rel = old_clip(day_start + i * 60);
        let data = bytes(i as u64, 1500 + (i as usize % 7) * 100);
        let lp = local.path().join(format!("clip{i}"));
        std::fs::write(&lp, &data).unwrap();
        let parts: Vec<&str> = rel.split('/').collect();
        for d in 1..parts.len() {
            let dir = parts[..d].join("\\");
            if dirs.insert(dir.clone()) {
                cmds.push_str(&format!("mkdir {dir}\n"));
            }
        }
        cmds.push_str(&format!("put {} {}\n", lp.display(), rel.replace('/', "\\")));
        inputs.insert(rel, data);
    }
    let out = share.camera(&cmds);
    assert!(
        !out.contains("NT_STATUS_ACCESS_DENIED"),
        "{}",
        &out[..out.len().min(2000)]
    );

    // A new-layout file written in place in appends a second apart, in one SMB1 session
    // through pysmb (smbclient cannot append): the camera's pace, under the 2 s settle.
    let grow_rel = format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003141600.mp4");
    let mut all = Vec::new();
    let mut chunks = Vec::new();
    share.camera(&format!("mkdir XiaomiCamera_00_{NEW_MAC}\n"));
    for part in 0..4u64 {
        let data = bytes(5000 + part, 30_000);
        let chunk = local.path().join(format!("chunk{part}"));
        std::fs::write(&chunk, &data).unwrap();
        all.extend(data);
        chunks.push(chunk);
    }
    let st = Command::new(test_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smb_append.py"))
        .args(["127.0.0.1", &share.port.to_string(), USER, PASS, "camera", &grow_rel])
        .args(&chunks)
        .env("SMB_APPEND_PACE", "1")
        .status()
        .unwrap();
    assert!(st.success(), "append over SMB1");
    assert_eq!(
        std::fs::metadata(env.inbox().join(&grow_rel)).unwrap().len(),
        all.len() as u64,
        "four appends in place"
    );
    inputs.insert(grow_rel.clone(), all);

    let n = inputs.len();
    let s = env.wait_status(Duration::from_secs(180), |s| s["files"]["verified"] == n);
    assert_eq!(
        s["files"]["total"], n,
        "each file captured exactly once, only when complete: {s:#}"
    );
    let mut stored: Vec<Vec<u8>> = env.objects().into_values().collect();
    let mut expected: Vec<Vec<u8>> = inputs.values().cloned().collect();
    stored.sort();
    expected.sort();
    if stored != expected {
        let objects = env.objects();
        for (rel, data) in &inputs {
            let name = rel.rsplit('/').next().unwrap();
            match objects.iter().find(|(k, _)| k.ends_with(name)) {
                Some((k, v)) if v != data => {
                    panic!("{k}: {} bytes stored, {} written", v.len(), data.len())
                }
                None => panic!("{rel} not in the store"),
                _ => {}
            }
        }
        panic!("the store holds other bytes than written");
    }

    // Past the grace period, the camera can no longer delete, rename or overwrite.
    let victim = inputs.keys().next().unwrap().clone();
    let vpath = env.inbox().join(&victim);
    let age = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        now_unix() - std::os::unix::fs::MetadataExt::ctime(&m)
    };
    while age(&vpath) <= 16 {
        std::thread::sleep(Duration::from_millis(200)); // waiting out the grace period itself
    }
    let win = victim.replace('/', "\\");
    let other = local.path().join("other");
    std::fs::write(&other, b"overwrite attempt").unwrap();
    for (what, cmd) in [
        ("delete", format!("del {win}\n")),
        ("rename", format!("rename {win} {win}.x\n")),
        ("overwrite", format!("put {} {win}\n", other.display())),
    ] {
        let out = share.camera(&cmd);
        assert!(out.contains("NT_STATUS_ACCESS_DENIED"), "{what} must be refused: {out}");
    }
    assert_eq!(std::fs::read(&vpath).unwrap(), inputs[&victim], "the file is unchanged");

    // Inside the grace period after capture, the camera can still delete: camvault keeps it.
    let late = format!("XiaomiCamera_00_{NEW_MAC}/00_20251003150000_20251003150100.mp4");
    let lp = local.path().join("late");
    std::fs::write(&lp, b"deleted by the camera right after capture").unwrap();
    let out = share.camera(&format!("put {} {}\n", lp.display(), late.replace('/', "\\")));
    assert!(out.contains("putting file") && !out.contains("NT_STATUS"), "{out}");
    let t_put = Instant::now();
    env.wait_status(Duration::from_secs(30), |s| s["files"]["total"] == n + 1);
    assert!(
        t_put.elapsed() < Duration::from_secs(12),
        "capture took longer than the grace period allows for this test:\n{}",
        std::fs::read_to_string(env.serve_log())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("150000_")
                || l.contains("scan")
                || l.contains("inbox event")
                || l.contains("notification"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let out = share.camera(&format!("del {}\n", late.replace('/', "\\")));
    assert!(
        !out.contains("NT_STATUS"),
        "inside the grace period the delete goes through: {out}"
    );
    assert!(!env.inbox().join(&late).exists());
    env.wait_status(Duration::from_secs(30), |s| s["files"]["verified"] == n + 1);
    assert!(env
        .objects()
        .values()
        .any(|v| v == b"deleted by the camera right after capture"));

    // The attempts are in status, with the client's address and the path.
    let s = env.wait_status(Duration::from_secs(20), |s| {
        s["deletion_attempts"]["total"].as_u64() >= Some(4)
    });
    let d = &s["deletion_attempts"];
    assert!(d["denied"].as_u64().unwrap() >= 3, "{d:#}");
    let latest = d["latest"].as_array().unwrap();
    assert!(
        latest.iter().any(|a| a["client"] == "127.0.0.1"
            && a["user"] == USER
            && a["path"].as_str().unwrap().ends_with(&victim)
            && a["denied"] == true),
        "{d:#}"
    );
    assert!(
        latest
            .iter()
            .any(|a| a["op"] == "delete" && a["denied"] == false && a["path"].as_str().unwrap().ends_with(&late)),
        "{d:#}"
    );
    assert!(
        d["bursts"].as_array().unwrap().len() <= 2,
        "one burst per run of attempts: {d:#}"
    );
    let human = env.ok(&["status"]);
    assert!(human.contains("127.0.0.1") && human.contains("refused"), "{human}");

    // And the share check proves the protection.
    let out = env.run(&["samba", "check"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("delete of a file older than the grace period is refused"),
        "{}",
        stdout(&out)
    );
    assert!(
        !stdout(&out).contains(PASS) && !stderr(&out).contains(PASS),
        "the password never shows"
    );
    // What the Mi Home app has the camera do during setup, and the camera when it records.
    for step in [
        "lists the server's shares over SMB1 and sees [camera]",
        "lists the share's folder",
        "creates a folder, writes a file and renames it",
    ] {
        assert!(stdout(&out).contains(step), "{step}: {}", stdout(&out));
    }
    // It cleaned up after itself (within the grace, worm allows it).
    let left: Vec<_> = std::fs::read_dir(env.inbox().join(".camvault"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("setup-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let s = env.status();
    assert_eq!(s["files"]["total"], n + 1, "the check's probe is not a recording");
}

#[test]
fn strangers_wrong_passwords_and_escapes_are_refused() {
    if !prerequisites() {
        return;
    }
    let share = Share::start(2, 300);
    let env = &share.env;
    let out = smb("127.0.0.1", share.port, USER, "wrong", "ls\n");
    assert!(out.contains("NT_STATUS_LOGON_FAILURE"), "{out}");
    // 127.0.0.2 is not in hosts allow.
    let out = smb("127.0.0.2", share.port, USER, PASS, "ls\n");
    assert!(
        !out.contains("blocks of size") && out.contains("NT_STATUS_"),
        "a stranger is refused: {out}"
    );

    std::fs::write(env.root().join("secret.txt"), b"outside the share").unwrap();
    std::os::unix::fs::symlink(env.root(), env.inbox().join("escape")).unwrap();
    let dl = tempfile::tempdir().unwrap();
    for target in [
        "..\\secret.txt",
        "\\..\\secret.txt",
        "escape\\secret.txt",
        "..\\camvault.toml",
    ] {
        let dest = dl.path().join("got");
        let out = share.camera(&format!("get {target} {}\n", dest.display()));
        assert!(
            !out.contains("getting file") && !dest.exists(),
            "{target} must not be readable: {out}"
        );
    }
    let out = share.camera("cd ..\nls\n");
    assert!(
        !out.contains("camvault.toml") && !out.contains("catalog.sqlite"),
        "{out}"
    );

    // smbd dies: serve starts it again.
    let pidfile = env.root().join("samba/run/smbd.pid");
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_string();
    assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    wait_for(Duration::from_secs(30), "smbd to be restarted", || {
        let now = std::fs::read_to_string(&pidfile).unwrap_or_default().trim().to_string();
        !now.is_empty() && now != pid && std::net::TcpStream::connect(("127.0.0.1", share.port)).is_ok()
    });
    let out = share.camera("ls\n");
    assert!(out.contains("blocks of size"), "the share works again: {out}");
    assert!(std::fs::read_to_string(env.serve_log())
        .unwrap()
        .contains("smbd exited"));
}

/// Starts a plain smbd of our own (not camvault's) on `conf`.
fn plain_smbd(conf: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    Command::new("/usr/sbin/smbd")
        .args(["--foreground", "--no-process-group", "-s"])
        .arg(conf)
        .process_group(0) // smbd signals its whole group when it stops
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn check_fails_without_worm_and_on_the_chmod_773_setup() {
    if !prerequisites() {
        return;
    }
    for variant in ["no-worm", "chmod-773", "read-only"] {
        let port = free_port();
        let env = Env::new(1, &format!(
            "samba.port = {port}\nsamba.camera_user = \"{USER}\"\nsamba.config_file = \"smb.conf\"\nsamba.running_config = \"smb.conf\"\nsamba.password_file = \"camera.pw\""
        ));
        std::fs::write(env.root().join("camera.pw"), PASS).unwrap();
        let st = env.root().join("st");
        for d in ["private", "lock", "state", "cache", "run/ncalrpc", "log"] {
            std::fs::create_dir_all(st.join(d)).unwrap();
        }
        let share_opts = if variant == "no-worm" {
            "force user = root\n   vfs objects = full_audit".to_string()
        } else if variant == "read-only" {
            // Protected, but the camera can write nothing: the setup steps must say so.
            "read only = yes\n   vfs objects = full_audit worm\n   worm:grace_period = 2".to_string()
        } else {
            // The user's current setup: a share root at 773 and nothing else.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(env.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::set_permissions(env.inbox(), std::fs::Permissions::from_mode(0o773)).unwrap();
            "create mask = 0777".to_string()
        };
        let conf: PathBuf = env.root().join("smb.conf");
        std::fs::write(
            &conf,
            format!(
                "[global]\n   server min protocol = NT1\n   ntlm auth = ntlmv1-permitted\n   smb ports = {port}\n   interfaces = 127.0.0.1\n   bind interfaces only = yes\n   disable netbios = yes\n   load printers = no\n   private dir = {s}/private\n   lock directory = {s}/lock\n   state directory = {s}/state\n   cache directory = {s}/cache\n   pid directory = {s}/run\n   ncalrpc dir = {s}/run/ncalrpc\n   passdb backend = tdbsam:{s}/private/passdb.tdb\n   log file = {s}/log/smbd.log\n[camera]\n   path = {inbox}\n   valid users = {USER}\n   read only = no\n   {share_opts}\n",
                s = st.display(),
                inbox = env.inbox().display()
            ),
        )
        .unwrap();
        set_password(&conf);
        let mut smbd = plain_smbd(&conf);
        wait_port("127.0.0.1", port, "smbd", Duration::from_secs(30));
        let out = env.run(&["samba", "check"]);
        let _ = smbd.kill();
        let _ = smbd.wait();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{variant}: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        let text = stdout(&out);
        if variant == "read-only" {
            assert!(
                text.contains("FAIL  the camera user cannot create a folder, write a file, rename a file"),
                "{variant}: {text}"
            );
            continue;
        }
        assert!(text.contains("no vfs_worm"), "{variant}: {text}");
        assert!(
            text.contains("PROTECTION OFF"),
            "{variant}: the live probe shows it: {text}"
        );
    }
}

#[test]
fn samba_config_is_accepted_by_testparm() {
    let env = Env::new(1, "samba.hosts_allow = [\"192.168.1.0/24\"]\nsamba.grace_secs = 600");
    let out = env.ok(&["samba", "config"]);
    assert!(
        out.contains("useradd") && out.contains("smbpasswd"),
        "prints the setup steps: {out}"
    );
    // With Debian's smbd, [global] weakens every share: the output says so.
    assert!(
        out.contains("apply to EVERY share") && out.contains("samba.manage = true"),
        "{out}"
    );
    // A share acting as root is refused, naming the key and the fix.
    for (edit, key) in [
        ("samba.force_user = \"root\"", "samba.force_user"),
        ("samba.camera_user = \"root\"", "samba.camera_user"),
        ("samba.force_group = \"root\"", "samba.force_group"),
    ] {
        let bad = Env::new(1, edit);
        for args in [&["samba", "config"][..], &["serve"][..]] {
            let out = bad.run(args);
            assert!(!out.status.success(), "{edit}: {args:?} must refuse");
            let err = stderr(&out);
            assert!(
                err.contains(key) && err.contains("never act as root") && err.contains("useradd"),
                "{err}"
            );
        }
    }
    let conf = env.root().join("written.conf");
    env.ok(&["samba", "config", "--write", conf.to_str().unwrap()]);
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("worm:grace_period = 600") && text.contains("hosts allow = 192.168.1.0/24"));
    if Path::new("/usr/bin/testparm").exists() {
        let out = Command::new("testparm")
            .args(["-s", "--suppress-prompt"])
            .arg(&conf)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let parsed = stdout(&out);
        assert!(
            parsed.contains("vfs objects = full_audit worm") && parsed.contains("server min protocol = NT1"),
            "{parsed}"
        );
        // NetBIOS on (the default): the session service port 139 beside 445, which is
        // Samba's own default (testparm -s leaves defaults out).
        assert!(text.contains("smb ports = 445 139"), "{text}");
        assert!(
            !parsed.contains("smb ports") || parsed.contains("smb ports = 445 139"),
            "{parsed}"
        );
    }
}

/// Runs tests/smb_attack.py as the camera over SMB1 in `dir` of the share; returns the NT
/// status the server gave each attack ("0x00000000" = done).
fn attack(port: u16, dir: &str) -> serde_json::Map<String, serde_json::Value> {
    let out = Command::new(test_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smb_attack.py"))
        .args(["127.0.0.1", &port.to_string(), USER, PASS, "camera", dir])
        .output()
        .unwrap();
    assert!(out.status.success(), "smb_attack.py: {}{}", stdout(&out), stderr(&out));
    serde_json::from_str::<serde_json::Value>(stdout(&out).trim())
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

fn id(flag: &str, name: &str) -> u32 {
    let out = Command::new("id").args([flag, name]).output().unwrap();
    stdout(&out).trim().parse().unwrap()
}

/// The configuration `camvault samba config` generated before issue 13, for an inbox owned
/// by root (the normal case with `samba.manage = true`): `force user = root`, and SMB1 UNIX
/// extensions at Samba's default (on).
fn old_generated_config(env: &Env, port: u16) -> PathBuf {
    let st = env.root().join("samba");
    for d in ["private", "lock", "state", "cache", "run/ncalrpc"] {
        std::fs::create_dir_all(st.join(d)).unwrap();
    }
    let conf = env.root().join("smb.conf");
    std::fs::write(
        &conf,
        format!(
            "[global]\n   server min protocol = NT1\n   ntlm auth = ntlmv1-permitted\n   netbios name = CAMVAULT\n   workgroup = WORKGROUP\n   server string = camvault\n   disable netbios = yes\n   smb ports = {port}\n   interfaces = 127.0.0.1\n   bind interfaces only = yes\n   hosts allow = 127.0.0.1\n   hosts deny = ALL\n   map to guest = never\n   restrict anonymous = 2\n   load printers = no\n   printing = bsd\n   printcap name = /dev/null\n   disable spoolss = yes\n   private dir = {s}/private\n   lock directory = {s}/lock\n   state directory = {s}/state\n   cache directory = {s}/cache\n   pid directory = {s}/run\n   ncalrpc dir = {s}/run/ncalrpc\n   passdb backend = tdbsam:{s}/private/passdb.tdb\n   log file = {s}/log.smbd\n   max log size = 10000\n   log level = 1\n\n[camera]\n   comment = camvault inbox: recordings are archived, never deleted\n   path = {inbox}\n   valid users = {USER}\n   force user = root\n   read only = no\n   browseable = yes\n   guest ok = no\n   create mask = 0644\n   directory mask = 0755\n   wide links = no\n   vfs objects = full_audit worm\n   worm:grace_period = 2\n   full_audit:prefix = camvault|%T|%I|%U\n   full_audit:success = unlinkat renameat\n   full_audit:failure = unlinkat renameat create_file\n   full_audit:syslog = false\n   full_audit:log_secdesc = false\n",
            s = st.display(),
            inbox = env.inbox().display()
        ),
    )
    .unwrap();
    conf
}

/// Finding 1 of issue 13: the camera's account, whose NTLMv1 password anyone on the LAN can
/// crack, made root's device nodes, setuid files, symlinks to /etc/shadow and chowns through
/// the old configuration. The attack runs against it (and must succeed, or this test proves
/// nothing), `samba check` must fail on it, and the same attack must fail on the share
/// `camvault serve` runs now, where `samba check` passes.
#[test]
fn hostile_camera_account_gets_root_from_the_old_config_and_nothing_from_the_new() {
    if !prerequisites() {
        return;
    }
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    // The old configuration: everything goes through, as root.
    let port = free_port();
    let env = Env::new(
        300,
        &format!(
            "samba.port = {port}\nsamba.camera_user = \"{USER}\"\nsamba.config_file = \"smb.conf\"\nsamba.running_config = \"smb.conf\"\nsamba.password_file = \"camera.pw\"\nsamba.grace_secs = 2"
        ),
    );
    std::fs::write(env.root().join("camera.pw"), PASS).unwrap();
    let conf = old_generated_config(&env, port);
    set_password(&conf);
    let mut smbd = plain_smbd(&conf);
    wait_port("127.0.0.1", port, "smbd", Duration::from_secs(30));
    let r = attack(port, "attack");
    let check = env.run(&["samba", "check"]);
    let _ = smbd.kill();
    let _ = smbd.wait();
    for (k, v) in &r {
        assert_eq!(v, "0x00000000", "old config: {k} went through: {r:?}");
    }
    let a = env.inbox().join("attack");
    let dev = std::fs::symlink_metadata(a.join("dev")).unwrap();
    assert!(
        dev.file_type().is_char_device() && dev.uid() == 0,
        "a root-owned device node"
    );
    let file = std::fs::symlink_metadata(a.join("file")).unwrap();
    assert_eq!(file.mode() & 0o7777, 0o7777, "setuid, setgid, sticky, world-writable");
    assert_eq!(std::fs::read_link(a.join("shadow")).unwrap(), Path::new("/etc/shadow"));
    assert_eq!(std::fs::read_link(a.join("up")).unwrap(), Path::new(".."));
    assert_eq!(
        std::fs::metadata(&a).unwrap().uid(),
        1,
        "the folder was given to another user"
    );
    let text = stdout(&check);
    assert_eq!(
        check.status.code(),
        Some(1),
        "samba check must fail on the old config:\n{text}{}",
        stderr(&check)
    );
    for needle in [
        "FAIL  the share acts as root (force user = root)",
        "FAIL  SMB1 UNIX extensions are on",
        "FAIL  the server grants SMB1 UNIX extensions to the camera user",
        "FAIL  the camera user could create a symlink to /etc/shadow over SMB1",
        "FAIL  the camera user could chmod 7777 a folder over SMB1",
        "FAIL  `follow symlinks` is on",
        "FAIL  a file the camera writes belongs to uid 0",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }

    // The share `serve` runs now: the same attack, refused; the camera's files are its own.
    let share = Share::start(300, 3);
    let env = &share.env;
    let r = attack(share.port, "attack");
    for k in [
        "posix",
        "mknod",
        "chmod",
        "chown",
        "symlink_shadow",
        "symlink_up",
        "unix_hardlink",
    ] {
        assert_ne!(r[k], "0x00000000", "{k} must be refused: {r:?}");
    }
    let a = env.inbox().join("attack");
    for name in ["dev", "shadow", "up", "uhl"] {
        assert!(
            std::fs::symlink_metadata(a.join(name)).is_err(),
            "{name} must not exist"
        );
    }
    let (uid, gid) = (id("-u", USER), id("-g", USER));
    let file = std::fs::symlink_metadata(a.join("file")).unwrap();
    assert_eq!((file.uid(), file.gid(), file.mode() & 0o7777), (uid, gid, 0o660));
    let dir = std::fs::metadata(&a).unwrap();
    assert_eq!((dir.uid(), dir.gid()), (uid, gid), "the folder stays the camera's own");
    assert_eq!(dir.mode() & 0o7007, 0o2000 & dir.mode(), "no access for others");
    let inbox = std::fs::metadata(env.inbox()).unwrap();
    assert_eq!(
        (inbox.uid(), inbox.mode() & 0o7777),
        (uid, 0o2770),
        "serve gave the inbox to the share's user"
    );

    // An NT hard link (SMB_COM_NT_RENAME) needs no UNIX extensions and Samba has no option
    // against it; on Samba 4.17 it does not reopen vfs_worm's grace period of an old file.
    assert_eq!(r["nt_hardlink"], "0x00000000", "{r:?}");
    assert_eq!(
        std::fs::metadata(a.join("nthl")).unwrap().ino(),
        file.ino(),
        "the NT hard link exists"
    );
    let v = Command::new("/usr/sbin/smbd").arg("-V").output().unwrap();
    if stdout(&v).contains("Version 4.17.") {
        let local = tempfile::tempdir().unwrap();
        let lp = local.path().join("old");
        std::fs::write(&lp, b"an old recording").unwrap();
        let out = share.camera(&format!("put {} old\n", lp.display()));
        assert!(out.contains("putting file"), "{out}");
        let old = env.inbox().join("old");
        while now_unix() - std::fs::metadata(&old).unwrap().mtime() <= 4 {
            std::thread::sleep(Duration::from_millis(200)); // waiting out the grace period itself
        }
        let out = share.camera("hardlink old old2\n");
        assert!(!out.contains("NT_STATUS"), "{out}");
        for cmd in [
            "del old\n",
            "del old2\n",
            "rename old2 old3\n",
            &format!("put {} old\n", lp.display()),
        ] {
            let out = share.camera(cmd);
            assert!(out.contains("NT_STATUS_ACCESS_DENIED"), "{cmd}: {out}");
        }
        assert_eq!(std::fs::read(&old).unwrap(), b"an old recording");
    } else {
        eprintln!("NOTE: not Samba 4.17: an NT hard link may reopen vfs_worm's grace period (docs/security.md)");
    }

    let out = env.run(&["samba", "check"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    for needle in [
        format!("ok    the share acts as {USER}, not root"),
        "ok    the server refuses SMB1 UNIX extensions to the camera user".to_string(),
        format!("ok    files the camera writes belong to uid {uid} gid {gid}, mode 660"),
    ] {
        assert!(text.contains(&needle), "missing {needle:?} in\n{text}");
    }
}

/// Option B of docs/samba.md: camvault runs as an unprivileged user, and the share acts as the
/// camera's own user. With fs.protected_hardlinks = 1, camvault can hard-link a file it does
/// not own only if it can read and write it: the share writes 0660 files with camvault's
/// group (`force group`), so capture links them, and other local users cannot read them.
#[test]
fn unprivileged_camvault_captures_what_the_share_writes_as_the_camera() {
    if !prerequisites() {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (svc, group) = ("camvsvc", "camvsvc");
    if !Command::new("id").arg(svc).output().unwrap().status.success() {
        let st = Command::new("useradd")
            .args(["--system", "--user-group", "-M", "-s", "/usr/sbin/nologin", svc])
            .status()
            .unwrap();
        assert!(st.success(), "useradd {svc}");
    }
    let protected = std::fs::read_to_string("/proc/sys/fs/protected_hardlinks").unwrap_or_default();
    assert_eq!(protected.trim(), "1", "the case this test is about: Debian's default");

    let port = free_port();
    let env = Env::new(
        1,
        &format!(
            "samba.manage = true\nsamba.port = {port}\nsamba.netbios = false\nsamba.camera_user = \"{USER}\"\n\
             samba.hosts_allow = [\"127.0.0.1\"]\nsamba.interfaces = [\"127.0.0.1\"]\ncache.max_days = 36500"
        ),
    );
    // The data directory belongs to the service user, as `chown -R camvault:camvault` in 2.3.
    let st = Command::new("chown")
        .args(["-R", &format!("{svc}:{group}")])
        .arg(env.root())
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::set_permissions(env.root(), std::fs::Permissions::from_mode(0o711)).unwrap();
    // Generated as root (like `samba config --write`): the group is the vault's, camvault's.
    let conf = env.root().join("samba/smb.conf");
    let out = env.ok(&["samba", "config", "--write", conf.to_str().unwrap()]);
    assert!(out.contains(&format!("belongs to {USER}:{group}, mode 2770")), "{out}");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains(&format!("force user = {USER}")) && text.contains(&format!("force group = {group}")),
        "{text}"
    );
    set_password(&conf);
    // Debian's smbd runs as root; camvault does not.
    let mut smbd = plain_smbd(&conf);
    wait_port("127.0.0.1", port, "smbd", Duration::from_secs(30));
    let local = tempfile::tempdir().unwrap();
    let rel = old_clip(now_unix() - 3600);
    let data = bytes(7, 4000);
    let lp = local.path().join("clip");
    std::fs::write(&lp, &data).unwrap();
    let parts: Vec<&str> = rel.split('/').collect();
    let mut cmds = String::new();
    for d in 1..parts.len() {
        cmds.push_str(&format!("mkdir {}\n", parts[..d].join("\\")));
    }
    cmds.push_str(&format!("put {} {}\n", lp.display(), rel.replace('/', "\\")));
    let out = smb("127.0.0.1", port, USER, PASS, &cmds);
    let _ = smbd.kill();
    let _ = smbd.wait();
    assert!(out.contains("putting file"), "{out}");
    let inboxed = std::fs::metadata(env.inbox().join(&rel)).unwrap();
    assert_eq!(inboxed.mode() & 0o7777, 0o660, "written 0660");
    assert_eq!(
        inboxed.uid(),
        id("-u", USER),
        "owned by the camera's user, not camvault"
    );

    std::thread::sleep(Duration::from_millis(1100)); // settle_secs = 1: the file must be quiet
    let out = Command::new("setpriv")
        .args(["--reuid", svc, "--regid", group, "--init-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_camvault"))
        .arg("--config")
        .arg(env.config())
        .args(["ingest", "--once"])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ingest as {svc}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    // Captured by a hard link (the same inode), not a copy, and stored intact.
    let linked = walk(&env.vault())
        .into_iter()
        .find(|p| std::fs::metadata(p).unwrap().ino() == inboxed.ino());
    assert!(
        linked.is_some(),
        "the vault holds a hard link to the camera's file: {}",
        stderr(&out)
    );
    assert!(env.objects().values().any(|v| v == &data), "stored intact");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
