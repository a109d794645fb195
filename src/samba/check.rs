//! `camvault samba check`: proves on the live share that deletes are refused.
//!
//! Two parts: the running configuration as `testparm` reads it (is `worm` on the share,
//! with what grace period), and a probe over SMB1 as the camera user, exactly as the
//! camera connects. The probe works on camvault's own file `.camvault/probe` in the share,
//! never on a recording: once that file is older than the grace period, deleting,
//! renaming and overwriting it must be refused, and creating a new file must work.
//!
//! The camera account is hostile (`docs/security.md`), so the check also proves that the
//! share does not act as root and offers no SMB1 UNIX extensions: without them a client has
//! no way to create symlinks, hard links (the UNIX ones) or device nodes, nor to set modes or
//! owners (Samba answers every UNIX information level with NT_STATUS_INVALID_LEVEL when
//! `smb1 unix extensions` is off: source3/smbd/smb1_trans2.c).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

use super::PROBE_DIR;
use crate::config::Config;

/// One finding of the check.
#[derive(Debug)]
pub struct Finding {
    pub ok: bool,
    pub what: String,
}

/// The share's settings as `testparm` resolves them: `[global]` and `[share]`.
pub struct Running {
    pub global: BTreeMap<String, String>,
    pub share: Option<BTreeMap<String, String>>,
}

