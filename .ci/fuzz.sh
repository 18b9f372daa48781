#!/usr/bin/env bash
# CI: a libFuzzer run of every fuzz target in fuzz/ (cargo-fuzz, nightly), each
# starting from its committed corpus; fails if any target finds a crash (a panic, a
# timeout, or running out of memory). See fuzz/README.md.
#
#   FUZZ_RUNS=3000000  executions cap per target
#   FUZZ_SECONDS=130   time cap per target: a target stops at whichever comes first
#                      (the fast bincode targets run past 2·10^6 while the JSON ones
#                      stay under it: about 10^7 in all, ~6.5 minutes at most)
#   FUZZ_JOBS=2        targets fuzzed at once (each is one process on one core)
#   FUZZ_TARGETS="a b" only these targets
#
# On two idle cores the 10^7 executions take about 4-5 minutes after the build (the
# rates per target are in docs/BENCHMARKS.md "Fuzzing"); on a slower or busier machine
# the time cap stops a target short and the total printed at the end says so.
#
# New inputs the run finds go to a scratch directory, never into the committed corpus.
# A crash is saved under fuzz/artifacts/<target>/ (upload it as a CI artifact) and
# reproduced with `cargo +nightly fuzz run <target> <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_RUNS="${FUZZ_RUNS:-3000000}"
FUZZ_SECONDS="${FUZZ_SECONDS:-130}"
FUZZ_JOBS="${FUZZ_JOBS:-2}"

if ! command -v cargo >/dev/null 2>&1; then
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
# libFuzzer's instrumentation (-Z sanitizer, -C passes=sancov) needs nightly.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

cd fuzz
TARGETS="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"
echo "== cargo fuzz build"
cargo +nightly fuzz build

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# One target: its log in $scratch/<target>.log, its exit status in <target>.rc.
fuzz_one() {
  local target="$1" dict=()
  case "$target" in
    *json | order_body) dict=(-dict=dict/json.dict) ;;
  esac
  mkdir -p "$scratch/$target"
  # First corpus directory: where new inputs go; the committed one is only read.
  local rc=0
  cargo +nightly fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
    -runs="$FUZZ_RUNS" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 ${dict[@]+"${dict[@]}"} >"$scratch/$target.log" 2>&1 || rc=$?
  echo "$rc" >"$scratch/$target.rc"
}

echo "== fuzz $(echo "$TARGETS" | wc -w) targets, $FUZZ_RUNS executions or ${FUZZ_SECONDS}s each, $FUZZ_JOBS at once"
start=$SECONDS
running=0
for target in $TARGETS; do
  if ((running >= FUZZ_JOBS)); then
    wait -n || true
    running=$((running - 1))
  fi
  fuzz_one "$target" &
  running=$((running + 1))
done
wait

failed=()
total=0
for target in $TARGETS; do
  log="$scratch/$target.log"
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  if [ "$(cat "$scratch/$target.rc")" != 0 ]; then
    echo "-- $target: FAILED"
    tail -n 60 "$log"
    failed+=("$target")
  fi
  printf '%-24s %10s executions %7s/s\n' "$target" "${runs:-?}" "${rate:-?}"
  total=$((total + ${runs:-0}))
done
echo "== fuzz total: $total executions in $((SECONDS - start))s (goal 10^7 in all; caps $FUZZ_RUNS executions or ${FUZZ_SECONDS}s per target)"

if ((${#failed[@]})); then
  echo "fuzzing found crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
echo "== fuzzing: no crash"
