//! What each broker's container is: its default image, the settings
//! mqbench passes it, its endpoint and its readiness probe.
//!
//! Containers share the host's network (`--network host`): the broker
//! listens on free 127.0.0.1 ports that mqbench picks, as a local broker
//! does, so clients reach it without Docker's port proxy in the path (that
//! proxy would be measured with the broker) and Kafka can advertise the
//! address clients use. The settings are those the official images read
//! too (RabbitMQ's and Kafka's environment variables, Artemis's
//! `ARTEMIS_USER`/`ARTEMIS_PASSWORD`/`EXTRA_ARGS`, Redis's arguments), so
//! `image:` can name an official image where a registry is reachable.

use crate::provision::local::{artemis, kafka, rabbitmq, redis, Ports};
use async_trait::async_trait;
use std::time::Duration;

/// Environment and command of one container.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Setup {
    pub env: Vec<(String, String)>,
    /// Arguments after the image's entrypoint; `None` keeps the image's CMD.
    pub cmd: Option<Vec<String>>,
}

/// One broker software in a container.
#[async_trait]
pub trait ContainerKind: Send + Sync {
    /// Short name for messages and labels (`redis`).
    fn name(&self) -> &'static str;
    /// The image docker/images.sh builds (`mqbench/redis:latest`).
    fn default_image(&self) -> &'static str;
    /// Free ports the broker needs (the first is the client port).
    fn ports_needed(&self) -> usize {
        1
    }
    fn setup(&self, ports: &Ports) -> Setup;
    fn endpoint(&self, ports: &Ports) -> String;
    /// One readiness probe: `Ok(software)` once the broker answers its
    /// protocol, `None` as software when the protocol does not say.
    async fn probe(&self, ports: &Ports) -> anyhow::Result<Option<String>>;
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(120)
    }
}

/// The container kind that serves adapter `adapter`.
pub fn kind_for(adapter: &str) -> anyhow::Result<Box<dyn ContainerKind>> {
    match adapter {
        "redis" => Ok(Box::new(Redis)),
        // One broker serves both protocols (the AMQP 1.0 plugin is enabled).
        "rabbitmq" | "rabbitmq-amqp1" => Ok(Box::new(RabbitMq)),
        "kafka" => Ok(Box::new(Kafka)),
        "artemis" => Ok(Box::new(Artemis)),
        other => anyhow::bail!(
            "container provisioning of `{other}` is not available: it is for redis, rabbitmq, rabbitmq-amqp1, \
             kafka and artemis (use `provision: local` or `live`)"
        ),
    }
}

fn env(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

struct Redis;

#[async_trait]
impl ContainerKind for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }
    fn default_image(&self) -> &'static str {
        "mqbench/redis:latest"
    }
    fn setup(&self, ports: &Ports) -> Setup {
        let args = ["redis-server", "--port", &ports.main().to_string(), "--bind", "127.0.0.1"]
            .into_iter()
            .chain(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .map(String::from)
            .collect();
        Setup { env: Vec::new(), cmd: Some(args) }
    }
    fn endpoint(&self, ports: &Ports) -> String {
        format!("redis://127.0.0.1:{}", ports.main())
    }
    async fn probe(&self, ports: &Ports) -> anyhow::Result<Option<String>> {
        redis::probe_redis(ports.main()).await.map(Some)
    }
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(30)
    }
}

struct RabbitMq;

#[async_trait]
impl ContainerKind for RabbitMq {
    fn name(&self) -> &'static str {
        "rabbitmq"
    }
    fn default_image(&self) -> &'static str {
        "mqbench/rabbitmq:latest"
    }
    /// Client, distribution and epmd ports: on the host's network, two
    /// brokers must not share any of them.
    fn ports_needed(&self) -> usize {
        3
    }
    fn setup(&self, ports: &Ports) -> Setup {
        let (amqp, dist, epmd) = (ports.0[0], ports.0[1], ports.0[2]);
        Setup {
            env: env(&[
                ("RABBITMQ_NODENAME", format!("mqbench-{amqp}@localhost")),
                ("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1".into()),
                ("RABBITMQ_NODE_PORT", amqp.to_string()),
                ("RABBITMQ_DIST_PORT", dist.to_string()),
                ("ERL_EPMD_PORT", epmd.to_string()),
                ("ERL_EPMD_ADDRESS", "127.0.0.1".into()),
                ("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}".into()),
            ]),
            cmd: None,
        }
    }
    fn endpoint(&self, ports: &Ports) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", ports.main())
    }
    async fn probe(&self, ports: &Ports) -> anyhow::Result<Option<String>> {
        rabbitmq::probe_rabbitmq(ports.main()).await.map(Some)
    }
}

