//! `[samba]`: the SMB share the camera writes to.

use std::path::PathBuf;

use serde::Deserialize;

use super::values::Secret;

/// The SMB share the camera writes to (see `docs/samba.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Samba {
    /// `serve` runs smbd (and nmbd when `netbios`) itself with the generated config.
    pub manage: bool,
    /// The Samba config `samba config --write` writes; empty = `<state_dir>/smb.conf`
    /// when managed, else `/etc/samba/camvault.conf` (included from Debian's smb.conf).
    pub config_file: PathBuf,
    /// The configuration the running smbd reads, for `samba check`; empty = `config_file`
    /// when managed, else `/etc/samba/smb.conf`.
    pub running_config: PathBuf,
    /// Share name the camera is given.
    pub share: String,
    /// The user the camera logs in as (a system user with a Samba password).
    pub camera_user: String,
    /// The unprivileged user the share acts as and writes files as; empty = `camera_user`.
    /// Never root (see `docs/security.md`).
    pub force_user: String,
    /// The group of the files the camera writes: camvault's own group, so that camvault can
    /// read and hard-link them; empty = the group of the vault unless that is root's, else
    /// the primary group of `force_user`. Never root.
    pub force_group: String,
    /// The camera user's password, for `samba check` only; prefer `password_file` or
    /// `$CAMVAULT_SAMBA_PASSWORD`. Never logged.
    pub password: Secret,
    pub password_file: PathBuf,
    pub netbios: bool,
    pub netbios_name: String,
    pub workgroup: String,
    /// Addresses allowed to connect (Samba `hosts allow` syntax, one entry each).
    pub hosts_allow: Vec<String>,
    /// Interfaces or addresses smbd listens on; empty = all.
    pub interfaces: Vec<String>,
    pub port: u16,
    /// Seconds after the last change from which a file can no longer be deleted,
    /// renamed, overwritten or written over SMB (`worm:grace_period`, judged by ctime);
    /// must outlast the camera's longest pause between writes to one file.
    pub grace_secs: u64,
    /// Managed smbd's private, lock, state and cache folders, and its log.
    pub state_dir: PathBuf,
    /// The smbd log holding the audit lines camvault reads; empty = `<state_dir>/log.smbd`.
    pub audit_log: PathBuf,
    /// Where `samba check` connects to the share.
    pub address: String,
}

impl Default for Samba {
    fn default() -> Self {
        Samba {
            manage: false,
            config_file: PathBuf::new(),
            running_config: PathBuf::new(),
            share: "camera".into(),
            camera_user: "camera".into(),
            force_user: String::new(),
            force_group: String::new(),
            password: Secret::default(),
            password_file: PathBuf::new(),
            netbios: true,
            netbios_name: "CAMVAULT".into(),
            workgroup: "WORKGROUP".into(),
            hosts_allow: vec![
                "127.0.0.1".into(),
                "192.168.0.0/16".into(),
                "10.0.0.0/8".into(),
                "172.16.0.0/12".into(),
            ],
            interfaces: Vec::new(),
            port: 445,
            // Longer than the camera's hourly NAS sync (python-miio: realtime 300 s, hour
            // 3600 s): worm counts from the last write (ctime), so a clip appended to every
            // sync stays writable, and a clip renamed when it ends can still be renamed.
            grace_secs: 3900,
            state_dir: "samba".into(),
            audit_log: PathBuf::new(),
            address: "127.0.0.1".into(),
        }
    }
}
