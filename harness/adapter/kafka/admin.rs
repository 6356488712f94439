//! Topic lifecycle through the Kafka admin API, and the connection check
//! that turns an unreachable bootstrap server into a clear error.

use super::error::{describe, RecordingContext};
use anyhow::{anyhow, bail, Context};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the first metadata request may take before the broker counts
/// as unreachable (the point then fails well inside 10 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(6);
/// How long a new topic may take to show every partition with a leader.
const TOPIC_READY_TIMEOUT: Duration = Duration::from_secs(30);
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Asks the cluster for its metadata through a client whose log and
/// error callbacks are served (the admin client's are not), so that a
/// failure says why; a TLS or SASL failure ends the wait at once rather
/// than after `timeout` (librdkafka would retry it forever).
async fn check_connection(config: &ClientConfig, bootstrap: &str, timeout: Duration) -> anyhow::Result<ClusterInfo> {
    use rdkafka::producer::{BaseProducer, Producer};
    let context = RecordingContext::default();
    let probe: BaseProducer<RecordingContext> = config
        .create_with_context(context.clone())
        .map_err(|e| anyhow!("creating the Kafka client: {}", describe(&e)))?;
    let bootstrap = bootstrap.to_string();
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        loop {
            let md = probe.client().fetch_metadata(None, Duration::from_millis(500));
            probe.poll(Duration::ZERO);
            let e = match md {
                Ok(md) => return Ok(ClusterInfo { brokers: md.brokers().iter().map(|b| b.id()).collect() }),
                Err(e) => e,
            };
            let last = context.last_error.get().unwrap_or_default();
            let security = ["SSL", "SASL", "uthenticat", "certificate", "handshake"].iter().any(|w| last.contains(w));
            if security || start.elapsed() >= timeout {
                let what = if security {
                    format!("the Kafka bootstrap servers `{bootstrap}` refused the connection's security (TLS or SASL)")
                } else {
                    format!(
                        "no metadata from the Kafka bootstrap servers `{bootstrap}` within {}s (is the broker running and reachable?)",
                        timeout.as_secs()
                    )
                };
                return Err(anyhow!(context.last_error.explain(&what, &e)));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .context("metadata task")?
}

#[derive(Clone)]
pub struct Admin {
    client: Arc<AdminClient<RecordingContext>>,
    context: RecordingContext,
}

/// What the first metadata answer said about the cluster.
pub struct ClusterInfo {
    pub brokers: Vec<i32>,
}

impl Admin {
    /// Creates the admin client and checks that the cluster answers.
    pub async fn connect(config: &ClientConfig, bootstrap: &str) -> anyhow::Result<(Admin, ClusterInfo)> {
        let info = check_connection(config, bootstrap, CONNECT_TIMEOUT).await?;
        let context = RecordingContext::default();
        let client: AdminClient<RecordingContext> = config
            .create_with_context(context.clone())
            .map_err(|e| anyhow!("creating the Kafka admin client: {}", describe(&e)))?;
        Ok((Admin { client: Arc::new(client), context }, info))
    }

    fn options() -> AdminOptions {
        AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT)).operation_timeout(Some(ADMIN_TIMEOUT))
    }

    /// Creates `topic` with the topic-level `config` and waits until every
    /// partition has a leader.
    pub async fn create_topic(
        &self,
        topic: &str,
        partitions: u32,
        replication: u32,
        config: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let mut new = NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(replication as i32));
        for (k, v) in config {
            new = new.set(k, v);
        }
        let results = self
            .client
            .create_topics([&new], &Self::options())
            .await
            .map_err(|e| anyhow!(self.context.last_error.explain(&format!("creating topic `{topic}`"), &e)))?;
        for r in results {
            if let Err((name, code)) = r {
                if code != RDKafkaErrorCode::TopicAlreadyExists {
                    bail!(
                        "creating topic `{name}` with {partitions} partitions and replication factor {replication}: {code} ({code:?})"
                    );
                }
            }
        }
        self.wait_for_leaders(topic, partitions).await
    }

    async fn wait_for_leaders(&self, topic: &str, partitions: u32) -> anyhow::Result<()> {
        let start = Instant::now();
        let mut last = String::from("no metadata yet");
        while start.elapsed() < TOPIC_READY_TIMEOUT {
            let client = self.client.clone();
            let t = topic.to_string();
            let md =
                tokio::task::spawn_blocking(move || client.inner().fetch_metadata(Some(&t), Duration::from_secs(5)))
                    .await
                    .context("metadata task")?;
            match md {
                Ok(md) => {
                    let found = md.topics().iter().find(|t| t.name() == topic);
                    match found {
                        Some(t) if t.error().is_none() => {
                            let led = t.partitions().iter().filter(|p| p.leader() >= 0).count();
                            if led == partitions as usize {
                                return Ok(());
                            }
                            last = format!("{led} of {partitions} partitions have a leader");
                        }
                        Some(t) => last = format!("topic error {:?}", t.error()),
                        None => last = "topic not in metadata".into(),
                    }
                }
                Err(e) => last = describe(&e),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("topic `{topic}` not ready after {}s: {last}", TOPIC_READY_TIMEOUT.as_secs())
    }

    pub async fn delete_topic(&self, topic: &str) -> anyhow::Result<()> {
        let results = self
            .client
            .delete_topics(&[topic], &Self::options())
            .await
            .map_err(|e| anyhow!(self.context.last_error.explain(&format!("deleting topic `{topic}`"), &e)))?;
        for r in results {
            if let Err((name, code)) = r {
                if code != RDKafkaErrorCode::UnknownTopicOrPartition {
                    bail!("deleting topic `{name}`: {code} ({code:?})");
                }
            }
        }
        Ok(())
    }

    /// Deletes consumer groups; brokers that keep no state for empty groups
    /// (or do not implement DeleteGroups) make this a no-op, so failures
    /// are returned for the caller to ignore or report.
    pub async fn delete_groups(&self, groups: &[&str]) -> anyhow::Result<()> {
        let results = self
            .client
            .delete_groups(groups, &Self::options())
            .await
            .map_err(|e| anyhow!("deleting consumer groups: {}", describe(&e)))?;
        for r in results {
            if let Err((name, code)) = r {
                bail!("deleting consumer group `{name}`: {code}");
            }
        }
        Ok(())
    }

    /// What a live cluster says about its version: Kafka reports none
    /// directly, but brokers describe `inter.broker.protocol.version`
    /// (e.g. `3.7-IV4`), which names the release line.
    pub async fn protocol_version(&self, broker: i32) -> Option<String> {
        let spec = ResourceSpecifier::Broker(broker);
        let fut = self.client.describe_configs([&spec], &Self::options());
        let results = tokio::time::timeout(Duration::from_secs(5), fut).await.ok()?.ok()?;
        let resource = results.into_iter().next()?.ok()?;
        let entry = resource.get("inter.broker.protocol.version")?;
        entry.value.clone()
    }
}
