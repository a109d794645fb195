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
pub mod owner;

use std::fmt::Write;

use anyhow::Result;

use crate::config::Config;

/// The prefix of every audit line camvault writes and reads back: time, client, user.
pub const AUDIT_PREFIX: &str = "camvault|%T|%I|%U";

/// camvault's own folder in the inbox (probe files); never captured.
pub const PROBE_DIR: &str = ".camvault";

/// The complete, commented Samba configuration for the inbox share. Refuses (naming the
/// key) a configuration whose share would act as root.
pub fn render(cfg: &Config) -> Result<String> {
    let s = &cfg.samba;
    let owner = owner::resolve(cfg)?;
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
    if !s.manage {
        for line in GLOBAL_WARNING.lines() {
            let _ = writeln!(w, "   # {line}");
        }
    }
    let _ = writeln!(w, "   # Xiaomi cameras speak SMB1 (NT1) with NTLMv1 only.");
    let _ = writeln!(w, "   server min protocol = NT1");
    let _ = writeln!(w, "   ntlm auth = ntlmv1-permitted");
    let _ = writeln!(w, "   netbios name = {}", s.netbios_name);
    let _ = writeln!(w, "   workgroup = {}", s.workgroup);
    let _ = writeln!(w, "   server string = camvault");
    let _ = writeln!(w, "   disable netbios = {}", if s.netbios { "no" } else { "yes" });
    // With NetBIOS on, also TCP 139 (NetBIOS session service) beside 445, as owners'
    // working setups publish both: an SMB1 client that found the NAS by its NetBIOS name
    // may connect there (docs/cameras.md, "Samba settings real cameras need").
    if s.netbios && s.port != 139 {
        let _ = writeln!(w, "   smb ports = {} 139", s.port);
    } else {
        let _ = writeln!(w, "   smb ports = {}", s.port);
    }
    if !s.interfaces.is_empty() {
        let _ = writeln!(w, "   interfaces = {}", s.interfaces.join(" "));
        let _ = writeln!(w, "   bind interfaces only = yes");
    }
    if s.manage {
        let _ = writeln!(w, "   # Only these may connect; everyone else is refused before login.");
        let _ = writeln!(w, "   hosts allow = {}", s.hosts_allow.join(" "));
        let _ = writeln!(w, "   hosts deny = ALL");
    }
    let _ = writeln!(
        w,
        "   # No SMB1 UNIX extensions: the camera account cannot create symlinks, hard links or"
    );
    let _ = writeln!(
        w,
        "   # device nodes, nor set modes or owners (smb1 unix extensions, a [global]-only option)."
    );
    let _ = writeln!(w, "   unix extensions = no");
    let _ = writeln!(w, "   allow insecure wide links = no");
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
    let _ = writeln!(
        w,
        "   # Only the camera's LAN reaches this share (per share, so other shares keep their own list)."
    );
    let _ = writeln!(w, "   hosts allow = {}", s.hosts_allow.join(" "));
    let _ = writeln!(w, "   hosts deny = ALL");
    let _ = writeln!(
        w,
        "   # The share acts as this unprivileged user, never root; its files belong to camvault's"
    );
    let _ = writeln!(w, "   # group, which reads and hard-links them (docs/security.md).");
    let _ = writeln!(w, "   force user = {}", owner.user);
    let _ = writeln!(w, "   force group = {}", owner.group);
    let _ = writeln!(w, "   read only = no");
    let _ = writeln!(w, "   browseable = yes");
    let _ = writeln!(w, "   guest ok = no");
    let _ = writeln!(
        w,
        "   # Fixed modes: the camera sets no permission bits (no setuid, no world access)."
    );
    let _ = writeln!(w, "   create mask = 0{:o}", owner::FILE_MODE);
    let _ = writeln!(w, "   force create mode = 0{:o}", owner::FILE_MODE);
    let _ = writeln!(w, "   directory mask = 0770");
    let _ = writeln!(w, "   force directory mode = 0770");
    let _ = writeln!(w, "   inherit permissions = no");
    let _ = writeln!(w, "   inherit owner = no");
    let _ = writeln!(w, "   inherit acls = no");
    let _ = writeln!(
        w,
        "   # No ACLs, DOS attributes or extended attributes: nothing maps to chmod or chown."
    );
    let _ = writeln!(w, "   nt acl support = no");
    let _ = writeln!(w, "   acl map full control = no");
    let _ = writeln!(w, "   dos filemode = no");
    let _ = writeln!(w, "   store dos attributes = no");
    let _ = writeln!(w, "   map archive = no");
    let _ = writeln!(w, "   map hidden = no");
    let _ = writeln!(w, "   map system = no");
    let _ = writeln!(w, "   map readonly = no");
    let _ = writeln!(w, "   ea support = no");
    let _ = writeln!(w, "   # Never follow a symlink, inside the share or out of it.");
    let _ = writeln!(w, "   follow symlinks = no");
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
    Ok(out)
}

/// What the generated `[global]` does to the other shares of Debian's smbd (option B).
pub const GLOBAL_WARNING: &str = "\
WARNING for Debian's smbd (samba.manage = false): [global] settings apply to EVERY share of
this smbd, not only the camera's: SMB1 (server min protocol = NT1), NTLMv1 logins
(ntlm auth = ntlmv1-permitted) and no SMB1 UNIX extensions. Samba has no per-share form of
these. To keep them away from other shares, let camvault run the camera's own smbd
(samba.manage = true) and bind it to an address of its own (samba.interfaces), with
Debian's smbd bound to the others; see docs/samba.md, \"One smbd for the camera only\".";

/// Shell steps that create the camera's system user and its Samba password.
pub fn setup_steps(cfg: &Config) -> String {
    let s = &cfg.samba;
    let conf = cfg.samba_config_file();
    let running = cfg.samba_running_config();
    let owner = owner::resolve(cfg).map(|o| owner::fix_commands(&cfg.inbox(), &o));
    format!(
        "# 1. A system user for the camera, without a login shell:\n\
         useradd --system --no-create-home --shell /usr/sbin/nologin {user}\n\
         # 2. Its Samba password (the one you enter in the Xiaomi Home app):\n\
         smbpasswd -c {running} -a {user}\n\
         # 3. The inbox belongs to the share's user and camvault's group, mode 2770 (as root,\n\
         #    `samba config --write` and `serve` with samba.manage = true do this themselves):\n\
         {owner}\n\
         # 4. {run}\n\
         # 5. Prove that deletes, links, device nodes, modes and owners are refused:\n\
         camvault --config {cfg_path} samba check\n",
        user = s.camera_user,
        running = running.display(),
        owner = owner.unwrap_or_else(|e| format!("# {e:#}")),
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
        let text = render(&cfg).unwrap();
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
            "smb ports = 4455 139",
            "passdb backend = tdbsam:/srv/cam/samba/private/passdb.tdb",
            "log file = /srv/cam/samba/log.smbd",
            "[camera]",
            "unix extensions = no",
            "force user = camera",
            "follow symlinks = no",
            "create mask = 0660",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("password"), "no secret in the config");
        cfg.samba.netbios = false;
        let text = render(&cfg).unwrap();
        assert!(text.contains("smb ports = 4455\n"), "without NetBIOS, no 139: {text}");
    }
}
