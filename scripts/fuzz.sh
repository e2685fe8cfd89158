#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 30) and
# prints one line per target with libFuzzer's execution count.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# New inputs go to a scratch directory (target/fuzz-scratch/<target>), so the
# committed seed corpora in fuzz/corpus stay small. Installs cargo-fuzz when
# missing. Stable Rust works: RUSTC_BOOTSTRAP=1 unlocks the sanitizer flags.
# Exits non-zero when a target crashes (its input lands in fuzz/artifacts/).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-30}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
    targets=(frame response request record_batch group_machine)
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz --version 0.13.2 >&2
fi

export RUSTC_BOOTSTRAP=1
cd "$root/fuzz"
status=0
for target in "${targets[@]}"; do
    scratch="$root/target/fuzz-scratch/$target"
    mkdir -p "$scratch"
    log="$root/target/fuzz-scratch/$target.log"
    if cargo fuzz run "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        status=1
        tail -n 40 "$log" >&2
    fi
    execs="$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')"
    echo "fuzz: $target ${seconds}s ${execs:-?} execs $result"
done
exit "$status"
