//! The camera's SMB1 share: Samba's configuration, its supervision, the live proof that it
//! refuses deletes, and the audit log of deletion attempts.
//!
//! Samba itself (Debian's `smbd`) serves the share; camvault only writes its configuration
//! and reads what it logs. Protection comes from `vfs_worm`: once a file has been unchanged
//! for `worm:grace_period` seconds, deletes, renames and overwrites over SMB are refused,
//! while new files can still be created. `full_audit` sits above `worm` in the VFS stack so
//! that it sees, and logs, the refusals.

pub mod audit;
pub mod check;
pub mod manage;

use std::fmt::Write;
use std::os::unix::fs::MetadataExt;

use crate::config::Config;

/// The prefix of every audit line camvault writes and reads back: time, client, user.
pub const AUDIT_PREFIX: &str = "camvault|%T|%I|%U";

/// camvault's own folder in the inbox (probe files); never captured.
pub const PROBE_DIR: &str = ".camvault";

/// The user files are written as: `force_user`, else the owner of the inbox.
pub fn force_user(cfg: &Config) -> String {
    if !cfg.samba.force_user.is_empty() {
        return cfg.samba.force_user.clone();
    }
    let uid = std::fs::metadata(cfg.inbox()).map(|m| m.uid()).unwrap_or(0);
    user_name(uid).unwrap_or_else(|| "root".into())
}

fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
}

/// The complete, commented Samba configuration for the inbox share.
pub fn render(cfg: &Config) -> String {
    let s = &cfg.samba;
    let state = cfg.samba_state();
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "# Samba configuration for the camvault inbox share, written by `camvault samba config`."
    );
    let _ = writeln!(
        w,
        "# From {}. Edit camvault.toml and regenerate rather than editing this file.",
        cfg.source.display()
    );
    let _ = writeln!(w);
    let _ = writeln!(w, "[global]");
    let _ = writeln!(w, "   # Xiaomi cameras speak SMB1 (NT1) with NTLMv1 only.");
    let _ = writeln!(w, "   server min protocol = NT1");
    let _ = writeln!(w, "   ntlm auth = ntlmv1-permitted");
    let _ = writeln!(w, "   netbios name = {}", s.netbios_name);
    let _ = writeln!(w, "   workgroup = {}", s.workgroup);
    let _ = writeln!(w, "   server string = camvault");
    let _ = writeln!(w, "   disable netbios = {}", if s.netbios { "no" } else { "yes" });
    let _ = writeln!(w, "   smb ports = {}", s.port);
    if !s.interfaces.is_empty() {
        let _ = writeln!(w, "   interfaces = {}", s.interfaces.join(" "));
        let _ = writeln!(w, "   bind interfaces only = yes");
    }
    let _ = writeln!(w, "   # Only these may connect; everyone else is refused before login.");
    let _ = writeln!(w, "   hosts allow = {}", s.hosts_allow.join(" "));
    let _ = writeln!(w, "   hosts deny = ALL");
    let _ = writeln!(w, "   # No guests, no printers.");
    let _ = writeln!(w, "   map to guest = never");
    let _ = writeln!(w, "   restrict anonymous = 2");
    let _ = writeln!(w, "   load printers = no");
    let _ = writeln!(w, "   printing = bsd");
    let _ = writeln!(w, "   printcap name = /dev/null");
    let _ = writeln!(w, "   disable spoolss = yes");
    if s.manage {
        let _ = writeln!(
            w,
            "   # Run by `camvault serve` (samba.manage = true): its own state, apart from the system's."
        );
        for (key, dir) in [
            ("private dir", "private"),
            ("lock directory", "lock"),
            ("state directory", "state"),
            ("cache directory", "cache"),
            ("pid directory", "run"),
        ] {
            let _ = writeln!(w, "   {key} = {}", state.join(dir).display());
        }
        let _ = writeln!(w, "   ncalrpc dir = {}", state.join("run/ncalrpc").display());
        let _ = writeln!(
            w,
            "   passdb backend = tdbsam:{}",
            state.join("private/passdb.tdb").display()
        );
    }
    let _ = writeln!(
        w,
        "   # camvault reads the audit lines (deletes, renames, overwrites) from this log."
    );
    let _ = writeln!(w, "   log file = {}", cfg.samba_audit_log().display());
    let _ = writeln!(w, "   max log size = 10000");
    let _ = writeln!(w, "   log level = 1");
    let _ = writeln!(w);
    let _ = writeln!(w, "[{}]", s.share);
    let _ = writeln!(w, "   comment = camvault inbox: recordings are archived, never deleted");
    let _ = writeln!(w, "   path = {}", cfg.inbox().display());
    let _ = writeln!(w, "   valid users = {}", s.camera_user);
    let _ = writeln!(w, "   force user = {}", force_user(cfg));
    let _ = writeln!(w, "   read only = no");
    let _ = writeln!(w, "   browseable = yes");
    let _ = writeln!(w, "   guest ok = no");
    let _ = writeln!(w, "   create mask = 0644");
    let _ = writeln!(w, "   directory mask = 0755");
    let _ = writeln!(w, "   # Never follow a link out of the share.");
    let _ = writeln!(w, "   wide links = no");
    let _ = writeln!(w, "   # full_audit first, so it sees (and logs) what worm refuses.");
    let _ = writeln!(w, "   vfs objects = full_audit worm");
    let _ = writeln!(
        w,
        "   # A file unchanged (ctime) for this long can no longer be deleted, renamed or written:"
    );
    let _ = writeln!(
        w,
        "   # longer than the camera's longest pause between writes (docs/cameras.md)."
    );
    let _ = writeln!(w, "   worm:grace_period = {}", s.grace_secs);
    let _ = writeln!(w, "   full_audit:prefix = {AUDIT_PREFIX}");
    let _ = writeln!(w, "   full_audit:success = unlinkat renameat");
    // Refused opens for writing, writes and renames are the camera's own writes failing.
    let _ = writeln!(
        w,
        "   full_audit:failure = unlinkat renameat create_file openat pwrite pwrite_send"
    );
    let _ = writeln!(w, "   full_audit:syslog = false");
    let _ = writeln!(w, "   full_audit:log_secdesc = false");
    out
}

