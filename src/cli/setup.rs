//! `camvault setup`: from an installed package to a protected share and a running service.
//!
//! Asks on a terminal, or reads an answers file (`--answers FILE`, TOML) for tests and
//! automation; every answer not given defaults to what the config already says, so a rerun
//! shows the current answers and changes only what the user changes (`config_edit.rs` edits
//! the config in place, comments kept). Nothing is written before the store answered
//! (`store test` on a candidate config): wrong credentials or an unreachable store leave
//! everything as it was. Then: the camera's system user and Samba password, `samba config
//! --write`, the include in Debian's smb.conf, a reload of smbd, `samba check` (on failure the
//! include is taken out again), `doctor`, the lifecycle rule if wanted, the service, and what
//! to type into the Xiaomi Home app. Steps that touch the data run as the service user, so
//! every file they create is the service's (docs/packaging.md).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::config_edit::{quote, set_cameras, set_key};
use super::passwd::write_private;
use crate::config::{Config, StoreKind};

/// The service user the package creates (debian/postinst).
const SERVICE_USER: &str = "camvault";
const INCLUDE: &str = "/etc/samba/camvault.conf";

/// Everything `setup` asks; each missing answer is asked on a terminal, else taken from the
/// current config.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    #[serde(default)]
    pub cameras: Vec<CameraAnswer>,
    pub camera_user: Option<String>,
    pub camera_password: Option<String>,
    pub hosts_allow: Option<Vec<String>>,
    pub interfaces: Option<Vec<String>>,
    /// Only for tests and unusual setups: the camera always connects to 445.
    pub port: Option<u16>,
    /// `samba.grace_secs` (`samba check` waits this long once); for tests.
    pub grace_secs: Option<u64>,
    pub store: Option<StoreAnswer>,
    pub lifecycle_apply: Option<bool>,
    pub start_service: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraAnswer {
    pub mac: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub timezone: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreAnswer {
    /// fs, s3 or oss
    #[serde(deserialize_with = "store_kind")]
    pub kind: StoreKind,
    #[serde(default)]
    pub endpoint: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub bucket: String,
    #[serde(default)]
    pub path_style: Option<bool>,
    #[serde(default)]
    pub access_key_id: String,
    #[serde(default)]
    pub secret: String,
}

/// `store.kind` of the answers file, named in the error as the config's key is.
fn store_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<StoreKind, D::Error> {
    let s = String::deserialize(d)?;
    StoreKind::from_name(&s)
        .ok_or_else(|| serde::de::Error::custom(format!("`store.kind` = {s:?}: one of fs, s3, oss")))
}

pub fn run(config_path: &Path, answers_file: Option<&Path>) -> Result<ExitCode> {
    if !rustix::process::geteuid().is_root() {
        bail!("setup creates the camera's user, its Samba password and /etc/samba/camvault.conf: run it as root (sudo camvault setup)");
    }
    let mut given = match answers_file {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("cannot read the answers file {}", p.display()))?;
            toml::from_str::<Answers>(&text)
                .map_err(|e| anyhow::anyhow!("answers file {}: {}", p.display(), e.message()))?
        }
        None => Answers::default(),
    };
    let ask = Prompt {
        interactive: answers_file.is_none() && std::io::stdin().is_terminal(),
    };
    if answers_file.is_none() && !ask.interactive {
        bail!("setup needs a terminal to ask its questions, or `--answers FILE` (see `camvault setup --help`)");
    }
    let text = std::fs::read_to_string(config_path).with_context(|| {
        format!(
            "cannot read {} (installed by the camvault package; reinstall it, or pass --config)",
            config_path.display()
        )
    })?;
    let cur = Config::load(config_path)?;

    println!("== 1/8 checks");
    preflight(&cur, given.port.unwrap_or(cur.samba.port))?;

    println!("== 2/8 cameras");
    let cameras = cameras(&cur, &ask, std::mem::take(&mut given.cameras))?;

    println!("== 3/8 the camera's SMB account");
    let camera_user = ask.text(
        "camera's SMB user name",
        given.camera_user.take(),
        &cur.samba.camera_user,
    )?;
    let old_pw = cur.samba_password().ok().flatten().unwrap_or_default();
    let password = match given.camera_password.take() {
        Some(p) => p,
        None if ask.interactive => ask.secret(
            "camera's SMB password (used nowhere else; empty = keep the current one)",
            &old_pw,
        )?,
        None => old_pw,
    };
    if password.is_empty() {
        bail!("the camera's SMB password is missing: give `camera_password` in the answers file, or type one");
    }
    let hosts = match given.hosts_allow.take() {
        Some(h) => h,
        None => ask
            .text(
                "who may connect (the camera's address or LAN, comma separated)",
                None,
                &cur.samba.hosts_allow.join(", "),
            )?
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    };

    println!("== 4/8 the store");
    let store = store_answer(&cur, &ask, given.store.take())?;

    // The candidate config: only the keys setup owns change, comments and everything else stay.
    let mut new = text.clone();
    new = set_cameras(&new, &cameras);
    new = set_key(&new, "samba", "manage", "false");
    new = set_key(&new, "samba", "camera_user", &quote(&camera_user));
    new = set_key(
        &new,
        "samba",
        "password_file",
        &quote(&pw_file(config_path).display().to_string()),
    );
    new = set_key(&new, "samba", "hosts_allow", &list(&hosts));
    if let Some(i) = &given.interfaces {
        new = set_key(&new, "samba", "interfaces", &list(i));
    }
    if let Some(p) = given.port {
        new = set_key(&new, "samba", "port", &p.to_string());
    }
    if let Some(g) = given.grace_secs {
        new = set_key(&new, "samba", "grace_secs", &g.to_string());
    }
    new = set_key(&new, "store", "kind", &quote(store.kind.as_str()));
    let cred_file = config_path.with_file_name(format!("{}-credentials", store.kind));
    match store.kind {
        StoreKind::S3 => {
            new = set_key(&new, "store.s3", "endpoint", &quote(&store.endpoint));
            new = set_key(&new, "store.s3", "region", &quote(&store.region));
            new = set_key(&new, "store.s3", "bucket", &quote(&store.bucket));
            new = set_key(
                &new,
                "store.s3",
                "path_style",
                if store.path_style.unwrap_or(false) {
                    "true"
                } else {
                    "false"
                },
            );
            new = set_key(
                &new,
                "store.s3",
                "credentials_file",
                &quote(&cred_file.display().to_string()),
            );
        }
        StoreKind::Oss => {
            new = set_key(&new, "store.oss", "endpoint", &quote(&store.endpoint));
            new = set_key(&new, "store.oss", "region", &quote(&store.region));
            new = set_key(&new, "store.oss", "bucket", &quote(&store.bucket));
            new = set_key(
                &new,
                "store.oss",
                "credentials_file",
                &quote(&cred_file.display().to_string()),
            );
        }
        StoreKind::Fs => {}
    }
    let mut parsed = Config::parse(&new).context("the answers give a config camvault refuses (nothing was changed)")?;
    parsed.source = config_path.to_path_buf();

    let svc = service_ids()?;
    println!("== 5/8 store test (nothing is changed before the store answers)");
    let candidate = config_path.with_file_name(".camvault.toml.setup");
    let cand_cred = config_path.with_file_name(format!(".{}-credentials.setup", store.kind));
    let staged = [candidate.clone(), cand_cred.clone()];
    let cleanup = || {
        for f in &staged {
            let _ = std::fs::remove_file(f);
        }
    };
    let candidate_text = if store.kind == StoreKind::Fs {
        new.clone()
    } else {
        write_private(&cand_cred, &credentials(&store), Some(svc))?;
        let key = if store.kind == StoreKind::S3 {
            "store.s3"
        } else {
            "store.oss"
        };
        set_key(&new, key, "credentials_file", &quote(&cand_cred.display().to_string()))
    };
    write_private(&candidate, &candidate_text, Some(svc))?;
    if !camvault_as_service(&candidate, &["store", "test"])? {
        cleanup();
        bail!("the store refused or did not answer (above): nothing was changed. Check the bucket, region, endpoint and the key's permissions (README: `store test`), then run `camvault setup` again: your other answers will be its defaults");
    }

    println!("== 6/8 writing the config, the camera's user and the share");
    if store.kind != StoreKind::Fs {
        std::fs::rename(&cand_cred, &cred_file).with_context(|| format!("cannot write {}", cred_file.display()))?;
    }
    // The tested candidate named the staged credentials; the config names their final place.
    write_private(config_path, &new, Some(svc))?;
    cleanup();
    write_private(&pw_file(config_path), &format!("{password}\n"), Some(svc))?;
    ensure_camera_user(&camera_user)?;
    smbpasswd(&parsed, &camera_user, &password)?;
    if !camvault(config_path, &["samba", "config", "--write"])? {
        bail!("`samba config --write` failed (above); the config is written: fix what it says and run `camvault setup` again");
    }
    let running = parsed.samba_running_config();
    let added = add_include(&running)?;
    if let Err(e) = reload_smbd().and_then(|()| wait_listening(&parsed)) {
        if added {
            remove_include(&running)?;
        }
        return Err(e);
    }

    println!("== 7/8 proving the share refuses deletes (samba check), doctor");
    if !camvault(config_path, &["samba", "check"])? {
        if added {
            remove_include(&running)?;
            let _ = reload_smbd();
            println!(
                "The include was taken out of {} again: the camera cannot use an unprotected share.",
                running.display()
            );
        }
        bail!("the share does not protect recordings yet (above); fix what `samba check` says and run `camvault setup` again");
    }
    // The catalog is created here (as `init` would), so that `doctor` finds one.
    crate::catalog::Catalog::open(&parsed.catalog(), true)?;
    own_catalog(&parsed, svc);
    let doctor_ok = camvault_as_service(config_path, &["doctor"])?;
    own_catalog(&parsed, svc);

    if store.kind != StoreKind::Fs {
        let _ = camvault_as_service(config_path, &["cost", "plan"]);
        let apply = match given.lifecycle_apply {
            Some(b) => b,
            None => ask.yes_no(
                "apply the bucket's lifecycle rule now (`camvault lifecycle apply`)?",
                true,
            )?,
        };
        if apply && !camvault_as_service(config_path, &["lifecycle", "apply"])? {
            println!(
                "The lifecycle rule was not applied (above): run `camvault lifecycle apply` once the key may set it."
            );
        }
    }

    println!("== 8/8 the service");
    let start = match given.start_service {
        Some(b) => b,
        None => ask.yes_no("enable and start camvault.service now?", true)?,
    };
    if start {
        if Path::new("/run/systemd/system").exists() {
            run_ok(Command::new("systemctl").args(["enable", "camvault.service"]))?;
            run_ok(Command::new("systemctl").args(["restart", "camvault.service"]))?;
            println!("camvault.service is enabled and running: journalctl -u camvault -f");
        } else {
            println!("systemd is not running here: start `camvault serve` as the camvault user yourself.");
        }
    }
    println!();
    print_app_steps(&parsed, &camera_user);
    if !doctor_ok {
        println!("\n`doctor` reported problems (above): the share is protected, but fix those too.");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn pw_file(config_path: &Path) -> PathBuf {
    config_path.with_file_name("samba-password")
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", "))
}

