//! The e-mail channel: one message per alert over SMTP, TLS by default (lettre).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Mail, Tokio1Executor};

use super::Message;
use crate::config::{Channel, Security};

/// Sends `msg` to every address of the channel.
pub async fn send(ch: &Channel, msg: &Message, body: String) -> Result<(), String> {
    send_with(ch, msg, body, None).await
}

/// The same with a JPEG attached (the frame of an activity notification).
pub async fn send_with(ch: &Channel, msg: &Message, body: String, jpeg: Option<&[u8]>) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("channel {}: {e}", ch.name);
    // Parsed when the config was loaded.
    let email = ch.email.as_ref().ok_or_else(|| fail(&"not an e-mail channel"))?;
    let relay = &email.relay;
    let mut mail = Mail::builder().from(email.from.clone()).subject(&msg.title);
    for to in &email.to {
        mail = mail.to(to.clone());
    }
    let mail = match jpeg {
        None => mail.header(ContentType::TEXT_PLAIN).body(body),
        Some(j) => mail.multipart(
            MultiPart::mixed().singlepart(SinglePart::plain(body)).singlepart(
                Attachment::new("frame.jpg".to_string())
                    .body(j.to_vec(), ContentType::parse("image/jpeg").expect("a valid type")),
            ),
        ),
    }
    .map_err(|e| fail(&e))?;
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