struct Kafka;

#[async_trait]
impl ContainerKind for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }
    fn default_image(&self) -> &'static str {
        "mqbench/kafka:latest"
    }
    /// Client and controller ports.
    fn ports_needed(&self) -> usize {
        2
    }
    /// One combined broker and controller, configured through `KAFKA_*`
    /// variables (property names with `.` as `_`), as the apache/kafka image is.
    fn setup(&self, ports: &Ports) -> Setup {
        let (port, controller) = (ports.0[0], ports.0[1]);
        Setup {
            env: env(&[
                ("KAFKA_NODE_ID", "1".into()),
                ("KAFKA_PROCESS_ROLES", "broker,controller".into()),
                ("KAFKA_CONTROLLER_QUORUM_VOTERS", format!("1@127.0.0.1:{controller}")),
                ("KAFKA_LISTENERS", format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}")),
                ("KAFKA_ADVERTISED_LISTENERS", format!("PLAINTEXT://127.0.0.1:{port}")),
                ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER".into()),
                ("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT".into()),
                ("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT".into()),
                ("KAFKA_NUM_PARTITIONS", "1".into()),
                ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1".into()),
                ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1".into()),
                ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1".into()),
                ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0".into()),
            ]),
            cmd: None,
        }
    }
    fn endpoint(&self, ports: &Ports) -> String {
        format!("127.0.0.1:{}", ports.main())
    }
    /// The Kafka protocol does not name its software: the version comes
    /// from the image's `org.mqbench.software` label (see the provisioner).
    async fn probe(&self, ports: &Ports) -> anyhow::Result<Option<String>> {
        kafka::probe_kafka(ports.main()).await.map(|_| None)
    }
}

struct Artemis;

#[async_trait]
impl ContainerKind for Artemis {
    fn name(&self) -> &'static str {
        "artemis"
    }
    fn default_image(&self) -> &'static str {
        "mqbench/artemis:latest"
    }
    /// `artemis create` options: one acceptor (all protocols, AMQP among
    /// them) on 127.0.0.1:PORT, no web console, no disk-speed autotune.
    fn setup(&self, ports: &Ports) -> Setup {
        let extra = format!(
            "--host 127.0.0.1 --default-port {} --no-amqp-acceptor --no-hornetq-acceptor --no-mqtt-acceptor \
             --no-stomp-acceptor --no-web --no-autotune",
            ports.main()
        );
        Setup {
            env: env(&[
                ("ARTEMIS_USER", artemis::USER.into()),
                ("ARTEMIS_PASSWORD", artemis::PASSWORD.into()),
                ("EXTRA_ARGS", extra),
            ]),
            cmd: None,
        }
    }
    fn endpoint(&self, ports: &Ports) -> String {
        format!("amqp://{}:{}@127.0.0.1:{}", artemis::USER, artemis::PASSWORD, ports.main())
    }
    /// The adapter reads the version from the broker's Open frame.
    async fn probe(&self, ports: &Ports) -> anyhow::Result<Option<String>> {
        artemis::answers_amqp(ports.main()).await.map(|_| None)
    }
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(90)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_adapter_with_an_image_has_a_kind() {
        for adapter in ["redis", "rabbitmq", "rabbitmq-amqp1", "kafka", "artemis"] {
            let kind = kind_for(adapter).unwrap();
            assert!(kind.default_image().starts_with("mqbench/"), "{adapter}");
        }
        let err = kind_for("activemq").err().unwrap().to_string();
        assert!(err.contains("not available") && err.contains("provision: local"), "{err}");
    }

    #[test]
    fn kafka_advertises_the_address_clients_use() {
        let ports = Ports(vec![19092, 19093]);
        let setup = Kafka.setup(&ports);
        let get = |k: &str| setup.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("KAFKA_ADVERTISED_LISTENERS"), Some("PLAINTEXT://127.0.0.1:19092"));
        assert_eq!(get("KAFKA_CONTROLLER_QUORUM_VOTERS"), Some("1@127.0.0.1:19093"));
        assert_eq!(Kafka.endpoint(&ports), "127.0.0.1:19092");
    }
}
