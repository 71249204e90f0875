#!/usr/bin/env bash
# Runs each libFuzzer target of tests/fuzz for SECONDS, seeded with the repository's corpus
# (tests/fuzz/corpus/<target>, only read); the inputs it finds go to build/fuzz/corpus/<target>,
# anything that crashes to build/fuzz/crashes/. Prints executions per target; exit 1 on a finding.
#   bash tests/fuzz/run.sh BUILD_DIR [SECONDS]
#   bash tests/fuzz/run.sh BUILD_DIR runs:N    N inputs per target from seed 1 (make test: the same
#                                              inputs on every run, so the test is repeatable)
set -uo pipefail
BUILD=${1:?usage: run.sh BUILD_DIR [SECONDS]}
SECONDS_EACH=${2:-60}
if [[ $SECONDS_EACH == runs:* ]]; then
  LIMIT=(-runs="${SECONDS_EACH#runs:}" -seed=1)
  WHAT="${SECONDS_EACH#runs:} inputs per target, seed 1"
else
  LIMIT=(-max_total_time="$SECONDS_EACH")
  WHAT="$SECONDS_EACH s per target"
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGETS=(fuzz_safetensors fuzz_bundle_config fuzz_json fuzz_idx fuzz_image fuzz_digit_files fuzz_config_toml)
mkdir -p "$BUILD/crashes"
failed=()
printf 'fuzz: %s\n' "$WHAT"
for t in "${TARGETS[@]}"; do
  mkdir -p "$BUILD/corpus/$t"
  log="$BUILD/$t.log"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$BUILD/bin/$t" "${LIMIT[@]}" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$BUILD/crashes/$t-" "$BUILD/corpus/$t" "$ROOT/tests/fuzz/corpus/$t" > "$log" 2>&1
  rc=$?
  runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    printf '  %-20s ok     %10s executions, %s, corpus %s files\n' "$t" "${runs:-?}" "${cov:-cov: ?}" "$(ls "$BUILD/corpus/$t" | wc -l)"
  else
    printf '  %-20s FAILED (exit %s): see %s\n' "$t" "$rc" "$log"
    grep -m3 -E 'ERROR|SUMMARY|terminate|uncaught' "$log" | sed 's/^/      /'
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) found a problem: ${failed[*]} (inputs in $BUILD/crashes/)"
  exit 1
fi
echo "fuzz: all ${#TARGETS[@]} targets ran clean"
