//! A producer's own pipelined connection, without the multiplexer's task.
//!
//! Why: with the multiplexed connection each round trip crosses two tasks
//! (producer -> connection task -> producer), and on a busy host each
//! cross-thread wake-up waits for the scheduler; redis-benchmark's single
//! epoll loop does not. Here `send` writes the encoded pipeline to the
//! socket from the producer's own task, and the acknowledgement future reads
//! replies off the socket itself, so a round trip costs one wake-up. Replies
//! come back in order; whichever acknowledgement future holds the reader
//! parses what has arrived and attributes it by position, so futures may be
//! polled in any order. Plain TCP only (`rediss://` uses the multiplexed
//! connection).

use anyhow::{anyhow, bail, Context};
use futures::future::BoxFuture;
use redis::{ConnectionAddr, Value};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Appends one command in RESP to `buf`. Hot: called once per message, so
/// lengths are formatted with `itoa` rather than through `fmt`.
pub fn encode(buf: &mut Vec<u8>, args: &[&[u8]]) {
    let mut n = itoa::Buffer::new();
    buf.push(b'*');
    buf.extend_from_slice(n.format(args.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    for a in args {
        buf.push(b'$');
        buf.extend_from_slice(n.format(a.len()).as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// Position of the first CRLF in `buf`.
fn line_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = buf[from..].iter().position(|&b| b == b'\r') {
        let at = from + i;
        if buf.get(at + 1) == Some(&b'\n') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Length of the first complete reply in `buf` and its error text, if it
/// is an error; `None` while incomplete.
fn skip_reply(buf: &[u8]) -> Option<(usize, Option<String>)> {
    let line_end = line_end(buf)?;
    let line = &buf[1..line_end];
    let after = line_end + 2;
    let number = || std::str::from_utf8(line).ok()?.parse::<i64>().ok();
    match *buf.first()? {
        b'-' | b'!' => Some((after, Some(String::from_utf8_lossy(line).into_owned()))),
        b'$' | b'=' => {
            let n = number()?;
            if n < 0 {
                return Some((after, None));
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some((end, None))
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = number()?;
            let items = if buf[0] == b'%' { 2 * n.max(0) } else { n.max(0) };
            let mut at = after;
            let mut error = None;
            for _ in 0..items {
                let (len, e) = skip_reply(&buf[at..])?;
                error = error.or(e);
                at += len;
            }
            Some((at, error))
        }
        _ => Some((after, None)),
    }
}

/// Free space made in a reader's buffer before each socket read.
const READ_CHUNK: usize = 64 * 1024;

struct Reader {
    half: OwnedReadHalf,
    buf: Vec<u8>,
    /// Replies parsed so far.
    parsed: u64,
    /// Errors not yet claimed: (reply index, text).
    errors: VecDeque<(u64, String)>,
    /// Set when the connection broke.
    broken: Option<String>,
}

impl Reader {
    /// Reads until reply `end` (exclusive) has been parsed.
    async fn until(&mut self, end: u64) -> Result<(), String> {
        while self.parsed < end {
            if let Some(e) = &self.broken {
                return Err(e.clone());
            }
            let mut at = 0;
            while let Some((len, error)) = skip_reply(&self.buf[at..]) {
                if let Some(e) = error {
                    self.errors.push_back((self.parsed, e));
                }
                self.parsed += 1;
                at += len;
            }
            self.buf.drain(..at);
            if self.parsed >= end {
                break;
            }
            // Read straight into the buffer's spare capacity.
            self.buf.reserve(READ_CHUNK);
            match self.half.read_buf(&mut self.buf).await {
                Ok(0) => self.broken = Some("redis closed the connection".into()),
                Ok(_) => {}
                Err(e) => self.broken = Some(format!("redis connection: {e}")),
            }
        }
        Ok(())
    }

    /// The first error among replies `start..end`, removing theirs.
    fn claim(&mut self, start: u64, end: u64) -> Option<String> {
        let mut first = None;
        self.errors.retain(|(i, e)| {
            let mine = *i >= start && *i < end;
            if mine && first.is_none() {
                first = Some(e.clone());
            }
            !mine
        });
        first
    }
}

/// A plain TCP socket to the client's endpoint with Nagle off; `None` for
/// TLS or Unix-socket endpoints, which keep the redis crate's connection.
async fn connect_tcp(client: &redis::Client) -> anyhow::Result<Option<tokio::net::TcpStream>> {
    let info = client.get_connection_info();
    let ConnectionAddr::Tcp(host, port) = info.addr() else { return Ok(None) };
    let stream = tokio::net::TcpStream::connect((host.as_str(), *port))
        .await
        .with_context(|| format!("connecting to redis at {host}:{port}"))?;
    stream.set_nodelay(true)?;
    Ok(Some(stream))
}

pub struct Direct {
    write: OwnedWriteHalf,
    reader: Arc<tokio::sync::Mutex<Reader>>,
    /// Replies expected for everything written so far.
    sent: u64,
}

impl Direct {
    /// Opens a plain TCP connection (with AUTH and SELECT as the URL says);
    /// `None` for TLS or Unix-socket endpoints.
    pub async fn open(client: &redis::Client) -> anyhow::Result<Option<Direct>> {
        let Some(stream) = connect_tcp(client).await? else { return Ok(None) };
        let (read, write) = stream.into_split();
        let reader = Reader { half: read, buf: Vec::new(), parsed: 0, errors: VecDeque::new(), broken: None };
        let mut d = Direct { write, reader: Arc::new(tokio::sync::Mutex::new(reader)), sent: 0 };
        let (hello, n) = hello(client.get_connection_info().redis_settings());
        if n > 0 {
            let ack = d.send(&hello, n).await?;
            ack.await.map_err(|e| anyhow!("redis refused AUTH/SELECT: {e}"))?;
        }
        Ok(Some(d))
    }

    /// Writes `bytes` holding `replies` commands; the future resolves once
    /// their replies are in (`Err` with the first error reply).
    pub async fn send(
        &mut self,
        bytes: &[u8],
        replies: usize,
    ) -> anyhow::Result<BoxFuture<'static, Result<(), String>>> {
        let start = self.write(bytes, replies).await?;
        Ok(self.replies(start, start + replies as u64))
    }

    /// Writes `bytes` holding `replies` commands and returns the index of
    /// the first of their replies (see [`Direct::replies`]).
    pub async fn write(&mut self, bytes: &[u8], replies: usize) -> anyhow::Result<u64> {
        if replies == 0 {
            bail!("empty pipeline");
        }
        self.write.write_all(bytes).await.context("writing to redis")?;
        let start = self.sent;
        self.sent += replies as u64;
        Ok(start)
    }

    /// A future that resolves once replies `start..end` are in (`Err` with
    /// the first error reply among them). Several may cover one write, so
    /// that the first replies of a pipeline are acknowledged (and their
    /// room in the window reused) before its last ones arrive.
    pub fn replies(&self, start: u64, end: u64) -> BoxFuture<'static, Result<(), String>> {
        let reader = self.reader.clone();
        Box::pin(async move {
            let mut r = reader.lock().await;
            r.until(end).await?;
            match r.claim(start, end) {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    }
}

/// Parses the first complete reply of `buf` into a value (error replies
/// become `Err` text); `None` while incomplete.
fn parse_value(buf: &[u8]) -> Option<(usize, Result<Value, String>)> {
    let line_end = line_end(buf)?;
    let line = &buf[1..line_end];
    let after = line_end + 2;
    let text = || String::from_utf8_lossy(line).into_owned();
    let number = || std::str::from_utf8(line).ok()?.parse::<i64>().ok();
    Some(match *buf.first()? {
        b'-' | b'!' => (after, Err(text())),
        b'+' => (after, Ok(if line == b"OK" { Value::Okay } else { Value::SimpleString(text()) })),
        b':' => (after, Ok(Value::Int(number()?))),
        b'_' => (after, Ok(Value::Nil)),
        b'$' => {
            let n = number()?;
            if n < 0 {
                return Some((after, Ok(Value::Nil)));
            }
            let end = after + n as usize;
            if buf.len() < end + 2 {
                return None;
            }
            (end + 2, Ok(Value::BulkString(buf[after..end].to_vec())))
        }
        b'*' => {
            let n = number()?;
            if n < 0 {
                return Some((after, Ok(Value::Nil)));
            }
            let mut at = after;
            let mut items = Vec::with_capacity(n as usize);
            let mut error = None;
            for _ in 0..n {
                let (len, v) = parse_value(&buf[at..])?;
                at += len;
                match v {
                    Ok(v) => items.push(v),
                    Err(e) => error = error.or(Some(e)),
                }
            }
            (at, error.map_or(Ok(Value::Array(items)), Err))
        }
        other => (after, Err(format!("unsupported reply type `{}`", other as char))),
    })
}

/// A consumer's own connection: request, then its replies, in turn.
/// Cancelling a request (the runner stops a consumer mid-read) is safe:
/// replies still owed are read and dropped before the next request's.
pub struct Dialog {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
    chunk: Vec<u8>,
    /// Replies written for and not yet read.
    owed: usize,
    /// A write was cut short: the stream is out of step.
    torn: bool,
    /// Requests written with [`Dialog::write`], oldest first: how many
    /// replies each has.
    queued: VecDeque<usize>,
    /// Replies read so far of the oldest of them (kept here, so that a
    /// cancelled [`Dialog::next`] loses nothing).
    got: Vec<Result<Value, String>>,
}

impl Dialog {
    /// Plain TCP only, like [`Direct::open`]; `None` otherwise.
    pub async fn open(client: &redis::Client) -> anyhow::Result<Option<Dialog>> {
        let Some(stream) = connect_tcp(client).await? else { return Ok(None) };
        let mut d = Dialog {
            stream,
            buf: Vec::new(),
            chunk: vec![0; 256 * 1024],
            owed: 0,
            torn: false,
            queued: VecDeque::new(),
            got: Vec::new(),
        };
        let (hello, n) = hello(client.get_connection_info().redis_settings());
        if n > 0 {
            d.request(&hello, n).await.map_err(|e| anyhow!("redis refused AUTH/SELECT: {e:#}"))?;
        }
        Ok(Some(d))
    }

    /// Writes `bytes` (`replies` commands) and returns their replies; the
    /// first error reply fails the request.
    pub async fn request(&mut self, bytes: &[u8], replies: usize) -> anyhow::Result<Vec<Value>> {
        self.check_in_step()?;
        // Replies of requests written ahead are read and dropped.
        self.queued.clear();
        self.got.clear();
        self.write_request(bytes, replies).await?;
        let mut out = Vec::with_capacity(replies);
        let mut error = None;
        while self.owed > 0 {
            let v = self.read_reply().await?;
            let ours = self.owed <= replies;
            self.owed -= 1;
            if ours {
                match v {
                    Ok(v) => out.push(v),
                    Err(e) => error = error.or(Some(e)),
                }
            }
        }
        match error {
            Some(e) => bail!("{e}"),
            None => Ok(out),
        }
    }
}

impl Dialog {
    fn check_in_step(&self) -> anyhow::Result<()> {
        if self.torn {
            bail!("the redis connection is out of step after an interrupted write");
        }
        Ok(())
    }

    /// Writes `bytes` whole (a write cut short leaves the stream out of
    /// step, and every later call fails) and owes their `replies`.
    async fn write_request(&mut self, bytes: &[u8], replies: usize) -> anyhow::Result<()> {
        self.check_in_step()?;
        self.torn = true;
        self.stream.write_all(bytes).await.context("writing to redis")?;
        self.torn = false;
        self.owed += replies;
        Ok(())
    }

    /// Reads the next reply off the stream (an error reply is `Err` inside).
    async fn read_reply(&mut self) -> anyhow::Result<Result<Value, String>> {
        let (len, v) = loop {
            if let Some(r) = parse_value(&self.buf) {
                break r;
            }
            let n = self.stream.read(&mut self.chunk).await.context("reading from redis")?;
            if n == 0 {
                bail!("redis closed the connection");
            }
            self.buf.extend_from_slice(&self.chunk[..n]);
        };
        self.buf.drain(..len);
        Ok(v)
    }

    /// Writes a request (`replies` commands) without waiting: its replies
    /// come from [`Dialog::next`], requests in the order written. This is
    /// how a consumer keeps a blocking read waiting at the server while it
    /// handles the last one.
    pub async fn write(&mut self, bytes: &[u8], replies: usize) -> anyhow::Result<()> {
        self.write_request(bytes, replies).await?;
        self.queued.push_back(replies);
        Ok(())
    }

    /// The replies of the oldest request written with [`Dialog::write`];
    /// the first error reply fails it.
    pub async fn next(&mut self) -> anyhow::Result<Vec<Value>> {
        let want = *self.queued.front().ok_or_else(|| anyhow!("no redis request is outstanding"))?;
        while self.got.len() < want {
            let v = self.read_reply().await?;
            self.owed -= 1;
            self.got.push(v);
        }
        self.queued.pop_front();
        std::mem::take(&mut self.got).into_iter().collect::<Result<Vec<_>, _>>().map_err(|e| anyhow!("{e}"))
    }
}

/// AUTH and SELECT as the URL asks, and how many commands that is.
fn hello(settings: &redis::RedisConnectionInfo) -> (Vec<u8>, usize) {
    let mut hello = Vec::new();
    let mut n = 0;
    if let Some(pw) = settings.password() {
        match settings.username() {
            Some(user) => encode(&mut hello, &[b"AUTH", user.as_bytes(), pw.as_bytes()]),
            None => encode(&mut hello, &[b"AUTH", pw.as_bytes()]),
        }
        n += 1;
    }
    if settings.db() != 0 {
        encode(&mut hello, &[b"SELECT", settings.db().to_string().as_bytes()]);
        n += 1;
    }
    (hello, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_delimited() {
        assert_eq!(skip_reply(b"$15\r\n1700000000000-0\r\n"), Some((22, None)));
        assert_eq!(skip_reply(b"$15\r\n1700000000"), None);
        assert_eq!(skip_reply(b":3\r\n"), Some((4, None)));
        assert_eq!(skip_reply(b"-ERR wrong\r\n").unwrap().1.as_deref(), Some("ERR wrong"));
        assert_eq!(skip_reply(b"*2\r\n$1\r\na\r\n:1\r\n"), Some((15, None)));
        assert_eq!(skip_reply(b"*2\r\n$1\r\na\r\n"), None);
        assert!(parse_value(b"*2\r\n$2\r\nab\r\n*1\r\n:7").is_none());
        let (n, v) = parse_value(b"*2\r\n$2\r\nab\r\n*1\r\n:7\r\n").unwrap();
        assert_eq!(n, 20);
        assert_eq!(
            v.unwrap(),
            Value::Array(vec![Value::BulkString(b"ab".to_vec()), Value::Array(vec![Value::Int(7)])])
        );
        assert_eq!(parse_value(b"*-1\r\n").unwrap().1.unwrap(), Value::Nil);
        assert!(parse_value(b"*1\r\n-NOGROUP x\r\n").unwrap().1.is_err());
        let mut b = Vec::new();
        encode(&mut b, &[b"PING"]);
        assert_eq!(b, b"*1\r\n$4\r\nPING\r\n");
        let body = vec![b'\r'; 1234];
        encode(&mut b, &[b"XADD", b"s-0", b"*", b"p", &body]);
        let mut want = b"*1\r\n$4\r\nPING\r\n*5\r\n$4\r\nXADD\r\n$3\r\ns-0\r\n$1\r\n*\r\n$1\r\np\r\n$1234\r\n".to_vec();
        want.extend_from_slice(&body);
        want.extend_from_slice(b"\r\n");
        assert_eq!(b, want);
        // A bare CR inside a line does not end it.
        assert_eq!(skip_reply(b"+a\rb\r\n"), Some((6, None)));
        assert_eq!(skip_reply(b"+a\r"), None);
    }

    /// The runs of one pipeline resolve as their own replies arrive, each
    /// with its own errors: the first run is acknowledged while the server
    /// still owes the rest.
    #[tokio::test]
    async fn runs_of_a_pipeline_resolve_apart() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut first = Vec::new();
            for _ in 0..64 {
                first.extend_from_slice(b"$3\r\n1-0\r\n");
            }
            socket.write_all(&first).await.unwrap();
            released.await.unwrap();
            let mut rest = Vec::new();
            for i in 64..130 {
                rest.extend_from_slice(if i == 70 { b"-ERR bad\r\n" } else { b"$3\r\n1-0\r\n" });
            }
            socket.write_all(&rest).await.unwrap();
            // Keep the socket open until the client has read everything.
            let mut sink = [0u8; 1024];
            while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        });
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let mut d = Direct::open(&client).await.unwrap().expect("plain TCP");
        let mut cmds = Vec::new();
        for _ in 0..130 {
            encode(&mut cmds, &[b"PING"]);
        }
        let start = d.write(&cmds, 130).await.unwrap();
        let (a, b, c) =
            (d.replies(start, start + 64), d.replies(start + 64, start + 128), d.replies(start + 128, start + 130));
        tokio::time::timeout(std::time::Duration::from_secs(5), a)
            .await
            .expect("the first run resolves before the server sends the rest")
            .unwrap();
        release.send(()).unwrap();
        assert_eq!(b.await.unwrap_err(), "ERR bad");
        c.await.unwrap();
        drop(d);
        server.await.unwrap();
    }
}
