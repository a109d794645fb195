#!/usr/bin/env bash
# The video index benchmark (docs/benchmarks.md, "Video index"): generated HEVC clips at the
# cameras' 2304×1296 / 20 fps with known truth (moving objects in known zones at known times)
# and control clips (sensor noise, compression flicker, IR switch, slow light change);
# prints precision/recall, zone attribution, CPU-seconds per hour of footage and the ratio
# to real time. BENCH_SECS (default 30) sets each clip's length, BENCH_SIZE the resolution.
# Then the search timing over ≈2.6 M generated segments (BENCH_ROWS).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo test --release --test index -- --ignored --nocapture bench_ 2>&1 | grep -E "BENCH|segments|zones|panicked|test result"
