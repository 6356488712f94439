#!/usr/bin/env bash
# The nightly regression gate, as .github/workflows/nightly.yml runs it and
# as anyone can run it by hand (docs/nightly.md):
#
#   scripts/nightly.sh --baseline FILE [--out DIR] [--make-baseline] [-- RUN-ARGS...]
#
# Runs the nightly scenario with `mqbench run` (RUN-ARGS are passed on, e.g.
# `--broker loopback` or `--set duration=3s`), then judges its results
# against the baseline with `mqbench compare`, writing DIR/compare.md. With
# GITHUB_STEP_SUMMARY set (GitHub Actions), the comparison and report.md are
# appended to the job summary. --make-baseline stores the run's results as
# the baseline instead of comparing.
#
# Exit status: compare's (0 passed, 3 regression, 1 bad input), 1 when there
# is no baseline or the run left no results, and 0 after --make-baseline.
#
# Environment: MQBENCH (the binary; default target/release/mqbench, built
# if missing), SCENARIO (default scenarios/nightly.yaml), THRESHOLD (passed
# to compare; its default is compare's own, set from measured noise:
# docs/nightly.md).
set -euo pipefail
cd "$(dirname "$0")/.."

baseline="" out="results/nightly" make_baseline=0
run_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline="${2:?--baseline needs a file}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --make-baseline) make_baseline=1; shift ;;
    --) shift; run_args=("$@"); break ;;
    *) echo "nightly.sh: unknown argument '$1' (see the usage at the top of $0)" >&2; exit 1 ;;
  esac
done
if [ -z "$baseline" ]; then
  echo "nightly.sh: --baseline FILE is required (the stored results to judge against)" >&2
  exit 1
fi
if [ "$make_baseline" = 0 ] && [ ! -f "$baseline" ]; then
  echo "nightly.sh: no baseline at $baseline: make one on the same kind of machine with" >&2
  echo "  scripts/nightly.sh --baseline $baseline --make-baseline" >&2
  exit 1
fi

mqbench="${MQBENCH:-target/release/mqbench}"
if [ ! -x "$mqbench" ]; then
  echo "nightly.sh: building $mqbench"
  cargo build --release --quiet
fi
scenario="${SCENARIO:-scenarios/nightly.yaml}"

rm -rf "$out"
# A failed point is recorded in the results and judged by compare ("now
# fails"), so run's own exit status does not stop the gate; missing results
# do.
set +e
"$mqbench" run "$scenario" --out "$out" --no-progress "${run_args[@]}"
run_status=$?
set -e
if [ ! -f "$out/results.json" ]; then
  echo "nightly.sh: the run (exit $run_status) wrote no $out/results.json" >&2
  exit 1
fi

if [ "$make_baseline" = 1 ]; then
  mkdir -p "$(dirname "$baseline")"
  cp "$out/results.json" "$baseline"
  echo "nightly.sh: baseline written to $baseline (run exit $run_status)"
  exit 0
fi

threshold="${THRESHOLD:-throughput=40%,p99=100%}"
set +e
"$mqbench" compare "$baseline" "$out/results.json" --threshold "$threshold" --markdown "$out/compare.md"
status=$?
set -e
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  {
    echo "# Nightly: mqbench compare (exit $status)"
    echo
    [ -f "$out/compare.md" ] && cat "$out/compare.md"
    echo
    [ -f "$out/report.md" ] && cat "$out/report.md"
  } >> "$GITHUB_STEP_SUMMARY"
fi
case "$status" in
  0) echo "nightly.sh: no regression" ;;
  3) echo "nightly.sh: regression (see $out/compare.md)" >&2 ;;
  *) echo "nightly.sh: compare could not judge (exit $status)" >&2 ;;
esac
exit "$status"
