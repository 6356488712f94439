#!/usr/bin/env bash
# Installs every broker that `provision: local` starts, and the brokers' own
# benchmark tools, on Debian/Ubuntu. Idempotent and quick when present.
#
#   redis-server       Redis 7 (Debian package)
#   rabbitmq-server    RabbitMQ 3.10 with the AMQP 1.0 plugin (Debian package)
#   qpid proton C      example broker and send/receive (/usr/share/proton/examples/c),
#                      a second AMQP 1.0 peer for the tests
#   Apache Kafka       its jars from Maven Central (docker/maven/kafka/pom.xml),
#                      with kafka-tools (ProducerPerformance, ConsumerPerformance,
#                      EndToEndLatency), in $MQBENCH_BROKERS/kafka-$KAFKA_VERSION/libs
#   Apache Artemis     the `bin` distribution from Maven Central (bin/artemis, with
#                      `artemis perf`), in $MQBENCH_BROKERS/apache-artemis-$ARTEMIS_VERSION
#   ActiveMQ Classic   the `bin` distribution from Maven Central (its lib/ has the
#                      AMQP module that Debian's package lacks)
#   RabbitMQ PerfTest  com.rabbitmq:perf-test with its dependencies, for comparisons
#
# $MQBENCH_BROKERS (default /opt/mqbench) gets one versioned folder per broker
# and a stable link to it (kafka, artemis, activemq, perf-test), which is where
# `provision: local` looks when KAFKA_HOME, ARTEMIS_HOME or ACTIVEMQ_HOME is
# not set. The JVM brokers need Java 17 (openjdk-17-jre-headless is installed
# when no `java` is on PATH); the Rust build needs no JVM.
#
#   --tansu   also build tansu 0.6.0 from crates.io (`local_broker: tansu`,
#             a Kafka-protocol broker; about 12 minutes on 2 cores)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

with_tansu=0
for arg in "$@"; do
  case "$arg" in
    --tansu) with_tansu=1 ;;
    *) echo "install-brokers: unknown argument \`$arg\` (expected --tansu)" >&2; exit 2 ;;
  esac
done

KAFKA_VERSION=4.4.0
ARTEMIS_VERSION=2.40.0
ACTIVEMQ_VERSION=5.18.3
PERFTEST_VERSION=2.22.1
TANSU_VERSION=0.6.0
BROKERS="${MQBENCH_BROKERS:-/opt/mqbench}"

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server redis-tools)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need_apt+=(rabbitmq-server)
[ -f /usr/share/proton/examples/c/broker.c ] || need_apt+=(libqpid-proton11-dev-examples libqpid-proton11-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
# The kafka adapter's TLS (SASL_SSL): librdkafka builds against OpenSSL.
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
# ... and fetches OIDC tokens (OAUTHBEARER) with libcurl.
dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 || need_apt+=(libcurl4-openssl-dev)
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "install-brokers: apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Debian's packages start services where an init system runs; mqbench starts
# its own private instances, so stop any that came up.
# Only services that run are stopped: `service rabbitmq-server stop` runs
# rabbitmqctl, which starts an `epmd -daemon` on port 4369 that stays behind.
if command -v service >/dev/null 2>&1; then
  if pgrep -u redis redis-server >/dev/null 2>&1; then service redis-server stop >/dev/null 2>&1 || true; fi
  if pgrep -u rabbitmq beam.smp >/dev/null 2>&1; then service rabbitmq-server stop >/dev/null 2>&1 || true; fi
fi

mkdir -p "$BROKERS"

# mvn quietly, but say what was tried when it fails.
mvn_or_explain() {
  local what="$1"; shift
  local log; log="$(mktemp)"
  if ! mvn -B -q "$@" >"$log" 2>&1; then
    echo "install-brokers: could not fetch $what from Maven Central: mvn $*" >&2
    grep -E 'ERROR' "$log" | head -5 >&2 || tail -5 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

# A pom's runtime dependencies into DEST/libs (DEST appears only when complete).
install_jars() {
  local what="$1" pom="$2" dest="$3" marker="$4"
  if [ -f "$dest/libs/$marker" ]; then return; fi
  echo "install-brokers: $what into $dest (Maven Central)"
  local tmp="$dest.partial"
  rm -rf "$tmp"
  mvn_or_explain "$what" -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/libs"
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

# A `bin` tar.gz distribution from Maven Central, unpacked as DEST.
install_dist() {
  local what="$1" artifact="$2" dest="$3" check="$4"
  if [ -e "$dest/$check" ]; then return; fi
  echo "install-brokers: $what into $dest (Maven Central)"
  local tmp; tmp="$(mktemp -d)"
  mvn_or_explain "$what" dependency:copy -Dartifact="$artifact" -DoutputDirectory="$tmp"
  tar -xzf "$tmp"/*.tar.gz -C "$tmp"
  local top; top="$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -1)"
  rm -rf "$dest"
  mv "$top" "$dest"
  rm -rf "$tmp"
}

install_jars "Apache Kafka $KAFKA_VERSION" "$here/maven/kafka/pom.xml" \
  "$BROKERS/kafka-$KAFKA_VERSION" "kafka_2.13-$KAFKA_VERSION.jar"
install_jars "RabbitMQ PerfTest $PERFTEST_VERSION" "$here/maven/perf-test/pom.xml" \
  "$BROKERS/perf-test-$PERFTEST_VERSION" "perf-test-$PERFTEST_VERSION.jar"
install_dist "Apache ActiveMQ Artemis $ARTEMIS_VERSION" \
  "org.apache.activemq:apache-artemis:$ARTEMIS_VERSION:tar.gz:bin" \
  "$BROKERS/apache-artemis-$ARTEMIS_VERSION" bin/artemis
install_dist "Apache ActiveMQ Classic $ACTIVEMQ_VERSION" \
  "org.apache.activemq:apache-activemq:$ACTIVEMQ_VERSION:tar.gz:bin" \
  "$BROKERS/apache-activemq-$ACTIVEMQ_VERSION" bin/activemq
ln -sfn "kafka-$KAFKA_VERSION" "$BROKERS/kafka"
ln -sfn "perf-test-$PERFTEST_VERSION" "$BROKERS/perf-test"
ln -sfn "apache-artemis-$ARTEMIS_VERSION" "$BROKERS/artemis"
ln -sfn "apache-activemq-$ACTIVEMQ_VERSION" "$BROKERS/activemq"

if [ "$with_tansu" = 1 ]; then
  if command -v tansu >/dev/null 2>&1 && tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    :
  else
    echo "install-brokers: cargo install tansu $TANSU_VERSION (about 12 minutes on 2 cores)"
    # dynostore provides the memory:// storage engine; the default build lacks it.
    cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore
  fi
fi

echo "install-brokers: redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')," \
  "rabbitmq $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null)," \
  "kafka $KAFKA_VERSION, artemis $ARTEMIS_VERSION, activemq $ACTIVEMQ_VERSION, perf-test $PERFTEST_VERSION in $BROKERS" \
  "$( [ "$with_tansu" = 1 ] && tansu --version 2>/dev/null | head -1)"
