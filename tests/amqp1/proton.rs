//! The Qpid Proton C example broker, built and started by the tests: a
//! second, independent AMQP 1.0 peer, so the adapter is not tuned to
//! RabbitMQ alone. Its source ships with Debian's
//! `libqpid-proton11-dev-examples` (installed by docker/install-brokers.sh);
//! `broker.c` includes `thread.h` from its own directory, which the
//! compiler finds beside the source. It accepts SASL ANONYMOUS only and
//! treats every address as a queue.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const EXAMPLES: &str = "/usr/share/proton/examples/c";

/// Compiles one example (`broker`, `send`, `receive`) once per test binary.
pub fn build(example: &str) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temporary directory"));
    let out = dir.path().join(example);
    if out.exists() {
        return out;
    }
    let src = Path::new(EXAMPLES).join(format!("{example}.c"));
    assert!(
        src.is_file(),
        "{} is missing: install the Qpid Proton C examples with docker/install-brokers.sh \
         (Debian: apt-get install libqpid-proton11-dev libqpid-proton11-dev-examples)",
        src.display()
    );
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "libqpid-proton"])
        .output()
        .expect("pkg-config must be installed");
    assert!(flags.status.success(), "pkg-config does not know libqpid-proton: install libqpid-proton11-dev");
    let flags = String::from_utf8(flags.stdout).unwrap();
    let cc = Command::new("cc")
        .arg("-O2")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .args(flags.split_whitespace())
        .arg("-lpthread")
        .output()
        .expect("a C compiler (cc) must be installed");
    assert!(cc.status.success(), "building {}: {}", src.display(), String::from_utf8_lossy(&cc.stderr));
    out
}

/// A running Proton example broker; killed when dropped.
pub struct ProtonBroker {
    child: Option<Child>,
    pub port: u16,
}

impl ProtonBroker {
    /// Starts the broker on a free port and waits until it accepts TCP.
    pub fn start() -> ProtonBroker {
        let port = portpicker::pick_unused_port().expect("a free port");
        Self::start_on(port)
    }

    pub fn start_on(port: u16) -> ProtonBroker {
        let program = build("broker");
        let child = Command::new(&program)
            .args(["127.0.0.1", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the Proton example broker");
        let mut b = ProtonBroker { child: Some(child), port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = b.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the Proton example broker exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "the Proton example broker did not listen on {port} within 10s");
            std::thread::sleep(Duration::from_millis(20));
        }
        b
    }

    pub fn endpoint(&self) -> String {
        format!("amqp://127.0.0.1:{}", self.port)
    }

    /// Kills the broker at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ProtonBroker {
    fn drop(&mut self) {
        self.kill();
    }
}
