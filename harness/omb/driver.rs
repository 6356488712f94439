//! An OMB driver file as one mqbench broker entry: the adapter its
//! `driverClass` names, the endpoint, and its client settings as that
//! adapter's options. What OMB's driver does without a setting (RabbitMQ's
//! fanout exchange, publisher confirms and automatic acknowledgement,
//! Redis streams with consumer groups) is written out as options too, so
//! the scenario runs what OMB ran.
//!
//! Secrets never reach the scenario: a password in a driver file is
//! replaced by the environment variable the adapter reads it from, and the
//! import says which to set. SASL and TLS settings of Kafka driver files
//! are refused for now (see `security_refusal`).

use super::properties;
use super::source::{Note, Source};
use crate::scenario::AdapterRules;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Where a line of the produced scenario comes from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: String,
}

/// One adapter option of an entry, with the comment it is written with.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionLine {
    pub key: String,
    pub value: Value,
    pub comment: String,
    pub origin: Option<Origin>,
}

/// A broker entry of the produced scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BrokerEntry {
    pub name: String,
    pub adapter: String,
    /// `live` for a driver file (it names a running broker); unset for a
    /// broker named on the command line (mqbench's default: embedded
    /// loopback, local child processes for the others).
    pub provision: Option<&'static str>,
    pub endpoint: Option<String>,
    pub endpoint_origin: Option<Origin>,
    pub options: Vec<OptionLine>,
    /// `VARIABLE: what to put in it`, for secrets left out of the file.
    pub env: Vec<(String, String)>,
    /// The driver file, when there is one.
    pub file: Option<PathBuf>,
}

impl BrokerEntry {
    /// A broker kind named on the command line (`--broker kafka`).
    pub fn named(kind: &str) -> BrokerEntry {
        BrokerEntry { name: kind.into(), adapter: kind.into(), ..Default::default() }
    }

    fn option(&mut self, key: &str, value: Value, comment: impl Into<String>, origin: Option<Origin>) {
        self.options.retain(|o| o.key != key);
        self.options.push(OptionLine { key: key.into(), value, comment: comment.into(), origin });
    }
}

/// What a driver file gave: the entry, and the notes about it.
pub struct Driver {
    pub entry: BrokerEntry,
    pub warnings: Vec<Note>,
    pub errors: Vec<Note>,
}

const COMMON_KEYS: &[&str] = &["name", "driverClass"];
const KAFKA_KEYS: &[&str] =
    &["name", "driverClass", "replicationFactor", "topicConfig", "commonConfig", "producerConfig", "consumerConfig"];
const RABBIT_KEYS: &[&str] = &[
    "name",
    "driverClass",
    "amqpUris",
    "messagePersistence",
    "queueType",
    "producerCreationDelay",
    "producerCreationBatchSize",
    "consumerCreationDelay",
    "consumerCreationBatchSize",
];
const REDIS_KEYS: &[&str] = &[
    "name",
    "driverClass",
    "redisHost",
    "redisPort",
    "redisUser",
    "redisPass",
    "jedisPoolMaxTotal",
    "jedisPoolMaxIdle",
];
const ARTEMIS_KEYS: &[&str] = &["name", "driverClass", "brokerAddress"];

/// Reads a driver file into a broker entry. `rules` answers which Kafka
/// properties librdkafka accepts (OMB's Kafka driver is the Java client,
/// whose properties are mostly, not all, librdkafka's).
pub fn read(file: &Path, rules: &dyn AdapterRules) -> Result<Driver, super::source::Refused> {
    let s = Source::read(file)?;
    Ok(from_source(s, rules))
}

pub fn parse(file: &Path, text: &str, rules: &dyn AdapterRules) -> Result<Driver, super::source::Refused> {
    Ok(from_source(Source::parse(file, text)?, rules))
}

fn origin(s: &Source, key: &str) -> Option<Origin> {
    Some(Origin { file: s.file.clone(), line: s.line(key), key: key.into() })
}

fn from_source(mut s: Source, rules: &dyn AdapterRules) -> Driver {
    let class = s.string("driverClass");
    let adapter = match class.as_deref() {
        None => {
            s.error("driverClass", "missing: a driver file names its driver (`driverClass: io.openmessaging.benchmark.driver.kafka.KafkaBenchmarkDriver`)");
            None
        }
        Some(c) => match c.split('.').rev().nth(1).unwrap_or_default() {
            "kafka" => Some("kafka"),
            "rabbitmq" => Some("rabbitmq"),
            "redis" => Some("redis"),
            "artemis" => Some("artemis"),
            _ => {
                s.error(
                    "driverClass",
                    format!("`{c}` has no mqbench adapter: driver files for Kafka, RabbitMQ, Redis and Artemis are imported (other brokers: write the scenario's broker entry by hand, docs/scenarios.md)"),
                );
                None
            }
        },
    };
    let label = s.string("name").unwrap_or_else(|| adapter.unwrap_or("broker").to_string());
    let mut entry = BrokerEntry {
        name: slug(&label),
        adapter: adapter.unwrap_or_default().to_string(),
        provision: Some("live"),
        file: Some(s.file.clone()),
        ..Default::default()
    };
    match adapter {
        Some("kafka") => kafka(&mut s, &mut entry, rules),
        Some("rabbitmq") => rabbitmq(&mut s, &mut entry),
        Some("redis") => redis(&mut s, &mut entry),
        Some("artemis") => artemis(&mut s, &mut entry),
        _ => s.warn_unknown(COMMON_KEYS, "driver"),
    }
    Driver { entry, warnings: s.warnings, errors: s.errors }
}

