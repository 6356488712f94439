#!/usr/bin/env bash
# mqbench beside RabbitMQ PerfTest (com.rabbitmq.perf.PerfTest, from Maven
# Central), on one local RabbitMQ that `mqbench brokers up rabbitmq` starts,
# in alternating rounds: AMQP 0-9-1, 1 KB persistent messages into a durable
# classic queue, publisher confirms with at most 1000 unconfirmed, one
# producer and one consumer (prefetch 1000, manual acks in batches),
# unthrottled, 10 s.
#
# PerfTest's rates are averages over its run and its consumer latency runs
# from the actual send (a timestamp in the body); mqbench's end-to-end
# latency runs from the intended send, the send time when unthrottled.
# CPU seconds of each client process (user + system, /usr/bin/time) are
# divided by the messages it delivered.
#
#   bash scripts/peers/rabbitmq.sh [ROUNDS]   (default 3; needs a release build
#                                              and bash docker/install-brokers.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
mq="${MQBENCH:-target/release/mqbench}"
libs="${MQBENCH_BROKERS:-/opt/mqbench}/perf-test/libs"
work="$(mktemp -d)"
export MQBENCH_STATE_DIR="$work/state"
trap '"$mq" brokers down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

ep="$("$mq" brokers up rabbitmq | sed -n 's/^rabbitmq: \([^ ]*\) .*/\1/p')"
echo "rabbitmq at $ep; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
cpu() { awk '{print $1 + $2}' "$work/time"; }
cat >"$work/mq.yaml" <<YAML
workload:
  payload: 1KB
  rate: max
  warmup: 2s
  duration: 10s
  drain: 5s
  in_flight: 1000
brokers:
  - name: rabbitmq
    provision: live
    endpoint: "$ep"
    options: { queue_type: classic, durable: true, persistent: true, confirms: true, prefetch: 1000 }
YAML

printf '%-5s %-18s %12s %12s %12s %12s %11s\n' round what sent/s received/s "e2e p50 ms" "e2e p99 ms" "CPU us/msg"
for r in $(seq 1 "$rounds"); do
  /usr/bin/time -f "%U %S" -o "$work/time" java -Xmx1g -cp "$libs/*" com.rabbitmq.perf.PerfTest --uri "$ep" \
    --size 1000 --time 10 --producers 1 --consumers 1 --confirm 1000 --qos 1000 --multi-ack-every 100 \
    --flag persistent --queue "perf-$r" --auto-delete true >"$work/perf.out" 2>&1
  sent="$(sed -n 's/.*sending rate avg: \([0-9]*\) msg\/s.*/\1/p' "$work/perf.out" | tail -1)"
  recv="$(sed -n 's/.*receiving rate avg: \([0-9]*\) msg\/s.*/\1/p' "$work/perf.out" | tail -1)"
  # consumer latency min/median/75th/95th/99th A/B/C/D/E µs
  read -r l50 l99 < <(sed -n 's/.*consumer latency min\/median\/75th\/95th\/99th [0-9]*\/\([0-9]*\)\/[0-9]*\/[0-9]*\/\([0-9]*\) µs.*/\1 \2/p' "$work/perf.out" | tail -1)
  printf '%-5s %-18s %12s %12s %12.3f %12.3f %11.2f\n' "$r" "PerfTest" "$sent" "$recv" \
    "$(echo "$l50/1000" | bc -l)" "$(echo "$l99/1000" | bc -l)" "$(echo "$(cpu) * 1000000 / ($recv * 10)" | bc -l)"
  /usr/bin/time -f "%U %S" -o "$work/time" "$mq" run "$work/mq.yaml" --no-progress --out "$work/mq-$r" >/dev/null 2>&1
  read -r pub con e50 e99 msgs < <(jq -r '.points[0] | "\(.throughput.publish_msgs_per_s) \(.throughput.consume_msgs_per_s) \(.latency_us.end_to_end.p50) \(.latency_us.end_to_end.p99) \(.counts.received)"' "$work/mq-$r/results.json")
  printf '%-5s %-18s %12.0f %12.0f %12.3f %12.3f %11.2f\n' "$r" "mqbench" "$pub" "$con" \
    "$(echo "$e50/1000" | bc -l)" "$(echo "$e99/1000" | bc -l)" "$(echo "$(cpu) * 1000000 / $msgs" | bc -l)"
done