fn credentials(s: &StoreAnswer) -> String {
    let secret_key = if s.kind == StoreKind::S3 {
        "secret_access_key"
    } else {
        "access_key_secret"
    };
    format!(
        "access_key_id = {}\n{secret_key} = {}\n",
        quote(&s.access_key_id),
        quote(&s.secret)
    )
}

/// Checks what would make the share fail later, before anything is asked or written.
fn preflight(cur: &Config, port: u16) -> Result<()> {
    if !Path::new("/usr/sbin/smbd").exists() {
        bail!("smbd is not installed: apt install samba samba-vfs-modules");
    }
    let out = Command::new("/usr/sbin/smbd")
        .arg("-b")
        .output()
        .context("cannot run smbd -b")?;
    let build = String::from_utf8_lossy(&out.stdout);
    let modules = build
        .lines()
        .find_map(|l| l.trim().strip_prefix("MODULESDIR:"))
        .map(|d| PathBuf::from(d.trim()))
        .unwrap_or_else(|| PathBuf::from("/usr/lib/x86_64-linux-gnu/samba"));
    if !modules.join("vfs/worm.so").exists() {
        bail!(
            "Samba's vfs_worm ({}) is missing, and without it the share cannot refuse deletes: apt install samba-vfs-modules, then run camvault setup again",
            modules.join("vfs/worm.so").display()
        );
    }
    if Command::new("id")
        .arg(SERVICE_USER)
        .stdout(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        bail!(
            "the `{SERVICE_USER}` user is missing (the package's postinst creates it): reinstall the camvault package"
        );
    }
    match std::net::TcpListener::bind(("0.0.0.0", port)) {
        Ok(_) => {} // free: smbd will take it when (re)started.
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            if !port_held_by_smbd(port) {
                bail!("port {port} is taken by another program, not Samba's smbd: `ss -ltnp 'sport = :{port}'` shows which (an old Samba container?); stop it, then run camvault setup again");
            }
        }
        Err(e) => bail!("cannot check port {port}: {e}"),
    }
    let _ = cur;
    println!("ok: smbd, vfs_worm, the `{SERVICE_USER}` user, port {port}");
    Ok(())
}

