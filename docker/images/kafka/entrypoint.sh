#!/bin/sh
# Writes server.properties from the defaults below and the KAFKA_* variables
# (the official image's convention: KAFKA_LOG_DIRS -> log.dirs; `__` stands
# for `_` and `___` for `-` in a property name),
# formats the storage, then becomes the broker.
set -eu
conf=/var/lib/kafka/server.properties
port="${KAFKA_PORT:-9092}"
controller="${KAFKA_CONTROLLER_PORT:-9093}"
host="${KAFKA_ADVERTISED_HOST:-localhost}"
{
  echo "process.roles=broker,controller"
  echo "node.id=1"
  echo "controller.quorum.voters=1@127.0.0.1:$controller"
  echo "listeners=PLAINTEXT://0.0.0.0:$port,CONTROLLER://127.0.0.1:$controller"
  echo "advertised.listeners=PLAINTEXT://$host:$port"
  echo "controller.listener.names=CONTROLLER"
  echo "inter.broker.listener.name=PLAINTEXT"
  echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  echo "log.dirs=/var/lib/kafka/data"
  echo "num.partitions=1"
  echo "offsets.topic.replication.factor=1"
  echo "transaction.state.log.replication.factor=1"
  echo "transaction.state.log.min.isr=1"
  echo "share.coordinator.state.topic.replication.factor=1"
  echo "share.coordinator.state.topic.min.isr=1"
  echo "group.initial.rebalance.delay.ms=0"
  echo "delete.topic.enable=true"
  # Later lines win: the variables override the defaults.
  env | while IFS='=' read -r name value; do
    case "$name" in
      KAFKA_PORT|KAFKA_CONTROLLER_PORT|KAFKA_ADVERTISED_HOST|KAFKA_HEAP_OPTS|KAFKA_OPTS) ;;
      KAFKA_*) echo "$(echo "${name#KAFKA_}" | tr 'A-Z' 'a-z' | sed 's/___/-/g; s/__/\x01/g; s/_/./g; s/\x01/_/g')=$value" ;;
    esac
  done
} > "$conf"
# A cluster id is 16 random bytes in URL-safe base64 that does not start
# with `-` (the storage tool would read it as an option).
id="${CLUSTER_ID:-}"
while [ -z "$id" ] || [ "${id#-}" != "$id" ]; do
  id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
done
cp="/opt/kafka/libs/*"
java -Xmx256m -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties -cp "$cp" kafka.tools.StorageTool format --ignore-formatted -t "$id" -c "$conf" >/dev/null
# The JVM settings of `provision: local` unless KAFKA_HEAP_OPTS/KAFKA_OPTS say otherwise.
exec java ${KAFKA_HEAP_OPTS:--Xmx1g -Xms1g} ${KAFKA_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true} -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties -cp "$cp" kafka.Kafka "$conf"
