//! The credentials file of the cloud backends: `key = value` lines in a file only the
//! service user can read.

use std::collections::BTreeMap;
use std::path::Path;

/// Reads `key = value` lines; `#` comments and one `[section]` line are allowed, so that
/// a one-profile `~/.aws/credentials` works as it is. Keys are lower-cased and lose an
/// `aws_` prefix (`aws_access_key_id` = `access_key_id`). `setting` names the config key
/// in errors.
pub fn read(path: &Path, setting: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read `{setting}` {}: {e}", path.display()))?;
    if text.lines().filter(|l| l.trim_start().starts_with('[')).count() > 1 {
        anyhow::bail!(
            "`{setting}` {} holds several profiles; give camvault a file with only its own keys",
            path.display()
        );
    }
    Ok(text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let k = k.trim().to_ascii_lowercase();
            let k = k.strip_prefix("aws_").unwrap_or(&k).to_string();
            (k, v.trim().trim_matches('"').to_string())
        })
        .collect())
}

/// One credential: the config's value, else the credentials file's, else `$env`'s; empty
/// values count as absent.
pub fn pick(conf: &str, file: &BTreeMap<String, String>, file_key: &str, env: &str) -> Option<String> {
    Some(conf.to_string())
        .filter(|v| !v.is_empty())
        .or_else(|| file.get(file_key).cloned().filter(|v| !v.is_empty()))
        .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_comments_and_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        std::fs::write(
            &p,
            "[default]\n# mine\naws_access_key_id = AK\nsecret_access_key = \"S=1\"\n",
        )
        .unwrap();
        let m = read(&p, "store.s3.credentials_file").unwrap();
        assert_eq!(m["access_key_id"], "AK");
        assert_eq!(m["secret_access_key"], "S=1");
        std::fs::write(&p, "[a]\nx = 1\n[b]\nx = 2\n").unwrap();
        let e = read(&p, "store.oss.credentials_file").unwrap_err().to_string();
        assert!(
            e.contains("`store.oss.credentials_file`") && e.contains("several profiles"),
            "{e}"
        );
        let e = read(&dir.path().join("none"), "store.s3.credentials_file")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read `store.s3.credentials_file`"), "{e}");
    }
}
