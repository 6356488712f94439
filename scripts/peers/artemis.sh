#!/usr/bin/env bash
# mqbench beside Artemis's own benchmark tool (`artemis perf client`), on one
# local Artemis that `mqbench brokers up artemis` starts, in alternating
# rounds: AMQP 1.0, 1 KB, non-durable, one producer and one consumer on one
# anycast queue, unthrottled with at most 100 unsettled sends (the tool's
# --max-pending, mqbench's in_flight), 2 s warm-up, 10 s measured.
#
# The tool reports send-to-acknowledgement (sendTime) and send-to-receipt
# (transferTime) latencies from the actual send; mqbench's publish and
# end-to-end latencies run from the intended send time, which unthrottled is
# the send time. CPU seconds of each client process (user + system,
# /usr/bin/time) are divided by the messages it delivered.
#
#   bash scripts/peers/artemis.sh [ROUNDS]    (default 3; needs a release build
#                                              and bash docker/install-brokers.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
mq="${MQBENCH:-target/release/mqbench}"
artemis="${ARTEMIS_HOME:-${MQBENCH_BROKERS:-/opt/mqbench}/artemis}/bin/artemis"
work="$(mktemp -d)"
export MQBENCH_STATE_DIR="$work/state"
trap '"$mq" brokers down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

ep="$("$mq" brokers up artemis | sed -n 's/^artemis: \([^ ]*\) .*/\1/p')"
port="${ep##*:}"
echo "artemis at $ep; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
cpu() { awk '{print $1 + $2}' "$work/time"; }
cat >"$work/mq.yaml" <<YAML
workload:
  payload: 1KB
  rate: max
  warmup: 2s
  duration: 10s
  drain: 5s
  in_flight: 100
brokers:
  - name: artemis
    provision: live
    endpoint: "$ep"
YAML

printf '%-5s %-22s %10s %14s %14s %14s %14s %11s\n' round what msg/s "ack p50 ms" "ack p99 ms" "e2e p50 ms" "e2e p99 ms" "CPU us/msg"
for r in $(seq 1 "$rounds"); do
  /usr/bin/time -f "%U %S" -o "$work/time" "$artemis" perf client --protocol AMQP --url "amqp://127.0.0.1:$port" \
    --user mqbench --password mqbench --message-size 1000 --duration 10 --warmup 2 --max-pending 100 \
    --json "$work/perf-$r.json" --silent "queue://perf-$r" >/dev/null 2>&1
  read -r recv s50 s99 t50 t99 < <(jq -r '.[] | select(.sampleType == "summary") |
    "\(.totalReceived) \(.totalSendTime["50"]) \(.totalSendTime["99"]) \(.totalTransferTime["50"]) \(.totalTransferTime["99"])"' "$work/perf-$r.json")
  printf '%-5s %-22s %10.0f %14.3f %14.3f %14.3f %14.3f %11.2f\n' "$r" "artemis perf client" "$(echo "$recv / 10" | bc -l)" \
    "$(echo "$s50/1000" | bc -l)" "$(echo "$s99/1000" | bc -l)" "$(echo "$t50/1000" | bc -l)" "$(echo "$t99/1000" | bc -l)" \
    "$(echo "$(cpu) * 1000000 / $recv" | bc -l)"
  /usr/bin/time -f "%U %S" -o "$work/time" "$mq" run "$work/mq.yaml" --no-progress --out "$work/mq-$r" >/dev/null 2>&1
  read -r rate p50 p99 e50 e99 msgs < <(jq -r '.points[0] | "\(.throughput.consume_msgs_per_s) \(.latency_us.publish.p50) \(.latency_us.publish.p99) \(.latency_us.end_to_end.p50) \(.latency_us.end_to_end.p99) \(.counts.received)"' "$work/mq-$r/results.json")
  printf '%-5s %-22s %10.0f %14.3f %14.3f %14.3f %14.3f %11.2f\n' "$r" "mqbench" "$rate" \
    "$(echo "$p50/1000" | bc -l)" "$(echo "$p99/1000" | bc -l)" "$(echo "$e50/1000" | bc -l)" "$(echo "$e99/1000" | bc -l)" \
    "$(echo "$(cpu) * 1000000 / $msgs" | bc -l)"
done
