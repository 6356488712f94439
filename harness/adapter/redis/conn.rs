//! Connections: endpoint and password handling, and pipelines submitted in
//! a fixed order.
//!
//! Stamps (every mode): the runner reads a batch's send time just before
//! `send`, and stamps an acknowledgement when its future resolves: on the
//! direct connection that future reads the replies off the socket itself;
//! on the multiplexed one (pub/sub, TLS) redis-rs's connection task
//! completes it when the replies are parsed. The runner polls the futures
//! while a later `send` is writing, too.

use super::Stats;
use crate::adapter::Ack;
use crate::scenario::security::Security;
use anyhow::{bail, Context};
use futures::future::BoxFuture;
use redis::aio::MultiplexedConnection;
use redis::{ConnectionAddr, IntoConnectionInfo, Value};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// A producer's way to the server.
pub enum Out {
    Direct(super::direct::Direct),
    Multiplexed(MultiplexedConnection),
}

impl Out {
    pub fn multiplexed(self) -> anyhow::Result<MultiplexedConnection> {
        match self {
            Out::Multiplexed(m) => Ok(m),
            Out::Direct(_) => bail!("this mode needs the multiplexed connection"),
        }
    }

    /// Sends `commands` commands (built by `build` for both forms) for
    /// `messages` messages and pushes their acknowledgements to `acks`.
    /// `one_per_message`: command i carries message i of the batch.
    ///
    /// On the direct connection, when each message is one command, a
    /// pipeline is acknowledged in runs of [`ACK_RUN`] replies: the runner
    /// refills the window as each run comes back, so the server finds the
    /// next commands queued while it still answers the last ones, where one
    /// acknowledgement per pipeline would leave it idle for the client's
    /// whole turnaround (as redis-benchmark's `-P` does). The number of
    /// commands in flight never exceeds the window either way.
    pub async fn send(
        &mut self,
        commands: usize,
        messages: usize,
        stats: &Arc<Stats>,
        one_per_message: bool,
        build: impl Fn(&mut dyn FnMut(&[&[u8]])),
        acks: &mut Vec<Ack>,
    ) -> anyhow::Result<()> {
        stats.pipelines.fetch_add(1, Ordering::Relaxed);
        stats.commands.fetch_add(commands as u64, Ordering::Relaxed);
        match self {
            Out::Direct(d) => {
                let mut buf = Vec::with_capacity(messages * 160);
                build(&mut |args| super::direct::encode(&mut buf, args));
                let start = d.write(&buf, commands).await?;
                let end = start + commands as u64;
                if !one_per_message || commands != messages {
                    acks.push(Ack::pending(messages, d.replies(start, end)));
                    return Ok(());
                }
                let mut at = start;
                while at < end {
                    let run = (end - at).min(ACK_RUN);
                    acks.push(Ack::pending(run as usize, d.replies(at, at + run)));
                    at += run;
                }
                Ok(())
            }
            Out::Multiplexed(m) => {
                let pipe = pipeline(commands, build);
                let replies = submit(m, pipe, commands).await;
                acks.push(Ack::pending(messages, async move {
                    match replies.await {
                        Ok(values) => first_error(&values).map_or(Ok(()), Err),
                        Err(e) => Err(format!("redis: {e}")),
                    }
                }));
                Ok(())
            }
        }
    }
}

/// Replies per acknowledgement on the direct connection (see [`Out::send`]).
const ACK_RUN: u64 = 64;

/// A consumer's way to the server: requests answered in turn.
pub enum Link {
    Direct(super::direct::Dialog),
    /// With the replies of requests written ahead ([`Link::write`]).
    Multiplexed(MultiplexedConnection, VecDeque<BoxFuture<'static, redis::RedisResult<Vec<Value>>>>),
}

impl Link {
    /// `Direct` unless asked otherwise (or the endpoint is not plain TCP).
    pub async fn open(target: &Target, direct: bool) -> anyhow::Result<Link> {
        if direct {
            if let Some(d) = super::direct::Dialog::open(&target.client).await? {
                return Ok(Link::Direct(d));
            }
        }
        Ok(Link::Multiplexed(connect(target).await?, VecDeque::new()))
    }