/// Shell steps that create the camera's system user and its Samba password.
pub fn setup_steps(cfg: &Config) -> String {
    let s = &cfg.samba;
    let conf = cfg.samba_config_file();
    let running = cfg.samba_running_config();
    format!(
        "# 1. A system user for the camera, without a login shell:\n\
         useradd --system --no-create-home --shell /usr/sbin/nologin {user}\n\
         # 2. Its Samba password (the one you enter in the Xiaomi Home app):\n\
         smbpasswd -c {running} -a {user}\n\
         # 3. {run}\n\
         # 4. Prove that deletes are refused:\n\
         camvault --config {cfg_path} samba check\n",
        user = s.camera_user,
        running = running.display(),
        run = if s.manage {
            "`camvault serve` runs smbd with this configuration (samba.manage = true).".to_string()
        } else {
            format!("Add `include = {}` as the last line of [global] in /etc/samba/smb.conf, then `systemctl restart smbd`.", conf.display())
        },
        cfg_path = cfg.source.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_the_camera_and_the_protection_need() {
        let mut cfg =
            Config::parse("[samba]\nmanage = true\nport = 4455\nhosts_allow = [\"192.168.1.0/24\"]\n").unwrap();
        cfg.source = "/srv/cam/camvault.toml".into();
        let text = render(&cfg);
        for needle in [
            "server min protocol = NT1",
            "ntlm auth = ntlmv1-permitted",
            "hosts allow = 192.168.1.0/24",
            "map to guest = never",
            "load printers = no",
            "path = /srv/cam/inbox",
            "valid users = camera",
            "vfs objects = full_audit worm",
            "worm:grace_period = 3900",
            "full_audit:failure = unlinkat renameat create_file openat pwrite pwrite_send",
            "smb ports = 4455",
            "passdb backend = tdbsam:/srv/cam/samba/private/passdb.tdb",
            "log file = /srv/cam/samba/log.smbd",
            "[camera]",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("password"), "no secret in the config");
    }
}
