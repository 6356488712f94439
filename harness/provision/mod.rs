//! Where a broker comes from: in this process (loopback), a child process
//! started by mqbench (`local`), a container, or an existing endpoint
//! (`live`). The runner asks for a [`RunningBroker`] once per broker per
//! run and reuses it for all that broker's points.

#[cfg(feature = "container")]
pub mod container;
pub mod local;

use crate::scenario::security::Security;
use crate::scenario::{BrokerTarget, Provision};
use async_trait::async_trait;

/// A broker that points can run against.
#[async_trait]
pub trait RunningBroker: Send + Sync {
    /// Address in the adapter's form.
    fn endpoint(&self) -> String;
    /// Software and version, when provisioning knows it better than the
    /// protocol does (e.g. `tansu 0.6.0 (kafka protocol)`).
    fn software_hint(&self) -> Option<String> {
        None
    }
    /// The address for a point with `security` (a local broker has a
    /// listener per profile; a live one is where the scenario says).
    fn endpoint_for(&self, security: Option<&Security>) -> anyhow::Result<String> {
        let _ = security;
        Ok(self.endpoint())
    }
    /// The CA that signed a local broker's certificate, made for the run:
    /// its clients trust it when their `tls` names no `ca_file`.
    fn trust(&self) -> Option<std::path::PathBuf> {
        None
    }
    /// Root processes whose CPU and memory are the broker's.
    fn pids(&self) -> Vec<u32> {
        Vec::new()
    }
    /// The control group whose CPU and memory are the broker's (brokers in
    /// containers), read instead of [`RunningBroker::pids`].
    fn cgroup(&self) -> Option<crate::system::cgroup::ContainerCgroup> {
        None
    }
    /// Called before each point: a chance to restart a broker that has
    /// grown too large or died.
    async fn before_point(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    /// Called after each point: what died of the broker while the point ran
    /// (nothing for live and embedded brokers, whose health mqbench does
    /// not watch).
    fn after_point(&mut self) -> Option<Incident> {
        None
    }
    /// Stops what was started (nothing for live and embedded brokers).
    async fn stop(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Broker processes that died while a point ran.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    /// Which processes died and how, with their logs' last lines.
    pub message: String,
    /// True when the broker could not have served the point to its end:
    /// its only process, or a majority of a cluster's nodes, died. A
    /// minority of a cluster's nodes is a failover that the point measured.
    pub fatal: bool,
}

/// The in-process loopback broker.
struct Embedded;

#[async_trait]
impl RunningBroker for Embedded {
    fn endpoint(&self) -> String {
        "in-process".into()
    }
}

/// An existing broker at a given address.
struct Live {
    endpoint: String,
}

#[async_trait]
impl RunningBroker for Live {
    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }
}

/// Brings up (or connects to) the broker of `target`. `options` are the
/// adapter options of its first point (some pick the broker software, e.g.
/// tansu or Apache Kafka); `securities` the security profiles of all its
/// points (a local broker serves each).
pub async fn provision(
    target: &BrokerTarget,
    options: &serde_json::Map<String, serde_json::Value>,
    securities: &[Security],
) -> anyhow::Result<Box<dyn RunningBroker>> {
    match target.provision {
        Provision::Embedded => Ok(Box::new(Embedded)),
        Provision::Live => Ok(Box::new(Live {
            endpoint: target.endpoint.clone().ok_or_else(|| anyhow::anyhow!("provision `live` needs an endpoint"))?,
        })),
        Provision::Local => Ok(Box::new(
            local::LocalBroker::start(local::kind_with_security(&target.adapter, options, securities)?).await?,
        )),
        #[cfg(feature = "container")]
        Provision::Container => {
            if securities.iter().any(|s| s.protocol() != "plaintext") {
                anyhow::bail!(
                    "`security:` is not supported with `provision: container` yet: use `provision: local` (which starts the broker with that security) or `live`"
                );
            }
            Ok(Box::new(
                container::ContainerBroker::start(&target.name, &target.adapter, target.image.as_deref()).await?,
            ))
        }
        #[cfg(not(feature = "container"))]
        Provision::Container => anyhow::bail!(
            "this mqbench was built without the `container` feature: rebuild it with `--features container`"
        ),
    }
}
