//! Creates or deletes a Kafka topic through mqbench's admin code, for
//! running other tools (librdkafka's `rdkafka_performance`) against the
//! same broker with the same topic layout:
//!
//! ```text
//! cargo run --example kafka_topic -- create 127.0.0.1:9092 perf 3
//! cargo run --example kafka_topic -- delete 127.0.0.1:9092 perf
//! ```

#[cfg(feature = "kafka")]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use mqbench::adapter::kafka::admin::Admin;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: kafka_topic create BOOTSTRAP TOPIC PARTITIONS | delete BOOTSTRAP TOPIC";
    let (verb, bootstrap, topic) = match &args[..] {
        [v, b, t, ..] => (v.as_str(), b.as_str(), t.as_str()),
        _ => anyhow::bail!(usage),
    };
    let mut config = rdkafka::ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    let (admin, _) = Admin::connect(&config, bootstrap).await?;
    match verb {
        "create" => {
            let partitions: u32 = args.get(3).ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
            admin.create_topic(topic, partitions, 1, &[]).await?;
            println!("created `{topic}` with {partitions} partitions");
        }
        "delete" => {
            admin.delete_topic(topic).await?;
            println!("deleted `{topic}`");
        }
        _ => anyhow::bail!(usage),
    }
    Ok(())
}

#[cfg(not(feature = "kafka"))]
fn main() {
    eprintln!("kafka_topic needs the `kafka` cargo feature");
    std::process::exit(2);
}
