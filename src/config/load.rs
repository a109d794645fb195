//! Loading: finding the file, reading and parsing it, resolving relative paths against
//! its directory, and secrets that may come from a file or the environment. Defaults are
//! each section's `Default`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{Config, DEFAULT_FILE, PACKAGED_FILE};

impl Config {
    /// Finds the config: `--config`, else `$CAMVAULT_CONFIG` (clap fills that in), else
    /// `./camvault.toml`, else the Debian package's `/etc/camvault/camvault.toml` when it exists.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        explicit.map(Path::to_path_buf).unwrap_or_else(|| {
            let local = PathBuf::from(DEFAULT_FILE);
            if !local.exists() && Path::new(PACKAGED_FILE).exists() {
                PathBuf::from(PACKAGED_FILE)
            } else {
                local
            }
        })
    }

    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read config {}; create one with `camvault init`, or pass --config FILE / set CAMVAULT_CONFIG",
                path.display()
            )
        })?;
        let mut cfg = Config::parse(&text).with_context(|| format!("invalid config {}", path.display()))?;
        // Absolute, so that paths handed to smbd and other programs do not depend on the cwd.
        cfg.source = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(cfg)
    }

    pub fn parse(text: &str) -> Result<Config> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn base(&self) -> PathBuf {
        self.source.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            let base = self.base();
            if base.as_os_str().is_empty() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        }
    }

    pub fn inbox(&self) -> PathBuf {
        self.resolve(&self.paths.inbox)
    }
    pub fn vault(&self) -> PathBuf {
        self.resolve(&self.paths.vault)
    }
    pub fn restore_dir(&self) -> PathBuf {
        self.resolve(&self.restore.dir)
    }
    pub fn catalog(&self) -> PathBuf {
        self.resolve(&self.paths.catalog)
    }
    /// Thumbnails and transcoded clips of the web interface.
    pub fn web_cache(&self) -> PathBuf {
        self.resolve(&self.http.cache_dir)
    }
    /// The index's pictures (preview strips, segment frames).
    pub fn index_dir(&self) -> PathBuf {
        self.resolve(&self.index.dir)
    }
    /// The detector model, `None` when not configured.
    pub fn detector(&self) -> Option<PathBuf> {
        let p = &self.index.detector;
        (!p.as_os_str().is_empty()).then(|| self.resolve(p))
    }
    pub fn fs_root(&self) -> PathBuf {
        self.resolve(&self.store.fs.root)
    }
    pub fn oss_credentials_file(&self) -> Option<PathBuf> {
        let p = &self.store.oss.credentials_file;
        (!p.as_os_str().is_empty()).then(|| self.resolve(p))
    }
    pub fn s3_credentials_file(&self) -> Option<PathBuf> {
        let p = &self.store.s3.credentials_file;
        (!p.as_os_str().is_empty()).then(|| self.resolve(p))
    }
    pub fn samba_state(&self) -> PathBuf {
        self.resolve(&self.samba.state_dir)
    }
    /// The Samba configuration camvault generates.
    pub fn samba_config_file(&self) -> PathBuf {
        if !self.samba.config_file.as_os_str().is_empty() {
            self.resolve(&self.samba.config_file)
        } else if self.samba.manage {
            self.samba_state().join("smb.conf")
        } else {
            PathBuf::from("/etc/samba/camvault.conf")
        }
    }
    /// The configuration the running smbd reads: ours when managed, else Debian's
    /// `/etc/samba/smb.conf`, which includes ours.
    pub fn samba_running_config(&self) -> PathBuf {
        if !self.samba.running_config.as_os_str().is_empty() {
            self.resolve(&self.samba.running_config)
        } else if self.samba.manage {
            self.samba_config_file()
        } else {
            PathBuf::from("/etc/samba/smb.conf")
        }
    }
    pub fn samba_audit_log(&self) -> PathBuf {
        if self.samba.audit_log.as_os_str().is_empty() {
            self.samba_state().join("log.smbd")
        } else {
            self.resolve(&self.samba.audit_log)
        }
    }
    /// Whether the file itself holds a secret (then it must be readable by its owner only).
    pub fn holds_secrets(&self) -> bool {
        !self.samba.password.0.is_empty()
            || !self.store.oss.access_key_secret.0.is_empty()
            || !self.store.oss.security_token.0.is_empty()
            || !self.store.s3.secret_access_key.0.is_empty()
            || !self.store.s3.session_token.0.is_empty()
            || self.store.mirror.iter().any(|m| {
                !m.oss.access_key_secret.0.is_empty()
                    || !m.oss.security_token.0.is_empty()
                    || !m.s3.secret_access_key.0.is_empty()
                    || !m.s3.session_token.0.is_empty()
            })
            // Robot and push URLs carry their access keys.
            || !self.alerts.channel.is_empty()
            || self.cameras.values().any(|c| !c.miio_token.0.is_empty())
    }

    /// The camera user's password: config, then `password_file`, then `$CAMVAULT_SAMBA_PASSWORD`.
    pub fn samba_password(&self) -> Result<Option<String>> {
        if !self.samba.password.0.is_empty() {
            return Ok(Some(self.samba.password.0.clone()));
        }
        if !self.samba.password_file.as_os_str().is_empty() {
            let p = self.resolve(&self.samba.password_file);
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read `samba.password_file` {}", p.display()))?;
            return Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()));
        }
        Ok(std::env::var("CAMVAULT_SAMBA_PASSWORD").ok().filter(|p| !p.is_empty()))
    }
}
