#!/usr/bin/env bash
# The project's test command (README "Run the tests"), self-sufficient on a
# fresh Debian/Ubuntu machine with Rust: installs what the tests need
# (idempotent, quick when present), then runs every unit and integration
# test, including those that start real brokers as local processes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
dpkg -s libfontconfig1-dev >/dev/null 2>&1 || need+=(libfontconfig1-dev)
# librdkafka's TLS (SASL_SSL, SCRAM) builds against the system OpenSSL.
dpkg -s libssl-dev >/dev/null 2>&1 || need+=(libssl-dev)
# ... and fetches OIDC tokens (OAUTHBEARER) with the system libcurl.
dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 || need+=(libcurl4-openssl-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [ "${#need[@]}" -gt 0 ]; then
  echo "test.sh: apt-get install ${need[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
$SUDO bash docker/install-brokers.sh
# The broker images of `provision: container` (tests/container.rs): starts
# dockerd when it is not running and leaves it running; builds each image
# only when its recipe changed.
$SUDO bash docker/images.sh
# Broker tests each start their own broker; two at a time is what 2 cores carry.
cargo test -- --test-threads=2
