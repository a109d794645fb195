#!/usr/bin/env bash
# Playback benchmark (issue 17, item 5): how fast camvault makes a camera's clip playable in
# a browser, and how soon the first frame can be shown, old settings against new.
#
#   bench/playback.sh                 # a 120 s 2304x1296 HEVC/A-law clip like the cameras'
#   SECS=30 bench/playback.sh         # a shorter one
#   bench/playback.sh old superfast   # only the variants whose names contain these
#
# The clip is made once with ffmpeg (testsrc2 with light temporal noise, like a sensor's,
# HEVC at 2 Mbit/s with a 2 s GOP, A-law 8 kHz audio in a MOV container, as the Xiaomi
# cameras write) under $BENCH_DIR; results go to stdout. Run it on an idle machine.
set -euo pipefail
BENCH_DIR=${BENCH_DIR:-/tmp/camvault-bench-playback}
SECS=${SECS:-120}
SIZE=${SIZE:-2304x1296}
RUNS=${RUNS:-1}
mkdir -p "$BENCH_DIR"
CLIP="$BENCH_DIR/camera-${SIZE}-${SECS}s.mov"
if [ ! -s "$CLIP" ]; then
  ffmpeg -y -loglevel error -f lavfi -i "testsrc2=duration=${SECS}:size=${SIZE}:rate=20" \
    -f lavfi -i "sine=frequency=440:duration=${SECS}:sample_rate=8000" \
    -vf "noise=alls=6:allf=t" -c:a pcm_alaw -c:v libx265 -preset ultrafast -b:v 2M -tag:v hvc1 \
    -x265-params log-level=error:keyint=40 -f mov "$CLIP.part"
  mv "$CLIP.part" "$CLIP"
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(ffmpeg -version | head -1)"
python3 "$(dirname "$0")/playback.py" "$CLIP" "$RUNS" "$@"
