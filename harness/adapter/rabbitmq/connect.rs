//! Opening lapin connections on tokio, bounded in time, with errors that
//! say what went wrong (refused login, unknown vhost, nothing listening)
//! instead of lapin's protocol-level wording.

use super::endpoint::Endpoint;
use lapin::{Connection, ConnectionProperties, ErrorKind};
use std::time::Duration;

/// Longest wait for a connection to open (TCP, TLS, login, vhost).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens one connection named `name` (shown in the management UI).
pub async fn open(endpoint: &Endpoint, name: &str) -> anyhow::Result<Connection> {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current())
        .with_connection_name(name.into());
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        Connection::connect_uri_with_config(endpoint.uri.clone(), props, endpoint.tls.config()),
    )
    .await
    {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(anyhow::anyhow!(describe(&e, endpoint))),
        Err(_) => anyhow::bail!(
            "connecting to {}: no answer within {}s (is it an AMQP 0.9.1 port? is TLS needed: amqps://?)",
            endpoint.redacted(),
            CONNECT_TIMEOUT.as_secs()
        ),
    }
}

/// A connection error in words a user can act on.
pub fn describe(e: &lapin::Error, endpoint: &Endpoint) -> String {
    let at = endpoint.redacted();
    match e.kind() {
        ErrorKind::ProtocolError(amqp) => {
            let text = amqp.get_message().as_str();
            match amqp.get_id() {
                403 => format!(
                    "authentication failed for user `{}` at {at} (ACCESS_REFUSED: {text}): check the user in the endpoint \
                     and the password (for a live broker, in the environment variable named by `password_env`)",
                    endpoint.user()
                ),
                530 | 402 if text.contains("vhost") => format!(
                    "vhost `{}` not found or not allowed for user `{}` at {at} (NOT_ALLOWED: {text})",
                    endpoint.vhost(),
                    endpoint.user()
                ),
                id => format!("the broker at {at} refused the connection ({id}: {text})"),
            }
        }
        ErrorKind::IOError(io) => format!("cannot connect to {at}: {io}"),
        // RabbitMQ closes the socket after a refused login when the client
        // did not announce `authentication_failure_close`.
        ErrorKind::InvalidConnectionState(state) => format!(
            "the broker at {at} closed the connection while opening it ({state:?}): most often a wrong password for user \
             `{}` or a vhost `{}` that does not exist",
            endpoint.user(),
            endpoint.vhost()
        ),
        _ => format!("connecting to {at}: {e}"),
    }
}
