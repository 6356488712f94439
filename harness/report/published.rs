//! The published comparison that `scenarios/seed-*.yaml` reproduce, kept as
//! data in `results/published/seed-benchmark.csv` and compiled in, so a
//! report drawn anywhere can put measured and published figures side by
//! side without looking for the file.

use crate::results::PointResult;

/// The CSV as committed (`table,broker,x,x_unit,value,value_unit`).
pub const SEED_CSV: &str = include_str!("../../results/published/seed-benchmark.csv");

/// Where the published figures come from, for captions and tables.
pub const SOURCE: &str = "results/published/seed-benchmark.csv: OpenMessaging Benchmark on one laptop \
(16 GB RAM, SSD), all four brokers on the same machine";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// Unthrottled throughput: x = payload bytes, value = msg/s.
    Throughput,
    /// End-to-end latency: x = producer rate in MB/s, value = ms.
    Latency,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub table: Table,
    pub broker: String,
    pub x: f64,
    pub value: f64,
}

impl Row {
    /// Bytes per second implied by a throughput row.
    pub fn bytes_per_s(&self) -> f64 {
        self.x * self.value
    }
}

/// Parses the published CSV; a malformed line is an error naming it.
pub fn parse(text: &str) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let bad = |why: &str| anyhow::anyhow!("published data line {}: {why}: {line}", n + 1);
        if f.len() != 6 {
            return Err(bad("expected 6 fields"));
        }
        let table = match (f[0], f[3], f[5]) {
            ("throughput", "B", "msg/s") => Table::Throughput,
            ("latency", "MBps", "ms") => Table::Latency,
            _ => return Err(bad("unknown table or units")),
        };
        let num = |s: &str| s.parse::<f64>().map_err(|_| bad("not a number"));
        rows.push(Row { table, broker: f[1].to_string(), x: num(f[2])?, value: num(f[4])? });
    }
    Ok(rows)
}

/// The seed table compiled into this binary.
pub fn seed() -> Vec<Row> {
    parse(SEED_CSV).expect("results/published/seed-benchmark.csv is valid (checked by a unit test)")
}

/// The published broker a measured point corresponds to, if any: the same
/// software, not just the same protocol. RabbitMQ's AMQP 1.0 plugin
/// (`rabbitmq-amqp1`) is never drawn as Artemis, and tansu (a Kafka-protocol
/// broker) never as Kafka; they are shown under their own names.
pub fn counterpart(p: &PointResult) -> Option<&'static str> {
    let sw = p.broker_software.to_lowercase();
    match p.adapter.as_str() {
        "kafka" => (!sw.contains("tansu")).then_some("kafka"),
        "redis" => Some("redis"),
        "rabbitmq" => Some("rabbitmq"),
        "artemis" => (!sw.contains("rabbit")).then_some("artemis"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_table_parses_completely() {
        let rows = seed();
        assert_eq!(rows.iter().filter(|r| r.table == Table::Throughput).count(), 24);
        assert_eq!(rows.iter().filter(|r| r.table == Table::Latency).count(), 20);
        let kafka = rows.iter().find(|r| r.broker == "kafka" && r.x == 100_000.0).unwrap();
        assert!((kafka.bytes_per_s() - 25.5285e9).abs() < 1e3);
    }

    #[test]
    fn bad_lines_are_named() {
        let e = parse("throughput,kafka,10,B,x,msg/s").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
