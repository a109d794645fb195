//! The e-mail channel: one message per alert over SMTP, TLS by default (lettre).

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Mail, Tokio1Executor};

use super::Message;
use crate::config::Channel;

/// How to reach the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
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

/// Parses `smtps://host[:port]`, `smtp://host[:port]` or `smtp+plain://host[:port]`.
pub fn parse_url(url: &str) -> Result<Relay, String> {
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
    Ok(Relay {
        host: host.to_string(),
        port,
        security,
    })
}

/// Sends `msg` to every address of the channel.
pub async fn send(ch: &Channel, msg: &Message, body: String) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("channel {}: {e}", ch.name);
    let relay = parse_url(&ch.url).map_err(|e| fail(&e))?;
    let from: Mailbox = ch.from.parse().map_err(|e| fail(&format!("`from`: {e}")))?;
    let mut mail = Mail::builder().from(from).subject(&msg.title);
    for to in &ch.to {
        mail = mail.to(to.parse().map_err(|e| fail(&format!("`to` {to:?}: {e}")))?);
    }
    let mail = mail.header(ContentType::TEXT_PLAIN).body(body).map_err(|e| fail(&e))?;
    let tls = || -> Result<TlsParameters, String> {
        let mut b = TlsParameters::builder(relay.host.clone());
        if !ch.ca_file.as_os_str().is_empty() {
            let pem = std::fs::read(&ch.ca_file).map_err(|e| format!("`ca_file` {}: {e}", ch.ca_file.display()))?;
            b = b.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| format!("`ca_file`: {e}"))?);
        }
        b.build().map_err(|e| e.to_string())
    };
    let mut t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&relay.host)
        .port(relay.port)
        .timeout(Some(Duration::from_secs(20)))
        .tls(match relay.security {
            Security::Tls => Tls::Wrapper(tls().map_err(|e| fail(&e))?),
            Security::StartTls => Tls::Required(tls().map_err(|e| fail(&e))?),
            Security::Plain => Tls::None,
        });
    if !ch.username.is_empty() {
        // PLAIN only: over TLS it is what every relay offers, and falling back to LOGIN
        // after a refused password makes some relays hang instead of answering.
        t = t
            .credentials(Credentials::new(ch.username.clone(), ch.password.0.clone()))
            .authentication(vec![Mechanism::Plain]);
    }
    // lettre's errors name the relay and the SMTP reply, never the password.
    match tokio::time::timeout(Duration::from_secs(60), t.build().send(mail)).await {
        Ok(r) => r.map(|_| ()).map_err(|e| fail(&e)),
        Err(_) => Err(fail(&format!(
            "no answer from {}:{} within 60 s",
            relay.host, relay.port
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls() {
        assert_eq!(
            parse_url("smtps://smtp.qq.com").unwrap(),
            Relay {
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
    }
}
