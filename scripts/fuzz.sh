#!/usr/bin/env bash
# Fuzz the ciphertext envelope parser and decryption (fuzz/fuzz_targets/envelope.rs) with
# libFuzzer on the stable toolchain: the same coverage flags cargo-fuzz passes, and
# RUSTC_BOOTSTRAP for the one unstable flag libfuzzer-sys needs.
# Usage: scripts/fuzz.sh [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
target="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
cargo build --release --target "$target" --target-dir target/cov
mkdir -p corpus/envelope
"target/cov/$target/release/envelope" corpus/envelope -max_total_time="$seconds"
