#!/usr/bin/env bash
# Builds the images that `provision: container` starts, and the mqbench
# image, without a container registry (Debian/Ubuntu, as root).
#
#   docker/images.sh                 the broker images: redis, rabbitmq, kafka, artemis
#   docker/images.sh mqbench         the mqbench image (MQBENCH_BIN, default
#                                    target/release/mqbench, is the binary it holds)
#   docker/images.sh NAME...         any of: base jre redis rabbitmq kafka artemis mqbench
#
# What it does, each step skipped when already done:
#   - installs Debian's docker.io (Docker Engine), mmdebstrap and
#     docker-compose where they are missing;
#   - starts `dockerd` when no engine answers, and LEAVES IT RUNNING (its
#     log is /var/log/mqbench-dockerd.log; stop it with `pkill -x dockerd`
#     when you want it gone). Tests and later runs reuse it;
#   - makes the Debian bookworm base image mqbench/debian-base:bookworm
#     offline with mmdebstrap from the machine's apt mirror (no registry is
#     needed; where one is reachable, BASE=debian:bookworm-slim works too);
#   - builds each image FROM that base. Every image carries the label
#     org.mqbench.recipe, a hash of its Dockerfile, its files, its base and
#     the broker distribution it copies: an image whose recipe has not
#     changed is not built again.
#
# The Kafka and Artemis images copy the distributions that
# docker/install-brokers.sh fetched into $MQBENCH_BROKERS (default
# /opt/mqbench): nothing is downloaded twice. Both share one JRE layer
# (mqbench/jre:17).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
BROKERS="${MQBENCH_BROKERS:-/opt/mqbench}"
BASE="${BASE:-mqbench/debian-base:bookworm}"
TAG="${MQBENCH_IMAGE_TAG:-latest}"
export DOCKER_BUILDKIT=0 # the classic builder: no buildx plugin needed
say() { echo "images: $*"; }

ensure_engine() {
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
  # docker/compose.yaml's test runs through Debian's docker-compose.
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  if [ "${#need[@]}" -gt 0 ]; then
    say "apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  if docker info >/dev/null 2>&1; then return; fi
  say "starting dockerd (left running; log in /var/log/mqbench-dockerd.log)"
  # setsid: the engine must not be stopped with this script's process group.
  setsid dockerd >/var/log/mqbench-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 60); do
    if docker info >/dev/null 2>&1; then return; fi
    sleep 0.5
  done
  echo "images: dockerd did not come up in 30 s; its log ends with:" >&2
  tail -5 /var/log/mqbench-dockerd.log >&2
  exit 1
}

# The recipe label of an image, empty when there is no such image.
recipe_of() { docker image inspect -f '{{index .Config.Labels "org.mqbench.recipe"}}' "$1" 2>/dev/null || true; }
hash_of() { sha256sum | cut -c1-16; }

# The first Debian mirror (and its security mirror) of the apt sources.
mirrors() {
  local uris
  uris="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE 'https?://[^ ]*debian[^ ]*' | sort -u || true)"
  local main security
  main="$(echo "$uris" | grep -v security | head -1)"
  security="$(echo "$uris" | grep security | head -1)"
  echo "deb ${main:-http://deb.debian.org/debian} bookworm main"
  echo "deb ${main:-http://deb.debian.org/debian} bookworm-updates main"
  [ -n "$security" ] && echo "deb $security bookworm-security main"
  return 0
}

build_base() {
  if [ "$BASE" != mqbench/debian-base:bookworm ]; then return; fi
  local sources recipe
  sources="$(mirrors)"
  recipe="$(printf 'mmdebstrap minbase bookworm\n%s\n' "$sources" | hash_of)"
  if [ "$(recipe_of "$BASE")" = "$recipe" ]; then return; fi
  say "making $BASE offline with mmdebstrap (about a minute)"
  local args=()
  while IFS= read -r line; do args+=("$line"); done <<<"$sources"
  mmdebstrap --quiet --variant=minbase bookworm - "${args[@]}" |
    docker import --change "LABEL org.mqbench.recipe=$recipe" - "$BASE" >/dev/null
}

