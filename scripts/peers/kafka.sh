#!/usr/bin/env bash
# mqbench beside Kafka's own benchmark tools, on one local Apache Kafka node
# that `mqbench brokers up kafka` starts, in alternating rounds:
#
#   produce and consume, 1 KB, unthrottled, acks=all, linger.ms=5,
#   batch.size=1000000, no compression, one partition:
#     ProducerPerformance --throughput -1 (N records), then ConsumerPerformance
#     reading them back, against one mqbench backlog point (producers run
#     first, then consumers drain what is stored).
#   latency, 1 KB, acks=all, linger.ms=0:
#     EndToEndLatency (one message at a time: send, wait for it to arrive)
#     against one mqbench point at a fixed 200 msg/s.
#
# CPU seconds of each client process (user + system, /usr/bin/time) are
# divided by the messages it handled; the JVM tools' figures include their
# start-up, which the large N makes small.
#
#   bash scripts/peers/kafka.sh [ROUNDS]      (default 3; needs a release build
#                                              and bash docker/install-brokers.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
mq="${MQBENCH:-target/release/mqbench}"
libs="${KAFKA_HOME:-${MQBENCH_BROKERS:-/opt/mqbench}/kafka}/libs"
n="${RECORDS:-2000000}"
work="$(mktemp -d)"
export MQBENCH_STATE_DIR="$work/state"
trap '"$mq" brokers down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

ep="$("$mq" brokers up kafka | sed -n 's/^kafka: \([^ ]*\) .*/\1/p')"
echo "kafka at $ep; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
tool() { /usr/bin/time -f "%U %S" -o "$work/time" java -Xmx1g -cp "$libs/*" "$@"; }
cpu() { awk '{print $1 + $2}' "$work/time"; }

scenario() { # $1 = file, $2 = workload lines
  cat >"$1" <<EOF
workload:
$2
brokers:
  - name: kafka
    provision: live
    endpoint: $ep
    options: { acks: all, linger_ms: $3, batch_size: 1000000, compression: none }
EOF
}
scenario "$work/throughput.yaml" "  payload: 1KB
  rate: max
  partitions: 1
  warmup: 2s
  duration: 10s
  drain: 60s
  in_flight: 20000
  backlog: true" 5
scenario "$work/latency.yaml" "  payload: 1KB
  rate: 200msgps
  partitions: 1
  warmup: 2s
  duration: 20s
  drain: 5s" 0

printf '%-5s %-30s %12s %12s %14s\n' round what produce/s consume/s "CPU us/msg"
for r in $(seq 1 "$rounds"); do
  # Kafka's tools: produce N, then read them back.
  tool org.apache.kafka.tools.ProducerPerformance --topic "pp-$r" --num-records "$n" --record-size 1000 \
    --throughput -1 --producer-props bootstrap.servers="$ep" acks=all linger.ms=5 batch.size=1000000 \
    compression.type=none >"$work/pp.out" 2>&1
  pp_rate="$(tail -1 "$work/pp.out" | sed -n 's/.* records sent, \([0-9.]*\) records\/sec.*/\1/p')"
  pp_cpu="$(cpu)"
  tool org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$ep" --topic "pp-$r" --num-records "$n" \
    --group "cp-$r" --timeout 60000 >"$work/cp.out" 2>&1
  # start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.ms, fetch.ms, fetch.MB.sec, fetch.nMsg.sec
  cp_rate="$(grep -E '^[0-9]{4}-' "$work/cp.out" | tail -1 | awk -F', ' '{print $10}')"
  cp_cpu="$(cpu)"
  printf '%-5s %-30s %12.0f %12.0f %14.2f\n' "$r" "ProducerPerf+ConsumerPerf" "$pp_rate" "$cp_rate" \
    "$(echo "($pp_cpu + $cp_cpu) * 1000000 / $n" | bc -l)"
  # mqbench: one backlog point.
  /usr/bin/time -f "%U %S" -o "$work/time" "$mq" run "$work/throughput.yaml" --no-progress \
    --out "$work/mq-$r" >/dev/null 2>&1
  read -r mq_pub mq_con mq_msgs < <(jq -r '.points[0] | "\(.throughput.publish_msgs_per_s) \(.throughput.consume_msgs_per_s) \(.counts.received)"' "$work/mq-$r/results.json")
  printf '%-5s %-30s %12.0f %12.0f %14.2f\n' "$r" "mqbench (backlog point)" "$mq_pub" "$mq_con" \
    "$(echo "$(cpu) * 1000000 / $mq_msgs" | bc -l)"
done

echo
printf '%-5s %-30s %10s %10s %10s %10s %10s\n' round what mean_ms p50_ms p99_ms p99.9_ms "CPU us/msg"
for r in $(seq 1 "$rounds"); do
  tool org.apache.kafka.tools.EndToEndLatency --bootstrap-server "$ep" --topic "e2e-$r" --num-records 10000 \
    --producer-acks all --record-size 1000 >"$work/e2e.out" 2>&1
  # Its percentiles are whole milliseconds; its mean is not.
  mean="$(sed -n 's/^Avg latency: \([0-9.]*\) ms.*/\1/p' "$work/e2e.out")"
  read -r p50 p99 p999 < <(sed -n 's/^Percentiles: 50th = \([0-9.]*\), 99th = \([0-9.]*\), 99.9th = \([0-9.]*\).*/\1 \2 \3/p' "$work/e2e.out")
  printf '%-5s %-30s %10.2f %10s %10s %10s %10.2f\n' "$r" "EndToEndLatency (1 at a time)" "$mean" "$p50" "$p99" "$p999" \
    "$(echo "$(cpu) * 1000000 / 10000" | bc -l)"
  /usr/bin/time -f "%U %S" -o "$work/time" "$mq" run "$work/latency.yaml" --no-progress --out "$work/lat-$r" >/dev/null 2>&1
  read -r mm m50 m99 m999 msgs < <(jq -r '.points[0] | "\(.latency_us.end_to_end.mean) \(.latency_us.end_to_end.p50) \(.latency_us.end_to_end.p99) \(.latency_us.end_to_end.p999) \(.counts.received)"' "$work/lat-$r/results.json")
  printf '%-5s %-30s %10.2f %10.2f %10.2f %10.2f %10.2f\n' "$r" "mqbench 200 msg/s (e2e)" "$(echo "$mm/1000" | bc -l)" "$(echo "$m50/1000" | bc -l)" \
    "$(echo "$m99/1000" | bc -l)" "$(echo "$m999/1000" | bc -l)" "$(echo "$(cpu) * 1000000 / $msgs" | bc -l)"
done