/// A broker label as point ids allow it: lower case, letters, digits,
/// `-`, `_` and `.`.
pub fn slug(text: &str) -> String {
    let s: String =
        text.trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "omb".into()
    } else {
        s
    }
}

/// Why a Kafka client property cannot be imported yet, when it is a
/// security setting. This is the seam for the broker `security:` settings:
/// when they exist, these properties map there instead (a SASL password
/// as an environment variable reference), and this refusal goes.
fn security_refusal(key: &str, value: &str) -> Option<String> {
    let k = key.to_ascii_lowercase();
    let plaintext = k == "security.protocol" && value.trim().eq_ignore_ascii_case("PLAINTEXT");
    if plaintext || !(k == "security.protocol" || k.starts_with("sasl.") || k.starts_with("ssl.")) {
        return None;
    }
    Some(
        "SASL/TLS settings of driver files are not imported yet: mqbench's broker security settings will take them; the import stops here rather than connect without them (remove the SASL/TLS lines to benchmark a broker without security); no value of this property, password or other, is copied anywhere"
            .into(),
    )
}

fn kafka(s: &mut Source, e: &mut BrokerEntry, rules: &dyn AdapterRules) {
    s.warn_unknown(KAFKA_KEYS, "Kafka driver");
    if let Some(rf) = s.int("replicationFactor") {
        if rf == 0 {
            s.error("replicationFactor", "must be at least 1");
        } else {
            e.option("replication_factor", json!(rf), "replicationFactor", origin(s, "replicationFactor"));
        }
    }
    let mut sections: Vec<(&str, Vec<properties::Property>)> = Vec::new();
    for key in ["topicConfig", "commonConfig", "producerConfig", "consumerConfig"] {
        if let Some(text) = s.string(key) {
            sections.push((key, properties::parse(&text)));
        }
    }
    let mut topic = serde_json::Map::new();
    let mut common = serde_json::Map::new();
    let mut producer = serde_json::Map::new();
    let mut consumer = serde_json::Map::new();
    for (section, props) in &sections {
        // Properties sit on the lines after `key: |`.
        let base = s.line(section);
        for p in props {
            let at = Note {
                file: s.file.clone(),
                line: base.map(|b| b + 1 + p.line),
                key: format!("{section} {}", p.key),
                text: String::new(),
            };
            let note = |text: String| Note { text, ..at.clone() };
            if let Some(why) = security_refusal(&p.key, &p.value) {
                s.errors.push(note(why));
                continue;
            }
            if *section == "topicConfig" {
                topic.insert(p.key.clone(), json!(p.value));
                continue;
            }
            if p.key == "bootstrap.servers" {
                if *section == "commonConfig" {
                    e.endpoint = Some(p.value.clone());
                    e.endpoint_origin = Some(Origin { file: s.file.clone(), line: at.line, key: at.key.clone() });
                } else {
                    s.warnings.push(note(format!(
                        "ignored: the endpoint comes from commonConfig's `bootstrap.servers` (mqbench has one endpoint per broker); {section} would point only {} at `{}`",
                        if *section == "producerConfig" { "producers" } else { "consumers" },
                        p.value
                    )));
                }
                continue;
            }
            if p.key == "group.id" {
                s.warnings.push(note(
                    "ignored: each subscription is its own consumer group, named by mqbench (as OMB names one per subscription)".into(),
                ));
                continue;
            }
            // A property librdkafka does not know (the Java client's own,
            // such as `key.serializer` or `default.api.timeout.ms`) would
            // fail the scenario: it is left out, and said.
            let field = match *section {
                "commonConfig" => "properties",
                "producerConfig" => "producer_properties",
                _ => "consumer_properties",
            };
            let mut one = serde_json::Map::new();
            one.insert(field.into(), json!({ p.key.clone(): p.value.clone() }));
            if let Err(why) = rules.check_options("kafka", &one) {
                s.warnings.push(note(format!(
                    "left out: a Java client property that librdkafka (mqbench's Kafka client) does not take ({why})"
                )));
                continue;
            }
            match *section {
                "commonConfig" => common.insert(p.key.clone(), json!(p.value)),
                "producerConfig" => producer.insert(p.key.clone(), json!(p.value)),
                _ => consumer.insert(p.key.clone(), json!(p.value)),
            };
        }
    }
    // The producer settings mqbench has knobs for become those knobs, so
    // results record them (an `acks` buried in properties would be
    // recorded as the default).
    let first_class = [
        ("acks", "acks"),
        ("linger.ms", "linger_ms"),
        ("batch.size", "batch_size"),
        ("compression.type", "compression"),
        ("enable.idempotence", "idempotence"),
    ];
    for (prop, knob) in first_class {
        if let Some(v) = producer.remove(prop) {
            let text = v.as_str().unwrap_or_default().trim().to_string();
            let value = match knob {
                "linger_ms" | "batch_size" => text.parse::<u64>().map(|n| json!(n)).unwrap_or(json!(text)),
                "idempotence" => json!(text.eq_ignore_ascii_case("true")),
                "acks" if text == "-1" => json!("all"),
                _ => json!(text),
            };
            e.option(knob, value, format!("producerConfig {prop}={text}"), origin(s, "producerConfig"));
        }
    }
    if !topic.is_empty() {
        e.option("topic_config", Value::Object(topic), "topicConfig", origin(s, "topicConfig"));
    }
    if !common.is_empty() {
        e.option(
            "properties",
            Value::Object(common),
            "commonConfig (producers and consumers)",
            origin(s, "commonConfig"),
        );
    }
    if !producer.is_empty() {
        e.option("producer_properties", Value::Object(producer), "producerConfig", origin(s, "producerConfig"));
    }
    if !consumer.is_empty() {
        e.option("consumer_properties", Value::Object(consumer), "consumerConfig", origin(s, "consumerConfig"));
    }
    if e.endpoint.is_none() {
        s.error(
            "commonConfig",
            "no `bootstrap.servers` in commonConfig: the driver file names no broker to connect to (name a broker kind on the command line instead to have mqbench start one)",
        );
    }
}

