//! ListObjectsV2's answer, which S3 and OSS write alike.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResult {
    #[serde(default)]
    pub contents: Vec<Contents>,
    #[serde(default)]
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contents {
    pub key: String,
    pub size: u64,
    pub storage_class: Option<String>,
    pub last_modified: Option<String>,
}
