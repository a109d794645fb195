//! `store.s3.endpoint` and `store.oss.endpoint`: a store's address, checked once at load
//! into an http(s) URL with a host, so the backends never parse the text again.

use reqwest::Url;

/// A store's endpoint: empty (the store's public one, derived from the region) or an
/// http(s) URL with a host and no query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint(Option<Url>);

impl Endpoint {
    /// `store.s3.endpoint`: a URL with its scheme, e.g. `http://nas.lan:9000`.
    pub(super) fn s3(s: &str) -> Result<Endpoint, String> {
        const ALLOWED: &str =
            "write the store's URL, e.g. \"https://s3.eu-central-1.amazonaws.com\" or \"http://nas.lan:9000\" (empty = AWS)";
        if s.is_empty() {
            return Ok(Endpoint(None));
        }
        let url = Url::parse(s).map_err(|e| format!("{e}: {ALLOWED}"))?;
        Self::checked(url, false).map_err(|e| format!("{e}: {ALLOWED}"))
    }

    /// `store.oss.endpoint`: a host (HTTPS) or a URL, without a path, e.g.
    /// `oss-cn-beijing.aliyuncs.com` or `https://videos.example.com`.
    pub(super) fn oss(s: &str) -> Result<Endpoint, String> {
        const ALLOWED: &str = "write a host such as \"oss-cn-beijing.aliyuncs.com\" or a URL such as \"https://videos.example.com\", without a path (empty = the region's public endpoint)";
        if s.is_empty() {
            return Ok(Endpoint(None));
        }
        let text = if s.contains("://") {
            s.to_string()
        } else {
            format!("https://{s}")
        };
        let url = Url::parse(&text).map_err(|e| format!("{e}: {ALLOWED}"))?;
        Self::checked(url, true).map_err(|e| format!("{e}: {ALLOWED}"))
    }

    fn checked(url: Url, no_path: bool) -> Result<Endpoint, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("the scheme {:?} is not http or https", url.scheme()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("no host".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("a query or fragment has no place in an endpoint".into());
        }
        if no_path && url.path() != "/" {
            return Err(format!("the path {:?} has no place in an endpoint", url.path()));
        }
        Ok(Endpoint(Some(url)))
    }

    /// Empty: the store's public endpoint.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn url(&self) -> Option<&Url> {
        self.0.as_ref()
    }

    /// The URL without its trailing `/`, as written (`""` when empty).
    pub fn as_str(&self) -> &str {
        self.0.as_ref().map_or("", |u| u.as_str().trim_end_matches('/'))
    }

    /// The host, and `:port` when one was given (IPv6 in brackets); `""` when empty.
    pub fn authority(&self) -> String {
        let Some(u) = &self.0 else { return String::new() };
        let host = u.host_str().unwrap_or_default();
        match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    /// `http://`: plain HTTP (a store on the LAN).
    pub fn is_plain_http(&self) -> bool {
        self.0.as_ref().is_some_and(|u| u.scheme() == "http")
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn s3_endpoints_are_http_urls_with_a_host() {
        assert!(Endpoint::s3("").unwrap().is_empty());
        let e = Endpoint::s3("http://127.0.0.1:9000/").unwrap();
        assert_eq!(
            (e.as_str(), e.authority().as_str()),
            ("http://127.0.0.1:9000", "127.0.0.1:9000")
        );
        assert!(e.is_plain_http());
        assert_eq!(
            Endpoint::s3("https://s3.eu-central-1.amazonaws.com").unwrap().as_str(),
            "https://s3.eu-central-1.amazonaws.com"
        );
        for bad in [
            "nas.lan:9000",
            "ftp://nas.lan",
            "http://",
            "https://x.y/?a=b",
            "s3.amazonaws.com",
        ] {
            let e = Endpoint::s3(bad).unwrap_err();
            assert!(e.contains("http://nas.lan:9000"), "{bad}: {e}");
        }
    }

    #[test]
    fn oss_endpoints_take_a_host_or_a_url_without_a_path() {
        let e = Endpoint::oss("oss-cn-beijing.aliyuncs.com").unwrap();
        assert_eq!(
            (e.url().unwrap().scheme(), e.authority().as_str()),
            ("https", "oss-cn-beijing.aliyuncs.com")
        );
        let e = Endpoint::oss("http://[::1]:8080/").unwrap();
        assert_eq!(
            (e.url().unwrap().scheme(), e.authority().as_str()),
            ("http", "[::1]:8080")
        );
        for bad in ["https://x.example.com/videos", "ftp://x", "a b", "http://x/?q"] {
            let e = Endpoint::oss(bad).unwrap_err();
            assert!(e.contains("without a path"), "{bad}: {e}");
        }
    }
}