# build NAME FROM [DIST_DIR [SOFTWARE]]: docker build of docker/images/NAME,
# with DIST_DIR as dist/ in its context; FROM (the base's id) and the
# distribution's files are part of the recipe. SOFTWARE becomes the label
# org.mqbench.software, where the broker's protocol does not name it.
build() {
  local name="$1" from="$2" dist="${3:-}" software="${4:-}"
  local dir="$here/images/$name" image="mqbench/$name:$TAG"
  [ "$name" = jre ] && image="mqbench/jre:17"
  local recipe
  recipe="$( {
    echo "$from $software"
    (cd "$dir" && tar -c --sort=name --mtime=@0 --owner=0 --group=0 .)
    if [ -n "$dist" ]; then basename "$dist"; (cd "$dist" && find . -type f | sort); fi
  } | hash_of)"
  if [ "$(recipe_of "$image")" = "$recipe" ]; then
    say "$image is up to date"
    return
  fi
  say "building $image"
  local start=$SECONDS
  # The context goes to the engine as a tar stream: the distribution is
  # read in place (as dist/), never copied on disk.
  local tar_args=(-c -C "$dir" .)
  if [ -n "$dist" ]; then
    tar_args+=(-C "$(dirname "$dist")" --transform "s,^$(basename "$dist"),dist," "$(basename "$dist")")
  fi
  local log
  log="$(mktemp)"
  if ! tar -h "${tar_args[@]}" |
    docker build -t "$image" --label "org.mqbench.recipe=$recipe" --label "org.mqbench.software=$software" \
      --build-arg "BASE=$BASE" --build-arg "JRE=mqbench/jre:17" - >"$log" 2>&1; then
    echo "images: building $image failed; the build's log ends with:" >&2
    tail -15 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  say "built $image in $((SECONDS - start)) s"
}

image_id() { docker image inspect -f '{{.Id}}' "$1"; }

# The mqbench image: the binary and the scenarios in a throwaway context.
build_mqbench() {
  local bin="${MQBENCH_BIN:-$root/target/release/mqbench}"
  if [ ! -x "$bin" ]; then
    echo "images: no mqbench binary at $bin: run \`cargo build --release\` or set MQBENCH_BIN" >&2
    exit 1
  fi
  local ctx
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' RETURN
  mkdir "$ctx/mqbench"
  # A hard link where possible: the binary is large.
  ln "$bin" "$ctx/mqbench/mqbench" 2>/dev/null || cp "$bin" "$ctx/mqbench/mqbench"
  cp -r "$root/scenarios" "$ctx/mqbench/scenarios"
  local content
  content="$(cd "$ctx/mqbench" && find . -type f -print0 | sort -z | xargs -0 sha256sum | hash_of)"
  build mqbench "$(image_id "$BASE") $content" "$ctx/mqbench"
}

wanted=("$@")
[ "${#wanted[@]}" -gt 0 ] || wanted=(redis rabbitmq kafka artemis)
ensure_engine
build_base
for name in "${wanted[@]}"; do
  case "$name" in
    base) ;;
    jre) build jre "$(image_id "$BASE")" ;;
    redis | rabbitmq) build "$name" "$(image_id "$BASE")" ;;
    kafka | artemis)
      build jre "$(image_id "$BASE")"
      dist="$BROKERS/$name"
      if [ ! -d "$dist" ]; then
        echo "images: $dist is missing: run docker/install-brokers.sh first" >&2
        exit 1
      fi
      dist="$(cd "$dist" && pwd -P)"
      version="${dist##*-}"
      case "$name" in
        kafka) software="apache kafka $version" ;;
        artemis) software="apache-activemq-artemis $version" ;;
      esac
      build "$name" "$(image_id mqbench/jre:17)" "$dist" "$software"
      ;;
    mqbench) build_mqbench ;;
    *) echo "images: unknown image \`$name\` (expected base jre redis rabbitmq kafka artemis mqbench)" >&2; exit 2 ;;
  esac
done
