#!/usr/bin/env bash
# CI: a short libFuzzer run of every fuzz target in fuzz/ (cargo-fuzz, nightly), each
# starting from its committed corpus; fails if any target finds a crash (a panic, a
# timeout, or running out of memory). See fuzz/README.md.
#
#   FUZZ_SECONDS=20   run time per target (5 targets)
#   FUZZ_TARGETS="a b" only these targets
#
# New inputs the run finds go to a scratch directory, never into the committed corpus.
# A crash is saved under fuzz/artifacts/<target>/ (upload it as a CI artifact) and
# reproduced with `cargo +nightly fuzz run <target> <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-20}"

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
failed=()
for target in $TARGETS; do
  dict=()
  case "$target" in
    *json | order_body) dict=(-dict=dict/json.dict) ;;
  esac
  mkdir -p "$scratch/$target"
  echo "== fuzz $target for ${FUZZ_SECONDS}s"
  # First corpus directory: where new inputs go; the committed one is only read.
  if cargo +nightly fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 ${dict[@]+"${dict[@]}"} >"$scratch/$target.log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$scratch/$target.log" || true
  else
    tail -n 60 "$scratch/$target.log"
    failed+=("$target")
  fi
done

if ((${#failed[@]})); then
  echo "fuzzing found crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
echo "== fuzzing: no crash"
