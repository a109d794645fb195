//! The languages camvault speaks (`http.language`, `alerts.language`); the catalogues and
//! the choosing live in `web::i18n`, which adds its methods to this type.

use serde::Deserialize;

/// A language camvault speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN", alias = "zh", alias = "zh-Hans")]
    Zh,
}