    /// Sends `commands` commands (built by `build`) and returns their
    /// replies; an error reply fails the request.
    pub async fn request(
        &mut self,
        commands: usize,
        build: impl Fn(&mut dyn FnMut(&[&[u8]])),
    ) -> anyhow::Result<Vec<Value>> {
        match self {
            Link::Direct(d) => {
                let mut buf = Vec::new();
                build(&mut |args| super::direct::encode(&mut buf, args));
                d.request(&buf, commands).await
            }
            Link::Multiplexed(m, _) => {
                let pipe = pipeline(commands, build);
                let values = m.send_packed_commands(&pipe, 0, commands).await?;
                match first_error(&values) {
                    Some(e) => bail!("{e}"),
                    None => Ok(values),
                }
            }
        }
    }

    /// Sends `commands` commands without waiting for their replies, which
    /// [`Link::next`] returns, requests in the order sent.
    pub async fn write(&mut self, commands: usize, build: impl Fn(&mut dyn FnMut(&[&[u8]]))) -> anyhow::Result<()> {
        match self {
            Link::Direct(d) => {
                let mut buf = Vec::new();
                build(&mut |args| super::direct::encode(&mut buf, args));
                d.write(&buf, commands).await
            }
            Link::Multiplexed(m, ahead) => {
                let replies = submit(m, pipeline(commands, build), commands).await;
                ahead.push_back(replies);
                Ok(())
            }
        }
    }

    /// The replies of the oldest request sent with [`Link::write`]; an
    /// error reply fails it.
    pub async fn next(&mut self) -> anyhow::Result<Vec<Value>> {
        match self {
            Link::Direct(d) => d.next().await,
            Link::Multiplexed(_, ahead) => {
                let front = ahead.front_mut().ok_or_else(|| anyhow::anyhow!("no redis request is outstanding"))?;
                let values = front.await;
                ahead.pop_front();
                let values = values?;
                match first_error(&values) {
                    Some(e) => bail!("{e}"),
                    None => Ok(values),
                }
            }
        }
    }
}

/// The redis-rs pipeline of the `commands` commands that `build` makes.
fn pipeline(commands: usize, build: impl Fn(&mut dyn FnMut(&[&[u8]]))) -> redis::Pipeline {
    let mut pipe = redis::Pipeline::with_capacity(commands);
    build(&mut |args| {
        let c = pipe.cmd(std::str::from_utf8(args[0]).unwrap_or("PING"));
        for a in &args[1..] {
            c.arg(*a);
        }
    });
    pipe
}

/// A client and how to dial it: with `tls.server_name` the certificate is
/// checked against that name while the socket goes to the endpoint's own
/// host (redis-rs dials the host it verifies, so a resolver maps the name
/// back to the endpoint).
#[derive(Clone)]
pub struct Target {
    pub client: redis::Client,
    dial: Option<Dial>,
}

/// The address only: the connection info holds the password.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("addr", &self.client.get_connection_info().addr().to_string()).finish()
    }
}

/// Resolves whatever name redis-rs asks for to the endpoint's host.
#[derive(Clone)]
struct Dial {
    host: String,
}

impl redis::io::AsyncDNSResolver for Dial {
    fn resolve<'a, 'b: 'a>(
        &'a self,
        _host: &'b str,
        port: u16,
    ) -> redis::RedisFuture<'a, Box<dyn Iterator<Item = std::net::SocketAddr> + Send + 'a>> {
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((self.host.as_str(), port)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as Box<dyn Iterator<Item = std::net::SocketAddr> + Send>)
        })
    }
}

impl Target {
    /// Whether redis-rs's own dialling (pub/sub) would reach the server.
    pub fn dials_by_name(&self) -> bool {
        self.dial.is_none()
    }
}

