//! Opening one connection and one session, with errors that say what went
//! wrong (refused, authentication, timeout) rather than a client enum.

use super::address::Kind;
use super::config::Endpoint;
use anyhow::anyhow;
use fe2o3_amqp::connection::{ConnectionHandle, OpenError};
use fe2o3_amqp::sasl_profile::SaslProfile;
use fe2o3_amqp::session::SessionHandle;
use fe2o3_amqp::types::sasl::SaslCode;
use fe2o3_amqp::{Connection, Session};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Longest wait for the TCP connect, SASL and Open together.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for ending a link, session or connection.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Session windows: large enough never to be what limits throughput (link
/// credit and the producer's in-flight window are the knobs).
const SESSION_WINDOW: u32 = 1 << 20;

/// A connection with one session on it.
pub struct Conn {
    pub connection: ConnectionHandle<()>,
    pub session: SessionHandle<()>,
}

/// Connects a TCP socket to the endpoint, with a clear error.
pub async fn socket(ep: &Endpoint) -> anyhow::Result<TcpStream> {
    match tokio::time::timeout(OPEN_TIMEOUT, TcpStream::connect(ep.addr())).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(anyhow!("cannot connect to {}: {e}", ep.addr())),
        Err(_) => Err(anyhow!("cannot connect to {}: no answer within {}s", ep.addr(), OPEN_TIMEOUT.as_secs())),
    }
}

fn sasl(ep: &Endpoint) -> SaslProfile {
    match &ep.user {
        Some(u) => SaslProfile::Plain { username: u.clone(), password: ep.password.clone().unwrap_or_default() },
        None => SaslProfile::Anonymous,
    }
}

/// The Open's hostname: RabbitMQ picks a vhost from `vhost:NAME`; the
/// 0.9.1-style `/%2f` path means the default vhost and is dropped.
fn hostname(ep: &Endpoint, kind: Kind) -> String {
    match kind {
        Kind::RabbitMq if !ep.path.is_empty() && ep.path != "/" => format!("vhost:{}", ep.path),
        _ => ep.host.clone(),
    }
}

fn explain(ep: &Endpoint, e: OpenError) -> anyhow::Error {
    let who = match &ep.user {
        Some(u) => format!("user `{u}` (SASL PLAIN)"),
        None => "SASL ANONYMOUS".to_string(),
    };
    match e {
        OpenError::SaslError { code: SaslCode::Auth, .. } => anyhow!(
            "authentication failed: the broker at {} rejected {who} (wrong user or password? set them in the \
             endpoint URL or AMQP_USER / AMQP_PASSWORD)",
            ep.addr()
        ),
        OpenError::SaslError { code, .. } => {
            anyhow!("SASL negotiation with {} failed ({code:?}) for {who}", ep.addr())
        }
        OpenError::ProtocolHeaderMismatch(h) => anyhow!(
            "{} does not speak AMQP 1.0 over SASL (it answered the protocol header with {h:?}); is the AMQP 1.0 \
             plugin or acceptor enabled on that port?",
            ep.addr()
        ),
        other => anyhow!("opening an AMQP 1.0 connection to {}: {other}", ep.addr()),
    }
}

/// Opens a connection over `stream` and begins a session on it.
pub async fn open<S>(ep: &Endpoint, kind: Kind, container_id: &str, stream: S) -> anyhow::Result<Conn>
where
    S: AsyncRead + AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
{
    let host = hostname(ep, kind);
    let opening = async {
        let mut connection = Connection::builder()
            .container_id(container_id)
            .hostname(host.as_str())
            .sasl_profile(sasl(ep))
            .open_with_stream(stream)
            .await
            .map_err(|e| explain(ep, e))?;
        let session = Session::builder()
            .incoming_window(SESSION_WINDOW)
            .outgoing_window(SESSION_WINDOW)
            .begin(&mut connection)
            .await
            .map_err(|e| anyhow!("beginning a session on {}: {e}", ep.addr()))?;
        Ok::<_, anyhow::Error>(Conn { connection, session })
    };
    match tokio::time::timeout(OPEN_TIMEOUT, opening).await {
        Ok(r) => r,
        Err(_) => Err(anyhow!(
            "no AMQP 1.0 Open from {} within {}s (SASL or Open unanswered)",
            ep.addr(),
            OPEN_TIMEOUT.as_secs()
        )),
    }
}

/// Connects a socket (with TLS when the endpoint has it) and opens a
/// connection and session on it.
pub async fn connect(ep: &Endpoint, kind: Kind, container_id: &str) -> anyhow::Result<Conn> {
    let s = socket(ep).await?;
    match &ep.tls {
        Some(tls) => open(ep, kind, container_id, super::tls::wrap(s, ep, tls).await?).await,
        None => open(ep, kind, container_id, s).await,
    }
}

impl Conn {
    /// Ends the session and closes the connection, never waiting long: the
    /// broker may already be gone.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.session.end()).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.connection.close()).await;
    }
}
