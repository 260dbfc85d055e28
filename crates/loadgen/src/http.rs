//! Plain HTTP/1.1 to the target: where it is, keep-alive connections for the senders, and
//! one-shot GETs for `/metrics`.
//!
//! hyper's connection API rather than a pooled client, because the generator wants exactly
//! `--concurrency` connections with one request in flight on each: that is what "concurrency"
//! means to a reader of the figures, a `Retry-After` can be honoured per connection the way an
//! SDK's transport honours it, and no pool sits between the clock and the socket. No TLS: the
//! figures are about the server, and a TLS terminator in front of it would be measured instead.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::HOST;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use vigil_protocol::dsn::Dsn;

/// How long a `/metrics` request may take before the scrape counts as failed.
const GET_TIMEOUT: Duration = Duration::from_secs(5);

/// One keep-alive connection, ready for one request at a time.
pub type Connection = http1::SendRequest<Full<Bytes>>;

/// The server a DSN points at, resolved once.
#[derive(Debug, Clone)]
pub struct Target {
    /// The first address the host resolved to.
    pub addr: SocketAddr,
    /// The `Host` header: `host[:port]` as the DSN spells it.
    pub authority: String,
    /// `{prefix}/api/{project_id}/envelope/`.
    pub envelope_path: String,
    /// `{prefix}/metrics`.
    pub metrics_path: String,
    /// The full envelope URL, for the report.
    pub envelope_url: String,
}

impl Target {
    /// Resolves the DSN's host; only `http` DSNs are served (see the module docs).
    pub async fn from_dsn(dsn: &Dsn) -> Result<Target> {
        if dsn.scheme != "http" {
            bail!("only http:// DSNs are supported (no TLS in the load generator)");
        }
        let port = dsn.port.unwrap_or(80);
        let authority = match dsn.port {
            Some(port) => format!("{}:{port}", dsn.host),
            None => dsn.host.clone(),
        };
        // `lookup_host` wants brackets around IPv6 literals, which the DSN's host keeps.
        let addr = tokio::net::lookup_host(format!("{}:{port}", dsn.host))
            .await
            .with_context(|| format!("cannot resolve {}", dsn.host))?
            .next()
            .with_context(|| format!("{} resolves to no address", dsn.host))?;
        Ok(Target {
            addr,
            authority,
            envelope_path: format!("{}/api/{}/envelope/", dsn.path_prefix, dsn.project_id),
            metrics_path: format!("{}/metrics", dsn.path_prefix),
            envelope_url: dsn.api_url("envelope"),
        })
    }
}

/// Opens a connection; its I/O runs on a task of its own until the server or we close it.
pub async fn connect(addr: SocketAddr) -> Result<Connection> {
    let stream = TcpStream::connect(addr).await?;
    // Envelopes are sent in one write and answered at once: Nagle would only add delay.
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // A closed or broken connection shows up on the sender's side; nothing to do here.
        let _ = connection.await;
    });
    Ok(sender)
}

/// `GET path` on a fresh connection: status and body.
pub async fn get(target: &Target, path: &str) -> Result<(StatusCode, Bytes)> {
    let exchange = async {
        let mut connection = connect(target.addr).await?;
        let request = Request::get(path)
            .header(HOST, &target.authority)
            .body(Full::default())?;
        let response = connection.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, body))
    };
    tokio::time::timeout(GET_TIMEOUT, exchange)
        .await
        .with_context(|| format!("GET {path} took longer than {GET_TIMEOUT:?}"))?
}
