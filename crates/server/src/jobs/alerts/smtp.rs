//! Email alerts over SMTP with `lettre`: `smtp://[user:pass@]host[:port]` speaks plain SMTP and
//! upgrades with STARTTLS when the server offers it; `smtps://…` is TLS from the first byte.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use url::Url;

use super::DeliveryError;
use crate::ServerConfig;

/// Why emails are not sent when no server is configured (the notification's `last_error`).
pub const NOT_CONFIGURED: &str = "no SMTP server configured (VIGIL_SMTP_URL)";
/// One SMTP conversation may take this long before it is counted as failed.
const TIMEOUT: Duration = Duration::from_secs(15);

/// A configured SMTP server and the sender address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for logs.
    pub server: String,
}

/// A `VIGIL_SMTP_URL` or `VIGIL_MAIL_FROM` Vigil cannot use.
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error("the SMTP URL must start with smtp:// or smtps://, not {0}://")]
    Scheme(String),
    #[error("the SMTP URL has no host")]
    NoHost,
    #[error("the SMTP URL's user or password is not valid percent-encoding")]
    Credentials,
    #[error("TLS settings for {host}: {reason}")]
    Tls { host: String, reason: String },
    #[error("the mail sender {address:?} is not an email address: {reason}")]
    From { address: String, reason: String },
}

impl Mailer {
    /// The mailer of `smtp_url` and `mail_from`; `Ok(None)` when no SMTP server is configured.
    pub fn from_config(config: &ServerConfig) -> Result<Option<Mailer>, MailConfigError> {
        match &config.smtp_url {
            None => Ok(None),
            Some(url) => Mailer::new(url, &config.mail_from).map(Some),
        }
    }

    pub fn new(url: &Url, from: &str) -> Result<Mailer, MailConfigError> {
        let implicit_tls = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => return Err(MailConfigError::Scheme(other.to_string())),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(MailConfigError::NoHost)?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port().unwrap_or(if implicit_tls { 465 } else { 25 });
        let tls_parameters =
            TlsParameters::new(host.clone()).map_err(|err| MailConfigError::Tls {
                host: host.clone(),
                reason: err.to_string(),
            })?;
        let tls = if implicit_tls {
            Tls::Wrapper(tls_parameters)
        } else {
            Tls::Opportunistic(tls_parameters)
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(port)
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if !url.username().is_empty() {
            let decode = |s: &str| percent_decode(s).ok_or(MailConfigError::Credentials);
            let user = decode(url.username())?;
            let password = decode(url.password().unwrap_or(""))?;
            builder = builder.credentials(Credentials::new(user, password));
        }
        let from: Mailbox =
            from.parse()
                .map_err(|err: lettre::address::AddressError| MailConfigError::From {
                    address: from.to_string(),
                    reason: err.to_string(),
                })?;
        Ok(Mailer {
            transport: builder.build(),
            from,
            server: format!("{host}:{port}"),
        })
    }

    /// Sends one email: `payload` is `{"subject", "text", "html"}` as the alerts crate renders
    /// it, `to` one address.
    pub async fn send(&self, to: &str, payload: &serde_json::Value) -> Result<(), DeliveryError> {
        let to: Mailbox = to.parse().map_err(|err: lettre::address::AddressError| {
            DeliveryError::Undeliverable(format!("invalid recipient {to:?}: {err}"))
        })?;
        let field = |name: &str| payload.get(name).and_then(|v| v.as_str()).unwrap_or("");
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(field("subject"))
            .multipart(MultiPart::alternative_plain_html(
                field("text").to_string(),
                field("html").to_string(),
            ))
            .map_err(|err| {
                DeliveryError::Undeliverable(format!("cannot build the email: {err}"))
            })?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_permanent() => Err(DeliveryError::Permanent(describe(&err))),
            Err(err) => Err(DeliveryError::Transient(describe(&err))),
        }
    }
}

/// lettre's error with its causes.
fn describe(err: &lettre::transport::smtp::Error) -> String {
    super::with_causes(err.to_string(), err)
}

/// `%xx` sequences of a URL's user or password decoded; `None` for invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_and_their_defaults() {
        let plain = Mailer::new(
            &"smtp://mail.example.com".parse().unwrap(),
            "vigil@example.com",
        )
        .expect("smtp");
        assert_eq!(plain.server, "mail.example.com:25");
        let tls = Mailer::new(
            &"smtps://u:p%40ss@mail.example.com".parse().unwrap(),
            "a@b.c",
        )
        .expect("smtps");
        assert_eq!(tls.server, "mail.example.com:465");
        let custom = Mailer::new(&"smtp://127.0.0.1:2525".parse().unwrap(), "a@b.c").expect("ip");
        assert_eq!(custom.server, "127.0.0.1:2525");
        assert!(matches!(
            Mailer::new(&"http://mail.example.com".parse().unwrap(), "a@b.c"),
            Err(MailConfigError::Scheme(_))
        ));
        assert!(matches!(
            Mailer::new(
                &"smtp://mail.example.com".parse().unwrap(),
                "not an address"
            ),
            Err(MailConfigError::From { .. })
        ));
    }

    #[test]
    fn credentials_are_percent_decoded() {
        assert_eq!(percent_decode("p%40ss%3Aw").as_deref(), Some("p@ss:w"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("%zz"), None);
    }
}
