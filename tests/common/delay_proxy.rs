//! A TCP proxy that holds every chunk for a fixed time in each direction:
//! a network between the harness and the broker, for tests that check a
//! delay on the path is measured once, and exactly.
//!
//! It runs on its own thread and single-threaded runtime, so the load of
//! the run it carries does not delay it more than the machine does, and it
//! measures its own round trip (through itself to an echo server of its
//! own) under the same conditions: that measured figure, not the nominal
//! delay, is what latencies are compared with.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub struct DelayProxy {
    runtime: tokio::runtime::Handle,
    delay: Duration,
    /// Stops the runtime thread when the proxy is dropped.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl DelayProxy {
    /// A proxy runtime whose listeners hold each chunk for `delay` each way.
    pub fn new(delay: Duration) -> DelayProxy {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("delay-proxy".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                handle_tx.send(rt.handle().clone()).unwrap();
                rt.block_on(async move {
                    let _ = stopped.await;
                });
            })
            .unwrap();
        DelayProxy { runtime: handle_rx.recv().unwrap(), delay, _stop: stop }
    }

    /// Listens on a free port of 127.0.0.1 and forwards every connection to
    /// `upstream` through the delay; returns the port.
    pub fn forward(&self, upstream: SocketAddr) -> u16 {
        let delay = self.delay;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        self.runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let _ = (client.set_nodelay(true), server.set_nodelay(true));
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::spawn(pump(cr, sw, delay));
                    tokio::spawn(pump(sr, cw, delay));
                });
            }
        });
        port
    }

    /// The proxy's own round trip: the median time for 16 bytes to go
    /// through it to an echo server and back, over `n` tries.
    pub fn round_trip(&self, n: usize) -> Duration {
        let echo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        echo.set_nonblocking(true).unwrap();
        let echo_addr = echo.local_addr().unwrap();
        self.runtime.spawn(async move {
            let echo = TcpListener::from_std(echo).unwrap();
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let _ = s.set_nodelay(true);
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = s.read(&mut buf).await {
                        if s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let port = self.forward(echo_addr);
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_nodelay(true).unwrap();
        let mut times = Vec::with_capacity(n);
        let mut buf = [0u8; 16];
        for _ in 0..n {
            let start = Instant::now();
            std::io::Write::write_all(&mut s, &[7u8; 16]).unwrap();
            std::io::Read::read_exact(&mut s, &mut buf).unwrap();
            times.push(start.elapsed());
            std::thread::sleep(Duration::from_millis(3));
        }
        times.sort();
        times[n / 2]
    }
}

/// Copies `from` to `to`, each chunk written `delay` after it was read;
/// chunks keep their order, and a long chunk does not hold up the ones
/// behind it by more than their own delay.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        if tx.send((tokio::time::Instant::now() + delay, buf[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}
