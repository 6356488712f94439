//! The signals that stop a run early: SIGINT (Ctrl-C), and SIGTERM and
//! SIGHUP, which is how `kill`, `timeout`, CI runners and closed terminals
//! stop a process. All three get the same orderly stop (the running point
//! is recorded as interrupted, results are written, brokers are stopped and
//! their temporary directories removed), and the exit code is 128 + the
//! signal's number, as a shell reports a process killed by it.

use std::sync::atomic::{AtomicI32, Ordering};
use tokio::signal::unix::{signal, SignalKind};

/// The signal that stopped the run, 0 while none has.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Completes when SIGINT, SIGTERM or SIGHUP arrives, and remembers which.
/// If the handlers cannot be installed it never completes (a run is still
/// stopped by the default action of the signal, and brokers by their
/// parent-death signal).
pub async fn stop_requested() {
    let kinds = [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()];
    let mut streams = Vec::new();
    for kind in kinds {
        match signal(kind) {
            Ok(s) => streams.push((kind, s)),
            Err(e) => tracing::warn!("cannot handle signal {}: {e}", kind.as_raw_value()),
        }
    }
    if streams.is_empty() {
        return std::future::pending().await;
    }
    let waits = streams.iter_mut().map(|(kind, s)| {
        let n = kind.as_raw_value();
        Box::pin(async move {
            s.recv().await;
            n
        })
    });
    let (n, _, _) = futures::future::select_all(waits).await;
    RECEIVED.store(n, Ordering::SeqCst);
}

/// The exit code for a run that a signal stopped: 128 + its number
/// (130 for Ctrl-C, 143 for SIGTERM); 130 when none was recorded.
pub fn exit_code() -> i32 {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => 130,
        n => 128 + n,
    }
}

/// The name a message uses for the signal that stopped the run.
pub fn describe() -> &'static str {
    match RECEIVED.load(Ordering::SeqCst) {
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "Ctrl-C",
    }
}