/// Whether the program listening on `port` is smbd (`ss` from iproute2 names it; without
/// `ss`, whether an smbd answers at all).
fn port_held_by_smbd(port: u16) -> bool {
    match Command::new("ss")
        .args(["-ltnpH", &format!("sport = :{port}")])
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).contains("\"smbd\""),
        _ => smbd_running(),
    }
}

fn smbd_running() -> bool {
    Command::new("smbcontrol")
        .args(["smbd", "ping"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn reload_smbd() -> Result<()> {
    if Path::new("/run/systemd/system").exists() {
        return run_ok(Command::new("systemctl").args(["restart", "smbd.service"]));
    }
    if !smbd_running() {
        bail!("smbd is not running and there is no systemd to start it: start smbd, then run camvault setup again");
    }
    run_ok(Command::new("smbcontrol").args(["smbd", "reload-config"]))
}

/// Waits until smbd accepts connections where `samba check` connects: after a restart or a
/// reload smbd opens its sockets a moment later.
fn wait_listening(cfg: &Config) -> Result<()> {
    let addr = format!("{}:{}", cfg.samba.address, cfg.samba.port);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        use std::net::ToSocketAddrs;
        let socks = (cfg.samba.address.as_str(), cfg.samba.port)
            .to_socket_addrs()
            .with_context(|| format!("`samba.address` {:?} does not resolve", cfg.samba.address))?;
        for sock in socks {
            if std::net::TcpStream::connect_timeout(&sock, std::time::Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
        }
        if std::time::Instant::now() > deadline {
            bail!("smbd does not accept connections on {addr} 20 s after its restart: `journalctl -u smbd` (or its log) says why; the include was taken out again");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Adds `include = /etc/samba/camvault.conf` as the last line of `[global]` (docs/samba.md
/// 2.6 B); returns whether it was added. Only for Debian's smb.conf: a running config that
/// is camvault's own file needs none.
fn add_include(running: &Path) -> Result<bool> {
    if running == Path::new(INCLUDE) {
        return Ok(false);
    }
    let text = std::fs::read_to_string(running).with_context(|| format!("cannot read {}", running.display()))?;
    if text.lines().any(|l| l.trim() == format!("include = {INCLUDE}")) {
        return Ok(false);
    }
    let mut out = String::new();
    let mut in_global = false;
    let mut done = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            if in_global && !done {
                out.push_str(&format!("   include = {INCLUDE}\n\n"));
                done = true;
            }
            in_global = t.eq_ignore_ascii_case("[global]");
        }
        out.push_str(line);
        out.push('\n');
    }
    if !done {
        if !in_global {
            out.push_str("[global]\n");
        }
        out.push_str(&format!("   include = {INCLUDE}\n"));
    }
    std::fs::write(running, out).with_context(|| format!("cannot write {}", running.display()))?;
    println!(
        "added `include = {INCLUDE}` to the [global] section of {}",
        running.display()
    );
    Ok(true)
}

fn remove_include(running: &Path) -> Result<()> {
    let text = std::fs::read_to_string(running)?;
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| l.trim() != format!("include = {INCLUDE}"))
        .collect();
    std::fs::write(running, kept.join("\n") + "\n").with_context(|| format!("cannot write {}", running.display()))
}

/// The camera's system user: no home, no shell (docs/samba.md 2.5).
fn ensure_camera_user(user: &str) -> Result<()> {
    if crate::samba::owner::passwd_entry(user).is_some() {
        return Ok(());
    }
    run_ok(Command::new("useradd").args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user]))?;
    println!("created the system user `{user}` (no home, no shell)");
    Ok(())
}

fn smbpasswd(cfg: &Config, user: &str, password: &str) -> Result<()> {
    let mut child = Command::new("smbpasswd")
        .arg("-c")
        .arg(cfg.samba_running_config())
        .args(["-s", "-a", user])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run smbpasswd (apt install samba)")?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(format!("{password}\n{password}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "smbpasswd could not set the Samba password of `{user}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The service user's uid and gid.
fn service_ids() -> Result<(u32, u32)> {
    crate::samba::owner::passwd_entry(SERVICE_USER)
        .with_context(|| format!("the `{SERVICE_USER}` user is missing: reinstall the camvault package"))
}

/// The catalog (and its WAL) belong to the service: a step run as root must not take them.
fn own_catalog(cfg: &Config, (uid, gid): (u32, u32)) {
    let cat = cfg.catalog();
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", cat.display()));
        if p.exists() {
            let _ = std::os::unix::fs::chown(&p, Some(uid), Some(gid));
        }
    }
}

fn camvault(config: &Path, args: &[&str]) -> Result<bool> {
    let exe = std::env::current_exe().context("cannot find the camvault binary")?;
    let st = Command::new(exe)
        .arg("--config")
        .arg(config)
        .args(args)
        .status()
        .with_context(|| format!("cannot run camvault {}", args.join(" ")))?;
    Ok(st.success())
}

/// Runs a camvault command as the service user (runuser, util-linux), so that what it
/// creates (the catalog, store objects) is the service's.
fn camvault_as_service(config: &Path, args: &[&str]) -> Result<bool> {
    let exe = std::env::current_exe().context("cannot find the camvault binary")?;
    let st = Command::new("runuser")
        .args(["-u", SERVICE_USER, "--"])
        .arg(exe)
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir("/")
        .status()
        .with_context(|| format!("cannot run camvault {} as {SERVICE_USER}", args.join(" ")))?;
    Ok(st.success())
}

fn run_ok(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

fn cameras(cur: &Config, ask: &Prompt, given: Vec<CameraAnswer>) -> Result<Vec<CameraAnswer>> {
    let host_tz = jiff::tz::TimeZone::system().iana_name().unwrap_or("UTC").to_string();
    let mut list: Vec<CameraAnswer> = cur
        .cameras
        .iter()
        .map(|(mac, c)| CameraAnswer {
            mac: mac.clone(),
            name: c.name.clone(),
            timezone: c.timezone.as_ref().map(|z| z.name().to_string()).unwrap_or_default(),
        })
        .collect();
    if !given.is_empty() {
        list = given;
    } else if ask.interactive {
        if !list.is_empty() {
            println!(
                "cameras now: {}",
                list.iter()
                    .map(|c| format!("{} ({})", c.mac, c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let mut out = Vec::new();
        for c in &list {
            if ask.yes_no(&format!("keep camera {} ({})?", c.mac, c.name), true)? {
                out.push(c.clone());
            }
        }
        loop {
            let mac = ask.text(
                "add a camera: its MAC (12 hex digits, on the camera's sticker or in the app; empty = done)",
                None,
                "",
            )?;
            if mac.is_empty() {
                break;
            }
            if crate::config::normalize_mac(&mac).is_none() {
                println!("`{mac}` is not a MAC address (12 hex digits, `:` or `-` allowed); try again");
                continue;
            }
            let name = ask.text("its name (used in object keys, e.g. front-door)", None, "")?;
            let timezone = ask.text("its time zone", None, &host_tz)?;
            out.push(CameraAnswer { mac, name, timezone });
        }
        list = out;
    }
    for c in &mut list {
        let mac = crate::config::normalize_mac(&c.mac)
            .with_context(|| format!("camera MAC `{}` is not 12 hex digits", c.mac))?;
        c.mac = mac;
        if c.timezone.is_empty() {
            c.timezone = host_tz.clone();
        }
        if jiff::tz::TimeZone::get(&c.timezone).is_err() {
            bail!(
                "camera {}: time zone `{}` is unknown (an IANA name such as Asia/Shanghai)",
                c.mac,
                c.timezone
            );
        }
    }
    Ok(list)
}

fn store_answer(cur: &Config, ask: &Prompt, given: Option<StoreAnswer>) -> Result<StoreAnswer> {
    if let Some(s) = given {
        // `kind` was checked when the answers were read (`store_kind`).
        return Ok(s);
    }
    let mut s = StoreAnswer {
        kind: cur.store.kind,
        ..Default::default()
    };
    if !ask.interactive {
        bail!("the answers file has no [store] section (kind = \"fs\" | \"s3\" | \"oss\")");
    }
    loop {
        let kind = ask.text(
            "store: fs (a local directory), s3 (AWS, MinIO, Ceph, Garage) or oss (Aliyun)",
            None,
            s.kind.as_str(),
        )?;
        if let Some(k) = StoreKind::from_name(&kind) {
            s.kind = k;
            break;
        }
        println!("one of fs, s3, oss");
    }
    match s.kind {
        StoreKind::S3 => {
            let c = &cur.store.s3;
            s.endpoint = ask.text("endpoint (empty = AWS)", None, c.endpoint.as_str())?;
            s.region = ask.text("region", None, &c.region)?;
            s.bucket = ask.text("bucket", None, &c.bucket)?;
            s.path_style = Some(ask.yes_no("path-style addressing (MinIO, Ceph, Garage)?", c.path_style)?);
            s.access_key_id = ask.text("access key id", None, "")?;
            s.secret = ask.secret("secret access key", "")?;
        }
        StoreKind::Oss => {
            let c = &cur.store.oss;
            s.region = ask.text("region (e.g. cn-beijing)", None, &c.region)?;
            s.bucket = ask.text("bucket", None, &c.bucket)?;
            s.endpoint = ask.text("endpoint (empty = the region's public one)", None, c.endpoint.as_str())?;
            s.access_key_id = ask.text("AccessKey ID", None, "")?;
            s.secret = ask.secret("AccessKey secret", "")?;
        }
        _ => {}
    }
    Ok(s)
}

fn print_app_steps(cfg: &Config, user: &str) {
    let addr = lan_address().unwrap_or_else(|| "<this machine's LAN address: ip -br addr>".into());
    // docs/samba.md, 3: menu names differ between app versions.
    println!("Now in the Xiaomi Home app: the camera -> settings -> storage settings -> NAS network storage, enable it, then:");
    if cfg.samba.netbios {
        println!(
            "  server:           {}  (listed by the app; else enter {addr})",
            cfg.samba.netbios_name
        );
    } else {
        println!("  server:           {addr}");
    }
    println!("  user name:        {user}");
    println!(
        "  password:         the camera password you entered (also in {})",
        cfg.samba.password_file.display()
    );
    println!("  share / folder:   {}  (its top level)", cfg.samba.share);
    println!("  sync interval:    real-time (or the shortest offered); retention: the longest offered");
    println!("Then `camvault status` shows the first clip once it is captured and verified.");
}

/// The address this machine reaches the LAN with (no packet is sent: connecting a UDP
/// socket only chooses the route).
fn lan_address() -> Option<String> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then(|| ip.to_string())
}

/// Questions on the terminal; without one, every answer is its default.
struct Prompt {
    interactive: bool,
}

impl Prompt {
    fn text(&self, q: &str, given: Option<String>, default: &str) -> Result<String> {
        if let Some(g) = given {
            return Ok(g);
        }
        if !self.interactive {
            return Ok(default.to_string());
        }
        if default.is_empty() {
            print!("{q}: ");
        } else {
            print!("{q} [{default}]: ");
        }
        std::io::stdout().flush()?;
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line)? == 0 {
            bail!("setup interrupted (end of input): nothing more was changed; run it again to continue");
        }
        let line = line.trim();
        Ok(if line.is_empty() {
            default.to_string()
        } else {
            line.to_string()
        })
    }

    fn yes_no(&self, q: &str, default: bool) -> Result<bool> {
        let d = if default { "Y/n" } else { "y/N" };
        let a = self.text(&format!("{q} ({d})"), None, "")?;
        Ok(match a.to_ascii_lowercase().as_str() {
            "" => default,
            a => a.starts_with('y'),
        })
    }

    /// Reads without echo; an empty answer keeps `current`.
    fn secret(&self, q: &str, current: &str) -> Result<String> {
        use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
        let stdin = std::io::stdin();
        print!("{q}: ");
        std::io::stdout().flush()?;
        let old = tcgetattr(&stdin).ok();
        if let Some(t) = &old {
            let mut quiet = t.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            let _ = tcsetattr(&stdin, OptionalActions::Now, &quiet);
        }
        let mut line = String::new();
        let n = stdin.lock().read_line(&mut line);
        if let Some(t) = &old {
            let _ = tcsetattr(&stdin, OptionalActions::Now, t);
        }
        println!();
        if n? == 0 {
            bail!("setup interrupted (end of input): nothing more was changed; run it again to continue");
        }
        let line = line.trim_end_matches(['\n', '\r']);
        Ok(if line.is_empty() {
            current.to_string()
        } else {
            line.to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_store_kind_is_typed_and_a_bad_one_named() {
        let a: Answers = toml::from_str("[store]\nkind = \"s3\"\nbucket = \"cams\"\n").unwrap();
        assert_eq!(a.store.unwrap().kind, StoreKind::S3);
        let e = toml::from_str::<Answers>("[store]\nkind = \"tape\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`store.kind` = \"tape\": one of fs, s3, oss"), "{e}");
    }
}