/// A client for `endpoint` with the point's `security` (see
/// `super::security`), else with the password of the URL or of
/// `REDIS_PASSWORD`. `rediss://` is TLS (rustls): the server's certificate
/// is checked against the CA file (the profile's `ca_file`, else the
/// `tls_ca_file` option) when given, else the system roots.
pub fn client(
    endpoint: &str,
    tls_ca: Option<&std::path::Path>,
    security: Option<&Security>,
    password: Option<&str>,
) -> anyhow::Result<Target> {
    // Messages name the endpoint without its password.
    let redacted = crate::adapter::redact_endpoint(endpoint);
    if !(endpoint.starts_with("redis://") || endpoint.starts_with("rediss://")) {
        bail!("redis endpoint `{redacted}` should look like redis://host:port or rediss://host:port");
    }
    // `tls` in the profile makes a redis:// endpoint rediss://.
    let endpoint = match endpoint.strip_prefix("redis://") {
        Some(rest) if security.is_some_and(|s| s.tls.enabled()) => format!("rediss://{rest}"),
        _ => endpoint.to_string(),
    };
    let tls = endpoint.starts_with("rediss://");
    let mut info =
        endpoint.as_str().into_connection_info().with_context(|| format!("bad redis endpoint `{redacted}`"))?;
    // redis-rs leaves Nagle's algorithm on: a small command written while
    // the previous one is unacknowledged waits for that TCP ack, which on a
    // real network adds up to a round trip to publish and delivery
    // latency. Every connection of this adapter sends small requests.
    let tcp = info.tcp_settings().clone().set_nodelay(true);
    info = info.set_tcp_settings(tcp);
    match security.and_then(|s| s.sasl.map(|_| s)) {
        Some(s) => {
            let user = s.username.as_deref().unwrap_or_default();
            let Some(pw) = password else { bail!("`sasl: plain` for redis needs the password of `password_env`") };
            let settings = info.redis_settings().clone().set_username(user).set_password(pw);
            info = info.set_redis_settings(settings);
        }
        None if info.redis_settings().password().is_none() => {
            if let Ok(pw) = std::env::var("REDIS_PASSWORD") {
                let settings = info.redis_settings().clone().set_password(pw);
                info = info.set_redis_settings(settings);
            }
        }
        None => {}
    }
    let files = security.and_then(|s| s.tls.files());
    let (ca, ca_key) = match files.and_then(|f| f.ca_file.as_deref()) {
        Some(ca) => (Some(std::path::Path::new(ca)), "`tls.ca_file`"),
        None => (tls_ca, "`tls_ca_file`"),
    };
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).with_context(|| format!("reading {what} {}", path.display()))
    };
    let root_cert = match ca {
        Some(_) if !tls => bail!("{ca_key} is set but the endpoint `{redacted}` is not rediss:// (TLS)"),
        Some(path) => Some(read(path, &format!("{ca_key} (PEM CA certificate)"))?),
        None => None,
    };
    let client_tls = match files.map(|f| (f.cert_file.as_deref(), f.key_file.as_deref())) {
        Some((Some(cert), Some(key))) => Some(redis::ClientTlsConfig {
            client_cert: read(std::path::Path::new(cert), "`tls.cert_file`")?,
            client_key: read(std::path::Path::new(key), "`tls.key_file`")?,
        }),
        _ => None,
    };
    let mut dial = None;
    if let Some(name) = files.and_then(|f| f.server_name.as_deref()) {
        let ConnectionAddr::TcpTls { host, port, .. } = info.addr().clone() else {
            bail!("`tls.server_name` needs a TLS endpoint (rediss://host:port), not `{redacted}`");
        };
        dial = Some(Dial { host });
        info =
            info.set_addr(ConnectionAddr::TcpTls { host: name.to_string(), port, insecure: false, tls_params: None });
    }
    let client = if root_cert.is_some() || client_tls.is_some() {
        let what = ca.map(|p| format!(" with CA {}", p.display())).unwrap_or_default();
        redis::Client::build_with_tls(info, redis::TlsCertificates { client_tls, root_cert })
            .with_context(|| format!("cannot use redis endpoint `{redacted}`{what}"))?
    } else {
        redis::Client::open(info).with_context(|| format!("cannot use redis endpoint `{redacted}`"))?
    };
    Ok(Target { client, dial })
}

