#!/usr/bin/env bash
# The video index benchmark (docs/benchmarks.md, "Video index"): generated HEVC clips at the
# cameras' 2304×1296 / 20 fps with known truth (moving objects in known zones at known times)
# and control clips (sensor noise, compression flicker, IR switch, slow light change);
# prints precision/recall, zone attribution, CPU-seconds per hour of footage and the ratio
# to real time. BENCH_SECS (default 16, the truth fits in it) sets each clip's length,
# BENCH_SIZE the resolution. Everything runs at nice 10 (the indexer's own ffmpeg at 19), so
# on a shared 2-core box it finishes in about 10-30 minutes at 2304×1296 instead of
# starving others. Then the search timing over ≈2.6 M generated segments (BENCH_ROWS).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
nice -n 10 cargo test --release --test index -- --ignored --nocapture bench_ 2>&1 | grep -E "BENCH|segments|zones|panicked|test result"
