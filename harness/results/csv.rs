//! One CSV row per point: the flat numbers a spreadsheet wants.

use super::model::ResultsFile;

const COLUMNS: &[&str] = &[
    "id",
    "repeat",
    "broker",
    "adapter",
    "broker_software",
    "status",
    "payload_bytes",
    "rate",
    "topics",
    "producers",
    "subscriptions",
    "consumers",
    "partitions",
    "duration_s",
    "sent",
    "acked",
    "failed",
    "received",
    "lost",
    "duplicated",
    "out_of_order",
    "publish_msgs_per_s",
    "publish_bytes_per_s",
    "consume_msgs_per_s",
    "consume_bytes_per_s",
    "e2e_p50_us",
    "e2e_p99_us",
    "e2e_p999_us",
    "e2e_max_us",
    "publish_p50_us",
    "publish_p99_us",
    "service_p99_us",
    "warnings",
    "error",
];

fn field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

pub fn to_csv(results: &ResultsFile) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for p in &results.points {
        let l = &p.latency_us;
        let row: Vec<String> = vec![
            field(&p.id),
            p.repeat.to_string(),
            field(&p.broker),
            field(&p.adapter),
            field(&p.broker_software),
            format!("{:?}", p.status).to_lowercase(),
            p.params.payload_bytes.to_string(),
            field(&p.params.rate_label),
            p.params.topics.to_string(),
            p.params.producers.to_string(),
            p.params.subscriptions.to_string(),
            p.params.consumers.to_string(),
            p.params.partitions.to_string(),
            p.params.duration_s.to_string(),
            p.counts.sent.to_string(),
            p.counts.acked.to_string(),
            p.counts.failed.to_string(),
            p.counts.received.to_string(),
            p.counts.lost.to_string(),
            p.counts.duplicated.to_string(),
            p.counts.out_of_order.to_string(),
            format!("{:.1}", p.throughput.publish_msgs_per_s),
            format!("{:.1}", p.throughput.publish_bytes_per_s),
            format!("{:.1}", p.throughput.consume_msgs_per_s),
            format!("{:.1}", p.throughput.consume_bytes_per_s),
            l.end_to_end.p50.to_string(),
            l.end_to_end.p99.to_string(),
            l.end_to_end.p999.to_string(),
            l.end_to_end.max.to_string(),
            l.publish.p50.to_string(),
            l.publish.p99.to_string(),
            l.service.p99.to_string(),
            field(&p.warnings.join("; ")),
            field(p.error.as_deref().unwrap_or("")),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
