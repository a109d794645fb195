#!/usr/bin/env bash
# The object detector's cost (docs/benchmarks.md, "Video index"): builds a YOLOv8n-sized
# model with random weights (bench/yolo_model.py, needs the `onnx` and `numpy` Python
# packages) and times loading it and running it on a 2304×1296 frame: ms per frame.
# BENCH_FRAMES (default 10) frames; PYTHON picks the interpreter (default the test venv).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
PY="${PYTHON:-${CAMVAULT_TEST_PYTHON:-.venv-test/bin/python}}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$PY" bench/yolo_model.py "$tmp/yolov8n-random.onnx"
BENCH_MODEL="$tmp/yolov8n-random.onnx" cargo test --test detector -- --ignored --nocapture bench_detector 2>&1 |
    grep -E "BENCH|panicked|test result"