pub fn testparm(conf: &Path, share: &str) -> Result<Running> {
    let out = Command::new(find("testparm"))
        .args(["-s", "--suppress-prompt"])
        .arg(conf)
        .output()
        .map_err(|e| anyhow!("cannot run testparm ({e}); install Samba: apt-get install samba"))?;
    if !out.status.success() {
        bail!(
            "testparm cannot read {}: {}",
            conf.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = name.to_ascii_lowercase();
            sections.entry(current.clone()).or_default();
        } else if let Some((k, v)) = t.split_once('=') {
            sections
                .entry(current.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    Ok(Running {
        global: sections.remove("global").unwrap_or_default(),
        share: sections.remove(&share.to_ascii_lowercase()),
    })
}

/// Locates a Samba program: on `$PATH`, else in `/usr/sbin` or `/usr/bin` (not on a user's PATH).
pub fn find(prog: &str) -> PathBuf {
    crate::cli::which(prog)
        .or_else(|| {
            ["/usr/sbin", "/usr/bin"]
                .iter()
                .map(|d| Path::new(d).join(prog))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| PathBuf::from(prog))
}

/// Checks the configuration; returns findings and the share's path and grace period.
pub fn check_config(cfg: &Config, findings: &mut Vec<Finding>) -> Result<(Option<PathBuf>, u64)> {
    let conf = cfg.samba_running_config();
    let running = testparm(&conf, &cfg.samba.share)?;
    let Some(share) = running.share else {
        findings.push(Finding {
            ok: false,
            what: format!(
                "{} has no share [{}]; run `camvault samba config`",
                conf.display(),
                cfg.samba.share
            ),
        });
        return Ok((None, 0));
    };
    let vfs = share.get("vfs objects").cloned().unwrap_or_default();
    let mods: Vec<&str> = vfs.split_whitespace().collect();
    let grace = share
        .get("worm:grace_period")
        .and_then(|g| g.parse().ok())
        .unwrap_or(3600);
    for m in mods.iter().filter(|m| ["worm", "full_audit"].contains(m)) {
        if vfs_module_missing(m) {
            findings.push(Finding {
                ok: false,
                what: format!(
                    "Samba's vfs_{m} module is not installed, so smbd refuses the camera's connections (NT_STATUS_BAD_NETWORK_NAME): apt-get install samba-vfs-modules"
                ),
            });
        }
    }
    if mods.contains(&"worm") {
        findings.push(Finding {
            ok: true,
            what: format!("share [{}] has vfs_worm, grace period {grace} s", cfg.samba.share),
        });
    } else {
        findings.push(Finding {
            ok: false,
            what: format!(
                "share [{}] has no vfs_worm (vfs objects = {vfs:?}): the camera can delete its recordings; use the config from `camvault samba config`",
                cfg.samba.share
            ),
        });
    }
    match (
        mods.iter().position(|m| *m == "full_audit"),
        mods.iter().position(|m| *m == "worm"),
    ) {
        (Some(a), Some(w)) if a > w => findings.push(Finding {
            ok: false,
            what: "full_audit comes after worm in `vfs objects`: refused deletes are not logged; put full_audit first"
                .into(),
        }),
        (Some(_), _) => findings.push(Finding {
            ok: true,
            what: "full_audit records deletion attempts".into(),
        }),
        (None, _) => findings.push(Finding {
            ok: false,
            what: "no full_audit on the share: deletion attempts are not recorded".into(),
        }),
    }
    let min = running
        .global
        .get("server min protocol")
        .map(String::as_str)
        .unwrap_or("SMB2_02");
    if !min.eq_ignore_ascii_case("NT1") && !min.eq_ignore_ascii_case("LANMAN1") && !min.eq_ignore_ascii_case("CORE") {
        findings.push(Finding {
            ok: false,
            what: format!("server min protocol = {min}: the camera speaks only SMB1; set it to NT1"),
        });
    }
    check_hostile_account(cfg, &running.global, &share, findings);
    // Without worm the probe need not age: any delete going through shows the problem.
    let grace = if mods.contains(&"worm") { grace } else { 0 };
    Ok((share.get("path").map(PathBuf::from), grace))
}

fn is_yes(v: Option<&String>, default: bool) -> bool {
    v.map(|v| ["yes", "true", "1", "on"].contains(&v.to_ascii_lowercase().as_str()))
        .unwrap_or(default)
}

/// What the camera account could do beyond writing recordings, from the configuration.
fn check_hostile_account(
    cfg: &Config,
    global: &BTreeMap<String, String>,
    share: &BTreeMap<String, String>,
    findings: &mut Vec<Finding>,
) {
    let mut bad = |what: String| findings.push(Finding { ok: false, what });
    let user = share
        .get("force user")
        .cloned()
        .unwrap_or_else(|| cfg.samba.camera_user.clone());
    let uid = super::owner::passwd_entry(&user).map(|e| e.0);
    if user == "root" || uid == Some(0) {
        bad(format!(
            "the share acts as root (force user = {user}): the camera account can do whatever root can in the share; use the config from `camvault samba config` (it acts as the camera's own unprivileged user)"
        ));
    }
    if let Some(g) = share.get("force group") {
        if g == "root" || super::owner::group_gid(g) == Some(0) {
            bad(format!(
                "the share writes files with root's group (force group = {g}); set `samba.force_group` to camvault's group"
            ));
        }
    }
    let unix = global
        .get("smb1 unix extensions")
        .or_else(|| global.get("unix extensions"));
    if is_yes(unix, true) {
        bad("SMB1 UNIX extensions are on (Samba's default): the camera account can create symlinks, hard links and device nodes and set modes and owners; set `unix extensions = no` in [global] (the config from `camvault samba config` does)".into());
    }
    if is_yes(share.get("follow symlinks"), true) {
        bad("`follow symlinks` is on (Samba's default): smbd follows symlinks inside the share; set `follow symlinks = no`".into());
    }
    if is_yes(share.get("wide links"), false) || is_yes(global.get("allow insecure wide links"), false) {
        bad(
            "`wide links` or `allow insecure wide links` is on: smbd follows symlinks out of the share; set both to no"
                .into(),
        );
    }
    if !findings
        .iter()
        .any(|f| !f.ok && (f.what.contains("root") || f.what.contains("symlink")))
    {
        findings.push(Finding {
            ok: true,
            what: format!("the share acts as {user}, not root; no SMB1 UNIX extensions, no symlinks followed"),
        });
    }
}

/// Runs smbclient as the camera user over SMB1; returns its combined output.
struct Client {
    target: String,
    port: u16,
    auth: tempfile::NamedTempFile,
}

impl Client {
    fn new(cfg: &Config, password: &str) -> Result<Client> {
        // Credentials go through a 0600 file, never the command line (visible in `ps`).
        let mut auth = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile()?;
        writeln!(auth, "username = {}\npassword = {}", cfg.samba.camera_user, password)?;
        auth.flush()?;
        Ok(Client {
            target: format!("//{}/{}", cfg.samba.address, cfg.samba.share),
            port: cfg.samba.port,
            auth,
        })
    }

    fn run(&self, commands: &str) -> Result<String> {
        let out = Command::new(find("smbclient"))
            .arg(&self.target)
            .args(["-p", &self.port.to_string(), "-A"])
            .arg(self.auth.path())
            .args([
                "--option=client min protocol=NT1",
                "--option=client max protocol=NT1",
                "-c",
                commands,
            ])
            .output()
            .map_err(|e| anyhow!("cannot run smbclient ({e}); install it: apt-get install smbclient"))?;
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Client {
    /// `smbclient -L` as the camera user: the share list, as the camera reads it during setup.
    fn list_shares(&self, address: &str) -> Result<String> {
        let out = Command::new(find("smbclient"))
            .args(["-L", &format!("//{address}"), "-p", &self.port.to_string(), "-A"])
            .arg(self.auth.path())
            .args(["--option=client min protocol=NT1", "--option=client max protocol=NT1"])
            .output()
            .map_err(|e| anyhow!("cannot run smbclient ({e}); install it: apt-get install smbclient"))?;
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// What the Mi Home app has the camera do when the NAS is set up (its camera plugin calls
/// `nas_scan`, `nas_list_dir` and `nas_make_dir` on the camera, which then lists the
/// server's shares and the share's folders and creates its folder), then what the camera
/// does when it records: write a file and rename it when the clip ends. All as the camera
/// user over SMB1, in `.camvault/setup-<time>/`, which capture ignores. The check deletes
/// what it made while still within the grace period (which vfs_worm allows); if that is
/// refused, the folder is left there, ignored by capture, and said so.
fn setup_probe(cfg: &Config, client: &Client, findings: &mut Vec<Finding>) -> Result<()> {
    let shares = client.list_shares(&cfg.samba.address)?;
    let listed = shares.lines().any(|l| {
        let mut w = l.split_whitespace();
        w.next().is_some_and(|n| n.eq_ignore_ascii_case(&cfg.samba.share)) && w.next() == Some("Disk")
    });
    findings.push(Finding {
        ok: listed,
        what: if listed {
            format!("the camera user lists the server's shares over SMB1 and sees [{}]", cfg.samba.share)
        } else {
            format!(
                "the camera user cannot list the server's shares over SMB1 or does not see [{}] ({}): the Mi Home app cannot offer the share during setup",
                cfg.samba.share,
                first_status(&shares)
            )
        },
    });
    let listing = client.run("ls")?;
    let ok = listing.contains("blocks of size");
    findings.push(Finding {
        ok,
        what: if ok {
            "the camera user lists the share's folder".into()
        } else {
            format!(
                "the camera user cannot list the share's folder ({}): the app cannot choose a folder",
                first_status(&listing)
            )
        },
    });
    let dir = format!("{PROBE_DIR}\\setup-{}", jiff::Timestamp::now().as_second());
    let tmp = tempfile::tempdir()?;
    let local = tmp.path().join("clip");
    std::fs::write(&local, b"camvault setup probe: a clip as the camera writes it\n")?;
    // One session, quick: everything happens well within the grace period.
    let out = client.run(&format!(
        "mkdir {PROBE_DIR}; mkdir {dir}; put {} {dir}\\00_clip.mp4.tmp; rename {dir}\\00_clip.mp4.tmp {dir}\\00_clip.mp4; ls {dir}\\*",
        local.display()
    ))?;
    let steps = [
        // smbclient reports a failed mkdir as "NT_STATUS_… making remote directory \\<dir>".
        (
            "create a folder",
            !out.contains(&format!("making remote directory \\{dir}")),
        ),
        ("write a file", out.contains("putting file")),
        // The listing's lines start with the names; only the final one may be there.
        (
            "rename a file",
            listed_name(&out, "00_clip.mp4") && !listed_name(&out, "00_clip.mp4.tmp"),
        ),
    ];
    let failed: Vec<&str> = steps.iter().filter(|(_, ok)| !ok).map(|(w, _)| *w).collect();
    findings.push(Finding {
        ok: failed.is_empty(),
        what: if failed.is_empty() {
            "the camera user creates a folder, writes a file and renames it, as the camera does during setup and recording".into()
        } else {
            format!(
                "the camera user cannot {} in the share ({}): the camera cannot record to it",
                failed.join(", "),
                first_status(&out)
            )
        },
    });
    // Clean up what this check made, if worm still allows it (it does within the grace).
    let out = client.run(&format!(
        "del {dir}\\00_clip.mp4; del {dir}\\00_clip.mp4.tmp; rmdir {dir}"
    ))?;
    let gone = client.run(&format!("ls {dir}"))?;
    if !gone.contains("NT_STATUS_OBJECT_NAME_NOT_FOUND") && !gone.contains("NT_STATUS_NO_SUCH_FILE") {
        findings.push(Finding {
            ok: true,
            what: format!(
                "left the check's folder {dir} in the share ({}); capture ignores everything under {PROBE_DIR}/",
                first_status(&out)
            ),
        });
    }
    Ok(())
}

/// Whether an `ls` in smbclient's output lists `name`.
fn listed_name(out: &str, name: &str) -> bool {
    out.lines().any(|l| l.split_whitespace().next() == Some(name))
}

fn denied(output: &str) -> bool {
    output.contains("NT_STATUS_ACCESS_DENIED") || output.contains("NT_STATUS_MEDIA_WRITE_PROTECTED")
}

/// The live probe. `share_path` is the share's folder when it is on this machine.
pub fn probe(cfg: &Config, share_path: Option<&Path>, grace: u64, findings: &mut Vec<Finding>) -> Result<()> {
    let password = cfg.samba_password()?.ok_or_else(|| {
        anyhow!("no password for the camera user: set `samba.password_file` (mode 0600) or $CAMVAULT_SAMBA_PASSWORD")
    })?;
    let client = Client::new(cfg, &password)?;
    // `pwd` needs only the login and the tree connect: a write-only share cannot be listed.
    let hello = client.run("pwd")?;
    if hello.contains("NT_STATUS_LOGON_FAILURE") {
        bail!(
            "the share refused the camera user {:?}: wrong password, or no Samba password set (`smbpasswd -a`)",
            cfg.samba.camera_user
        );
    }
    if !hello.contains("Current directory is") {
        bail!(
            "cannot reach //{}/{} on port {} over SMB1: {}",
            cfg.samba.address,
            cfg.samba.share,
            cfg.samba.port,
            first_status(&hello)
        );
    }
    findings.push(Finding {
        ok: true,
        what: format!(
            "the camera user logs in to //{}/{} over SMB1",
            cfg.samba.address, cfg.samba.share
        ),
    });
    setup_probe(cfg, &client, findings)?;

    let tmp = tempfile::tempdir()?;
    let probe_bytes = b"camvault probe: this file must survive delete, rename and overwrite\n";
    let local_probe = tmp.path().join("probe");
    std::fs::write(&local_probe, probe_bytes)?;
    let other = tmp.path().join("other");
    std::fs::write(&other, b"overwritten!")?;
    let remote = format!("{PROBE_DIR}\\probe");

    // The probe must be older than the grace period: create it once, reuse it after.
    let age = share_path
        .and_then(|p| std::fs::metadata(p.join(PROBE_DIR).join("probe")).ok())
        .map(|m| {
            let now = jiff::Timestamp::now().as_second();
            (now - m.ctime()).max(0) as u64
        });
    let age = match age {
        Some(a) => a,
        None => {
            let out = client.run(&format!("mkdir {PROBE_DIR}; put {} {remote}", local_probe.display()))?;
            if out.contains("NT_STATUS_") && !out.contains("NT_STATUS_OBJECT_NAME_COLLISION") {
                bail!("cannot create the probe file over SMB: {}", first_status(&out));
            }
            0
        }
    };
    if grace > 0 && age <= grace {
        let wait = grace + 1 - age;
        if wait > 600 {
            bail!("the probe file is {age} s old and the grace period is {grace} s; run `camvault samba check` again in {wait} s");
        }
        eprintln!("waiting {wait} s for the probe file to age past the grace period ({grace} s)…");
        std::thread::sleep(Duration::from_secs(wait));
    }

    let mut protected = true;
    for (what, cmd) in [
        ("delete", format!("del {remote}")),
        ("rename", format!("rename {remote} {PROBE_DIR}\\renamed")),
        ("overwrite", format!("put {} {remote}", other.display())),
    ] {
        let out = client.run(&cmd)?;
        if denied(&out) {
            findings.push(Finding {
                ok: true,
                what: format!("{what} of a file older than the grace period is refused"),
            });
        } else {
            protected = false;
            findings.push(Finding {
                ok: false,
                what: format!(
                    "PROTECTION OFF: the camera user could {what} a file older than the grace period ({})",
                    first_status(&out)
                ),
            });
            break; // the probe is gone or changed: the other operations prove nothing more
        }
    }
    let back = tmp.path().join("back");
    let got = client.run(&format!("get {remote} {}", back.display()))?;
    if protected && std::fs::read(&back).ok().as_deref() != Some(&probe_bytes[..]) {
        findings.push(Finding {
            ok: false,
            what: format!(
                "the probe file changed although every change was refused ({})",
                first_status(&got)
            ),
        });
    }
    if !protected {
        // Leave a fresh probe for the next check.
        let _ = client.run(&format!(
            "mkdir {PROBE_DIR}; del {PROBE_DIR}\\renamed; put {} {remote}",
            local_probe.display()
        ));
    }

    hostile_probe(&client, findings)?;

    let stamp = jiff::Timestamp::now().as_second();
    let name = format!("{PROBE_DIR}\\new-{stamp}");
    let out = client.run(&format!("put {} {name}", local_probe.display()))?;
    // Whose file the camera just made, seen on disk when the share is on this machine.
    let made = share_path.and_then(|p| std::fs::symlink_metadata(p.join(PROBE_DIR).join(format!("new-{stamp}"))).ok());
    let _ = client.run(&format!("del {name}"))?;
    if let Some(m) = &made {
        if m.uid() == 0 || m.mode() & 0o7007 != 0 {
            findings.push(Finding {
                ok: false,
                what: format!(
                    "a file the camera writes belongs to uid {} with mode {:o}: the share acts as root or sets modes it must not; use the config from `camvault samba config`",
                    m.uid(),
                    m.mode() & 0o7777
                ),
            });
        } else {
            findings.push(Finding {
                ok: true,
                what: format!(
                    "files the camera writes belong to uid {} gid {}, mode {:o}",
                    m.uid(),
                    m.gid(),
                    m.mode() & 0o7777
                ),
            });
        }
    }
    if out.contains("putting file") {
        findings.push(Finding {
            ok: true,
            what: "new files can be created".into(),
        });
    } else {
        findings.push(Finding {
            ok: false,
            what: format!("the camera user cannot create new files: {}", first_status(&out)),
        });
    }
    Ok(())
}

/// Asks for SMB1 UNIX extensions as the camera user, and when the server grants them, tries
/// what they allow on camvault's own probe folder: each that goes through is a failure.
fn hostile_probe(client: &Client, findings: &mut Vec<Finding>) -> Result<()> {
    let out = client.run("posix")?;
    if out.contains("doesn't support UNIX CIFS extensions") || out.contains("does not support UNIX CIFS extensions") {
        findings.push(Finding {
            ok: true,
            what: "the server refuses SMB1 UNIX extensions to the camera user: no symlinks, UNIX hard links, device nodes, modes or owners over SMB".into(),
        });
        return Ok(());
    }
    findings.push(Finding {
        ok: false,
        what: "the server grants SMB1 UNIX extensions to the camera user (symlinks, hard links, device nodes, modes, owners); set `unix extensions = no` in [global]".into(),
    });
    let d = format!("{PROBE_DIR}/unix-{}", jiff::Timestamp::now().as_second());
    for (what, cmd, good) in [
        (
            "create a symlink to /etc/shadow",
            format!("posix; mkdir {d}; symlink /etc/shadow {d}/shadow"),
            "NT_STATUS_",
        ),
        ("chmod 7777 a folder", format!("posix; chmod 7777 {d}"), "NT_STATUS_"),
        ("chown a folder to root", format!("posix; chown 0 0 {d}"), "NT_STATUS_"),
    ] {
        let out = client.run(&cmd)?;
        if !out.contains(good) {
            findings.push(Finding {
                ok: false,
                what: format!("the camera user could {what} over SMB1"),
            });
        }
    }
    let _ = client.run(&format!("posix; rm {d}/shadow; rmdir {d}"));
    Ok(())
}

fn first_status(out: &str) -> String {
    out.split_whitespace()
        .find(|w| w.starts_with("NT_STATUS_"))
        .map(str::to_string)
        .unwrap_or_else(|| "no error: it succeeded".into())
}

/// Whether smbd's build says where VFS modules live and `name` is not there. Debian
/// ships vfs_worm in `samba-vfs-modules`, only a Recommends of `samba`.
pub fn vfs_module_missing(name: &str) -> bool {
    let Ok(out) = Command::new(find("smbd")).arg("-b").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(dir) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("MODULESDIR:"))
        .map(str::trim)
    else {
        return false;
    };
    !Path::new(dir).join("vfs").join(format!("{name}.so")).exists()
}

/// The key under which `serve` keeps the share check's verdict for the health rules.
pub const SHARE_PROBE: &str = crate::catalog::kv::SHARE_PROBE.name();

/// The whole `samba check`, as one verdict: `None` when the share refuses deletes, else
/// what is wrong. `Err` when it could not be checked at all (no password configured).
pub fn verdict(cfg: &Config) -> Result<Option<crate::msg::Msg>> {
    let mut findings = Vec::new();
    let (path, grace) = check_config(cfg, &mut findings)?;
    if path.is_some() {
        if let Err(e) = probe(cfg, path.as_deref(), grace, &mut findings) {
            return Ok(Some(crate::msg!(
                "health.detail.share_check_failed",
                error = format!("{e:#}")
            )));
        }
    }
    let bad: Vec<&str> = findings.iter().filter(|f| !f.ok).map(|f| f.what.as_str()).collect();
    Ok((!bad.is_empty()).then(|| crate::msg!("health.detail.share_unprotected", findings = bad.join("; "))))
}
