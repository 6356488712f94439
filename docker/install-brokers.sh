#!/usr/bin/env bash
# Installs every broker binary that `provision: local` uses, on Debian/Ubuntu.
# Idempotent and fast when everything is already there.
#   redis-server      Redis 7 (Debian package)
#   rabbitmq-server   RabbitMQ 3.10 with the AMQP 1.0 plugin (Debian package)
#   tansu 0.6.0       Kafka-protocol broker from crates.io (cold build ~12 min on 2 cores)
#   qpid proton C     example broker and send/receive (/usr/share/proton/examples/c), a second AMQP 1.0 peer for tests
# Apache Kafka and ActiveMQ Artemis are not packaged by Debian: install them
# yourself and point KAFKA_HOME / ARTEMIS_HOME at them (see README).
set -euo pipefail

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server redis-tools)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need_apt+=(rabbitmq-server)
[ -f /usr/share/proton/examples/c/broker.c ] || need_apt+=(libqpid-proton11-dev-examples libqpid-proton11-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
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

TANSU_VERSION=0.6.0
if command -v tansu >/dev/null 2>&1 && tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  :
else
  echo "install-brokers: cargo install tansu $TANSU_VERSION (about 12 minutes on 2 cores)"
  # dynostore provides the memory:// storage engine; the default build lacks it.
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore
fi
echo "install-brokers: redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), rabbitmq $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null), $(tansu --version 2>/dev/null | head -1)"