/// `amqp://user:password@host` without its password, and whether it had one.
fn strip_password(uri: &str) -> (String, bool) {
    let Some((scheme, rest)) = uri.split_once("://") else { return (uri.into(), false) };
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => (format!("{scheme}://{user}@{host}{tail}"), true),
            None => (uri.into(), false),
        },
        None => (uri.into(), false),
    }
}

fn rabbitmq(s: &mut Source, e: &mut BrokerEntry) {
    s.warn_unknown(RABBIT_KEYS, "RabbitMQ driver");
    let uris: Vec<String> = match s.get("amqpUris").cloned() {
        Some(serde_yaml::Value::Sequence(items)) => items
            .iter()
            .filter_map(|v| match v {
                serde_yaml::Value::String(x) => Some(x.clone()),
                _ => None,
            })
            .collect(),
        Some(serde_yaml::Value::String(x)) => vec![x],
        Some(other) => {
            s.error("amqpUris", format!("{} is not a list of amqp:// URIs", super::source::show(&other)));
            vec![]
        }
        None => vec![],
    };
    match uris.first() {
        None => s.error("amqpUris", "no broker URI: the driver file names no RabbitMQ to connect to"),
        Some(first) => {
            let (uri, had_password) = strip_password(first);
            e.endpoint = Some(uri);
            e.endpoint_origin =
                Some(Origin { file: s.file.clone(), line: s.item_line("amqpUris", 0), key: "amqpUris".into() });
            if had_password {
                let n = s.note("amqpUris", "");
                let var = "RABBITMQ_PASSWORD";
                e.env.push((
                    var.into(),
                    format!("the password in {}:{} (amqpUris)", n.file.display(), n.line.unwrap_or(0)),
                ));
                s.warn("amqpUris", format!("the password in the URI is not copied: set {var} to it (the rabbitmq adapter reads it from there)"));
            }
            if uris.len() > 1 {
                s.warn(
                    "amqpUris",
                    format!(
                        "{} URIs: OMB spreads its connections over them, mqbench connects every client to the first (`{}`); the others are not used",
                        uris.len(),
                        e.endpoint.clone().unwrap_or_default()
                    ),
                );
            }
        }
    }
    let persistent = s.boolean("messagePersistence").unwrap_or(false);
    e.option(
        "persistent",
        json!(persistent),
        "messagePersistence (OMB's default: false)",
        origin(s, "messagePersistence"),
    );
    let queue_type = match s.string("queueType").as_deref().map(str::trim) {
        None | Some("CLASSIC") => "classic",
        Some("QUORUM") => "quorum",
        Some("STREAM") => "stream",
        Some(other) => {
            s.error("queueType", format!("`{other}` is not one of CLASSIC, QUORUM, STREAM"));
            "classic"
        }
    };
    e.option("queue_type", json!(queue_type), "queueType (OMB's default: CLASSIC)", origin(s, "queueType"));
    // What OMB's RabbitMQ driver does without a setting.
    e.option("exchange", json!("fanout"), "OMB's driver: a fanout exchange per topic", None);
    e.option("confirms", json!(true), "OMB's driver: publisher confirms", None);
    if queue_type == "stream" {
        e.option("ack", json!("manual"), "stream queues need acknowledgements", None);
        s.warn(
            "queueType",
            "STREAM: OMB's RabbitMQ consumer acknowledges automatically (no-ack), which stream queues refuse; mqbench acknowledges each batch",
        );
    } else {
        e.option("ack", json!("auto"), "OMB's driver: automatic acknowledgement (no-ack)", None);
    }
    for key in
        ["producerCreationDelay", "producerCreationBatchSize", "consumerCreationDelay", "consumerCreationBatchSize"]
    {
        if s.get(key).is_some() {
            s.warn(key, "not applicable: mqbench sets up clients 16 at a time with no delay between batches, before any measurement starts");
        }
    }
}

