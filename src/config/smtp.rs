//! The e-mail channel's relay URL: `smtps://host[:465]` (TLS), `smtp://host[:587]`
//! (STARTTLS, required) or `smtp+plain://host[:25]` (no encryption: a relay on this
//! machine or LAN only). Sending is `alerts::email`'s job.

use std::fmt;
use std::str::FromStr;

/// How to reach the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`smtps://`, port 465).
    Tls,
    /// STARTTLS, refusing to go on without it (`smtp://`, port 587).
    StartTls,
    /// No encryption (`smtp+plain://`, port 25): only for a relay on this machine or LAN.
    Plain,
}

impl Security {
    fn scheme(self) -> &'static str {
        match self {
            Security::Tls => "smtps",
            Security::StartTls => "smtp",
            Security::Plain => "smtp+plain",
        }
    }
}

/// Parses `smtps://host[:port]`, `smtp://host[:port]` or `smtp+plain://host[:port]`.
impl FromStr for SmtpUrl {
    type Err = String;
    fn from_str(url: &str) -> Result<SmtpUrl, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or("write smtps://host:465, smtp://host:587 (STARTTLS) or smtp+plain://host:25")?;
        let (security, default_port) = match scheme {
            "smtps" => (Security::Tls, 465),
            "smtp" => (Security::StartTls, 587),
            "smtp+plain" => (Security::Plain, 25),
            _ => {
                return Err(format!(
                    "unknown scheme {scheme:?}: use smtps, smtp (STARTTLS) or smtp+plain"
                ))
            }
        };
        let hostport = rest.trim_end_matches('/');
        if hostport.contains('@') || hostport.contains('/') {
            return Err("put the user in `username` and the password in `password`, not in the URL".into());
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("bad port {p:?}"))?),
            None => (hostport, default_port),
        };
        if host.is_empty() {
            return Err("no host".into());
        }
        Ok(SmtpUrl {
            host: host.to_string(),
            port,
            security,
        })
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.security.scheme(), self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moved here from `alerts::email` with the parser.
    #[test]
    fn relay_urls() {
        let parse_url = |s: &str| s.parse::<SmtpUrl>();
        assert_eq!(
            parse_url("smtps://smtp.qq.com").unwrap(),
            SmtpUrl {
                host: "smtp.qq.com".into(),
                port: 465,
                security: Security::Tls
            }
        );
        assert_eq!(parse_url("smtp://mail.example.com:2525").unwrap().port, 2525);
        assert_eq!(
            parse_url("smtp://mail.example.com").unwrap().security,
            Security::StartTls
        );
        assert_eq!(parse_url("smtp+plain://127.0.0.1").unwrap().port, 25);
        for bad in [
            "",
            "mail.example.com",
            "http://x",
            "smtp://",
            "smtp://h:99999",
            "smtps://me:pw@host",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let u = parse_url("smtp+plain://relay.lan:2525").unwrap();
        assert_eq!(parse_url(&u.to_string()).unwrap(), u, "Display writes what parses back");
    }
}