/// A multiplexed connection without a response timeout (a deep pipeline or
/// a blocking read may take longer than the crate's default 500 ms) and a
/// queue deep enough that submitting never waits.
pub async fn connect(target: &Target) -> anyhow::Result<MultiplexedConnection> {
    let mut config = redis::AsyncConnectionConfig::new()
        .set_response_timeout(None)
        .set_connection_timeout(Some(Duration::from_secs(10)))
        .set_pipeline_buffer_size(4096);
    if let Some(d) = &target.dial {
        config = config.set_dns_resolver(d.clone());
    }
    target.client.get_multiplexed_async_connection_with_config(&config).await.context("connecting to redis")
}

/// Puts `pipe` (`commands` commands) on the connection's queue before
/// returning, and gives back the future of its replies.
///
/// The multiplexed connection queues a request when its future is first
/// polled, so polling here, in call order, keeps a producer's pipelines
/// (and so its messages) in the order they were sent; the queue is fair,
/// so this holds even when it is full.
pub async fn submit(
    connection: &MultiplexedConnection,
    pipe: redis::Pipeline,
    commands: usize,
) -> BoxFuture<'static, redis::RedisResult<Vec<Value>>> {
    let mut connection = connection.clone();
    let mut fut: BoxFuture<'static, redis::RedisResult<Vec<Value>>> =
        Box::pin(async move { connection.send_packed_commands(&pipe, 0, commands).await });
    match futures::poll!(&mut fut) {
        Poll::Ready(r) => Box::pin(async move { r }),
        Poll::Pending => fut,
    }
}

/// The first error among a pipeline's replies.
pub fn first_error(values: &[Value]) -> Option<String> {
    values.iter().find_map(|v| match v {
        Value::ServerError(e) => Some(format!("{e:?}")),
        _ => None,
    })
}

/// Text of a bulk or simple string reply.
pub fn text(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked() {
        assert!(client("redis://127.0.0.1:6379", None, None, None).is_ok());
        let e = client("127.0.0.1:6379", None, None, None).unwrap_err().to_string();
        assert!(e.contains("redis://"), "{e}");
        // A CA file only makes sense for TLS, and the password never shows.
        let ca = std::path::Path::new("/nonexistent/ca.pem");
        let e = client("redis://u:secret@127.0.0.1:6379", Some(ca), None, None).unwrap_err().to_string();
        assert!(e.contains("not rediss://") && e.contains("u:***@") && !e.contains("secret"), "{e}");
        let e = format!("{:#}", client("rediss://127.0.0.1:6379", Some(ca), None, None).unwrap_err());
        assert!(e.contains("tls_ca_file") && e.contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn security_makes_the_endpoint_tls_and_sends_the_user() {
        use crate::scenario::security::{Sasl, Tls, TlsFiles};
        let s = Security {
            tls: Tls::On(TlsFiles { server_name: Some("redis.example".into()), ..Default::default() }),
            sasl: Some(Sasl::Plain),
            username: Some("bench".into()),
            password_env: Some("P".into()),
            ..Default::default()
        };
        let t = client("redis://127.0.0.1:6380", None, Some(&s), Some("pw-1234")).unwrap();
        let info = t.client.get_connection_info();
        let ConnectionAddr::TcpTls { host, port, .. } = info.addr() else { panic!("not TLS: {:?}", info.addr()) };
        // TLS checks the certificate against the server name; the socket
        // still goes to 127.0.0.1.
        assert_eq!((host.as_str(), *port), ("redis.example", 6380));
        assert_eq!(t.dial.as_ref().map(|d| d.host.as_str()), Some("127.0.0.1"));
        assert!(!t.dials_by_name());
        assert_eq!(info.redis_settings().username(), Some("bench"));
        assert_eq!(info.redis_settings().password(), Some("pw-1234"));
        let plain = client("redis://127.0.0.1:6380", None, Some(&Security::default()), None).unwrap();
        assert!(matches!(plain.client.get_connection_info().addr(), ConnectionAddr::Tcp(..)));
    }
}