fn redis(s: &mut Source, e: &mut BrokerEntry) {
    s.warn_unknown(REDIS_KEYS, "Redis driver");
    let host = s.string("redisHost");
    let port = s.int("redisPort");
    let user = s.string("redisUser");
    match &host {
        None => s.error("redisHost", "missing: the driver file names no Redis to connect to"),
        Some(h) => {
            let user = user.map(|u| format!("{u}@")).unwrap_or_default();
            e.endpoint = Some(format!("redis://{user}{h}:{}", port.unwrap_or(6379)));
            e.endpoint_origin = origin(s, "redisHost");
        }
    }
    if s.get("redisPass").is_some() {
        let n = s.note("redisPass", "");
        e.env.push((
            "REDIS_PASSWORD".into(),
            format!("the password in {}:{} (redisPass)", n.file.display(), n.line.unwrap_or(0)),
        ));
        s.warn("redisPass", "not copied: set REDIS_PASSWORD to it (the redis adapter reads the password from there)");
    }
    e.option("mode", json!("streams"), "OMB's driver: streams, a consumer group per subscription", None);
    for key in ["jedisPoolMaxTotal", "jedisPoolMaxIdle"] {
        if s.get(key).is_some() {
            s.warn(key, "not applicable: a pool of the Jedis client; mqbench gives each producer and consumer its own connection");
        }
    }
}

fn artemis(s: &mut Source, e: &mut BrokerEntry) {
    s.warn_unknown(ARTEMIS_KEYS, "Artemis driver");
    match s.string("brokerAddress") {
        None => s.error("brokerAddress", "missing: the driver file names no Artemis to connect to"),
        Some(addr) => {
            let rest = addr.trim().strip_prefix("tcp://").unwrap_or(addr.trim());
            let (hostport, query) = match rest.split_once('?') {
                Some((h, q)) => (h, Some(q)),
                None => (rest, None),
            };
            if hostport.contains(',') || hostport.starts_with('(') {
                s.error(
                    "brokerAddress",
                    format!("`{addr}` names several brokers: mqbench connects to one `host:port`"),
                );
                return;
            }
            e.endpoint = Some(format!("amqp://{}", hostport.trim_end_matches('/')));
            e.endpoint_origin = origin(s, "brokerAddress");
            if let Some(q) = query {
                s.warn(
                    "brokerAddress",
                    format!(
                        "the core-protocol parameters `?{q}` are not used: mqbench speaks AMQP 1.0 to the same port"
                    ),
                );
            }
            s.warn(
                "brokerAddress",
                "OMB's Artemis driver speaks Artemis's core protocol, mqbench AMQP 1.0: Artemis's default acceptor (61616) takes both, so the same address is used over AMQP 1.0",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_come_out_of_uris() {
        assert_eq!(strip_password("amqp://u:secret@h:5672/%2f"), ("amqp://u@h:5672/%2f".into(), true));
        assert_eq!(strip_password("amqp://h"), ("amqp://h".into(), false));
        assert_eq!(strip_password("amqps://u@h"), ("amqps://u@h".into(), false));
        assert_eq!(slug("Kafka Throughput"), "kafka-throughput");
    }

    #[test]
    fn security_properties_are_refused_but_plaintext_is_not() {
        assert!(security_refusal("security.protocol", "PLAINTEXT").is_none());
        assert!(security_refusal("acks", "all").is_none());
        assert!(security_refusal("security.protocol", "SASL_SSL").is_some());
        assert!(security_refusal("sasl.jaas.config", "x").is_some());
        assert!(security_refusal("ssl.truststore.location", "x").is_some());
    }
}
