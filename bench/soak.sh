#!/usr/bin/env bash
# camvault soak: `serve` running for a long time, sampled from /proc (issue 20).
#
#   bench/soak.sh                         # 30 minutes busy + 10 idle, fs store then S3 (moto)
#   SOAK_MIN=5 IDLE_MIN=3 bench/soak.sh   # a shorter run
#   STORES=fs SPEEDUP=720 bench/soak.sh   # time-accelerated: each real second is 12 minutes
#
# Per store: a fresh `camvault init`, an inbox preloaded with PRELOAD files in PRELOAD_DIRS
# hour folders (the "10,000 files in 200 folders" of the issue), then `serve` (release
# build) with everything on: uploads and verification, the web interface and /metrics
# (scraped every sample), thumbnails (the clips are real H.264 made by ffmpeg), alerts
# (a channel to a local HTTP sink; `health.max_rss` set low so the `resources` rule fires and
# alerts are really sent), manifests, catalog backups and the hourly jobs.
# A camera simulator writes a clip every INTERVAL seconds for SOAK_MIN minutes, alternating
# the two Xiaomi layouts: old `xiaomi_camera_videos/<MAC>/<YYYYMMDDHH>/<MM>M<SS>S_<unix>.mp4`
# written at once, new `XiaomiCamera_00_<MAC>/00_<start>_<end>.mp4` grown in three bursts.
# Then IDLE_MIN minutes with nothing arriving. Every SAMPLE seconds: RSS, CPU ticks, open
# files and threads of `serve` from /proc/<pid>/{stat,fd}.
#
# SPEEDUP > 1 sets CAMVAULT_BENCH_SPEEDUP for `serve` (src/clock.rs, honoured only with
# CAMVAULT_BENCH=1): its clock runs SPEEDUP times faster and its hourly jobs (manifests,
# catalog backup, scheduled verification, tiering, drills) run SPEEDUP times as often, so
# a 60-minute run at 720 covers a simulated month.
#
# Prints the curve's start, peak and end, and the idle CPU; writes the table into
# docs/benchmarks.md between `<!-- soak-<stores>[-accelerated]:begin/end -->` markers (added
# at the end the first time), with the commit measured.
#
# Environment (defaults in brackets):
#   SOAK_MIN [30] IDLE_MIN [10] INTERVAL [2] SAMPLE [5] SPEEDUP [1]
#   PRELOAD [10000] PRELOAD_DIRS [200]  finished files in the inbox before serve starts
#   STORES ["fs s3"]   BENCH_DIR [/tmp/camvault-soak]   WRITE_DOCS [1]
#   LABEL [soak-<stores>]  the name of the block in docs/benchmarks.md
#   CAMVAULT           a camvault binary (default: target/release/camvault, built if missing)
#   VENV [/work/venv-test]  Python with moto[server] (moto_server) for the S3 run
set -euo pipefail

SOAK_MIN=${SOAK_MIN:-30}
IDLE_MIN=${IDLE_MIN:-10}
INTERVAL=${INTERVAL:-2}
SAMPLE=${SAMPLE:-5}
SPEEDUP=${SPEEDUP:-1}
PRELOAD=${PRELOAD:-10000}
PRELOAD_DIRS=${PRELOAD_DIRS:-200}
STORES=${STORES:-"fs s3"}
BENCH_DIR=${BENCH_DIR:-/tmp/camvault-soak}
WRITE_DOCS=${WRITE_DOCS:-1}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-/work/venv-test}
PY=$VENV/bin/python

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$BENCH_DIR" in "" | / | /tmp | /root | /home | "$HOME" | "$REPO") die "refusing BENCH_DIR=$BENCH_DIR" ;; esac
for v in SOAK_MIN IDLE_MIN INTERVAL SAMPLE SPEEDUP PRELOAD PRELOAD_DIRS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
(( INTERVAL >= 1 && SAMPLE >= 1 && SPEEDUP >= 1 && PRELOAD_DIRS >= 1 )) || die "INTERVAL, SAMPLE, SPEEDUP, PRELOAD_DIRS must be at least 1"
command -v ffmpeg >/dev/null || die "ffmpeg is needed to make the clips (apt-get install ffmpeg)"
[[ -x $PY ]] || die "no Python at $PY; set VENV"

if [[ -z ${CAMVAULT:-} ]]; then
  CAMVAULT=$REPO/target/release/camvault
  [[ -x $CAMVAULT ]] || (cd "$REPO" && cargo build --release) || die "cargo build --release failed"
fi
COMMIT=$(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- src || echo "+dirty")
HZ=$(getconf CLK_TCK)
PAGE=$(getconf PAGESIZE)

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/clips"
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A few real clips (thumbnails need a decodable frame); the simulator writes copies.
log "making clips with ffmpeg"
for i in 0 1 2 3; do
  ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i "testsrc=duration=4:size=320x240:rate=10" \
    -vf "hue=h=$((i * 90))" -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$BENCH_DIR/clips/$i.mp4"
done

# The camera simulator and the alert sink, in Python.
cat >"$BENCH_DIR/camera.py" <<'EOF'
"""Writes a clip every INTERVAL s for DURATION s, alternating the two Xiaomi layouts."""
import os, random, sys, time
inbox, interval, duration, clips = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
data = [open(c, "rb").read() for c in clips]
OLD, NEW = "78DF72A1B2C3", "5C02148A9E01"
end, n = time.time() + duration, 0
while time.time() < end:
    t = int(time.time())
    body = data[n % len(data)] + os.urandom(64)  # distinct bytes, still a decodable MP4
    if n % 2 == 0:
        lt = time.gmtime(t)
        d = os.path.join(inbox, "xiaomi_camera_videos", OLD, time.strftime("%Y%m%d%H", lt))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, time.strftime("%MM%SS", lt) + "_%d.mp4" % t), "wb") as f:
            f.write(body)
    else:
        d = os.path.join(inbox, "XiaomiCamera_00_" + NEW)
        os.makedirs(d, exist_ok=True)
        name = "00_%s_%s.mp4" % (time.strftime("%Y%m%d%H%M%S", time.gmtime(t)), time.strftime("%Y%m%d%H%M%S", time.gmtime(t + 60)))
        with open(os.path.join(d, name), "wb") as f:
            third = len(body) // 3 + 1
            for i in range(3):  # grows in bursts, as the C700 appends
                f.write(body[i * third:(i + 1) * third]); f.flush()
                time.sleep(min(0.4, interval / 4))
    n += 1
    time.sleep(max(0.0, interval - (time.time() - t)))
print(n)
EOF
cat >"$BENCH_DIR/sink.py" <<'EOF'
"""Accepts every POST (an alert channel) and counts them in a file."""
import http.server, sys
count = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(count, "a") as f: f.write("1\n")
        self.send_response(200); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF

# set_key FILE SECTION KEY VALUE: sets `key = value` in [section] (the init template's keys).
set_key() {
  awk -v sec="[$2]" -v key="$3" -v val="$4" '
    /^\[/ { cur = $0 }
    cur == sec && index($0, key " = ") == 1 { $0 = key " = " val; done = 1 }
    { print }
    END { if (!done) exit 3 }' "$1" >"$1.new" || die "cannot set $2.$3 in $1 (did the init template change?)"
  mv "$1.new" "$1"
}

stat_of() { # pid -> "ticks rss_kb threads fds"
  local s rest
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${s##*) }
  # shellcheck disable=SC2086
  set -- $rest
  echo "$(( ${12} + ${13} )) $(( ${22} * PAGE / 1024 )) ${18} $(ls "/proc/$PID/fd" 2>/dev/null | wc -l)"
}

RESULTS=()
soak_one() {
  local store=$1 dir=$BENCH_DIR/$1 cfg
  mkdir -p "$dir"
  "$CAMVAULT" init --dir "$dir" >/dev/null
  cfg=$dir/camvault.toml
  local http_port sink_port
  http_port=$(free_port) sink_port=$(free_port)
  set_key "$cfg" capture timezone '"UTC"'
  set_key "$cfg" capture settle_secs 10
  set_key "$cfg" cache max_days 36500
  set_key "$cfg" cache min_free 0
  set_key "$cfg" http enabled true
  set_key "$cfg" http listen "\"127.0.0.1:$http_port\""
  set_key "$cfg" health max_rss '"16 MiB"'
  set_key "$cfg" health resource_minutes 1
  set_key "$cfg" alerts interval_secs 30
  printf '\n[[alerts.channel]]\nname = "sink"\nkind = "ntfy"\nurl = "http://127.0.0.1:%s/camvault"\n' "$sink_port" >>"$cfg"
  "$PY" "$BENCH_DIR/sink.py" "$sink_port" "$dir/alerts.count" & PIDS+=($!)
  if [[ $store == s3 ]]; then
    local port
    port=$(free_port)
    setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 & PIDS+=($!)
    for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    "$PY" -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$port', region_name='us-east-1', aws_access_key_id='AKIDSOAK', aws_secret_access_key='soak-secret').create_bucket(Bucket='soak')" ||
      die "cannot create the bucket on moto"
    printf 'access_key_id = AKIDSOAK\nsecret_access_key = soak-secret\n' >"$dir/s3.key"
    chmod 600 "$dir/s3.key"
    set_key "$cfg" store kind '"s3"'
    set_key "$cfg" store.s3 endpoint "\"http://127.0.0.1:$port\""
    set_key "$cfg" store.s3 bucket '"soak"'
    set_key "$cfg" store.s3 path_style true
    set_key "$cfg" store.s3 credentials_file '"s3.key"'
  fi
  log "$store: preloading $PRELOAD files in $PRELOAD_DIRS folders"
  "$PY" - "$dir/inbox" "$PRELOAD" "$PRELOAD_DIRS" <<'EOF'
import os, sys, time
inbox, n, dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = int(time.time()) - 60 * 86400
for i in range(n):
    t = t0 + (i % dirs) * 3600 + (i // dirs) % 3600
    d = os.path.join(inbox, "xiaomi_camera_videos", "78DF72A1B2C3", time.strftime("%Y%m%d%H", time.gmtime(t)))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, time.strftime("%MM%SS", time.gmtime(t)) + "_%d.mp4" % t)
    with open(p, "wb") as f: f.write(b"old clip %d" % i)
    os.utime(p, (t, t))
EOF

  local env=(CAMVAULT_CONFIG="$cfg")
  (( SPEEDUP > 1 )) && env+=(CAMVAULT_BENCH=1 CAMVAULT_BENCH_SPEEDUP="$SPEEDUP")
  env "${env[@]}" "$CAMVAULT" --config "$cfg" serve 2>"$dir/serve.log" & PID=$!
  PIDS+=($PID)
  local csv=$dir/samples.csv t0 busy_end idle_end now phase=busy
  echo "secs,phase,rss_kb,cpu_ticks,threads,open_fds" >"$csv"
  t0=$(date +%s)
  busy_end=$(( t0 + SOAK_MIN * 60 )) idle_end=$(( t0 + SOAK_MIN * 60 + IDLE_MIN * 60 ))
  "$PY" "$BENCH_DIR/camera.py" "$dir/inbox" "$INTERVAL" "$(( SOAK_MIN * 60 ))" "$BENCH_DIR"/clips/*.mp4 >"$dir/camera.out" & PIDS+=($!)
  local cam_pid=$! idle_ticks0="" idle_t0="" last=""
  log "$store: serve pid $PID, busy for $SOAK_MIN min then idle for $IDLE_MIN min"
  while :; do
    now=$(date +%s)
    (( now >= idle_end )) && break
    kill -0 "$PID" 2>/dev/null || die "$store: serve exited: $(tail -5 "$dir/serve.log")"
    if [[ $phase == busy ]] && (( now >= busy_end )); then
      phase=idle
    fi
    last=$(stat_of "$PID") || die "$store: cannot read /proc/$PID"
    read -r ticks rss threads fds <<<"$last"
    if [[ $phase == idle && -z $idle_ticks0 ]] && (( now >= busy_end + 60 )); then
      # Idle CPU is counted from a minute after the last clip: it settles and uploads first.
      idle_ticks0=$ticks idle_t0=$now
    fi
    echo "$(( now - t0 )),$phase,$rss,$ticks,$threads,$fds" >>"$csv"
    curl -fsS "http://127.0.0.1:$http_port/metrics" >/dev/null 2>&1 || true
    sleep "$SAMPLE"
  done
  wait "$cam_pid" 2>/dev/null || true
  local clips status verified total
  clips=$(cat "$dir/camera.out" 2>/dev/null || echo "?")
  status=$("$CAMVAULT" --config "$cfg" status --json)
  verified=$(jq '.files.verified' <<<"$status") total=$(jq '.files.total' <<<"$status")
  local metrics_rss
  metrics_rss=$(curl -fsS "http://127.0.0.1:$http_port/metrics" | awk '/^process_resident_memory_bytes/{print $2}')
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
  local alerts=0
  [[ -f $dir/alerts.count ]] && alerts=$(wc -l <"$dir/alerts.count")
  read -r ticks rss threads fds <<<"$last"
  local idle_pct
  idle_pct=$(awk -v a="$idle_ticks0" -v b="$ticks" -v t0="$idle_t0" -v t1="$(date +%s)" -v hz="$HZ" 'BEGIN{ if (a == "" || t1 <= t0) print "n/a"; else printf "%.2f", (b - a) / hz / (t1 - t0) * 100 }')
  local summary
  summary=$(awk -F, -v store="$store" -v idle="$idle_pct" -v hz="$HZ" '
    NR == 2 { r0 = $3; f0 = $6; th0 = $5 }
    NR > 1 { if ($3 > rmax) { rmax = $3; at = $1 } if ($6 > fmax) fmax = $6; if ($5 > thmax) thmax = $5; r1 = $3; f1 = $6; th1 = $5; c1 = $4 }
    END { printf "| %s | %.1f | %.1f (at %d s) | %.1f | %d / %d / %d | %d / %d / %d | %.0f | %s |", store, r0/1024, rmax/1024, at, r1/1024, f0, fmax, f1, th0, thmax, th1, c1/hz, idle }' "$csv")
  log "$store: $clips clips written, $verified of $total files verified; $alerts alert(s) received; /metrics RSS $metrics_rss"
  RESULTS+=("$summary")
  printf '%s\n' "$summary"
  NOTES+=("- $store: $PRELOAD preloaded files + $clips clips written, $verified of $total verified at the end; $alerts alert message(s) received by the sink (the \`resources\` rule, limit set to 16 MiB to make it fire).")
}

NOTES=()
for s in $STORES; do
  case $s in fs | s3) soak_one "$s" ;; *) die "unknown store '$s' (fs or s3)" ;; esac
done

HEADER="| store | RSS start MiB | RSS peak MiB | RSS end MiB | open fds start / peak / end | threads start / peak / end | CPU s total | idle CPU % of a core |
|---|---:|---:|---:|---:|---:|---:|---:|"
echo
echo "$HEADER"
printf '%s\n' "${RESULTS[@]}"
printf '%s\n' "${NOTES[@]}"

if [[ $WRITE_DOCS == 1 ]]; then
  label=${LABEL:-soak-${STORES// /-}}
  if (( SPEEDUP > 1 )); then label="$label-accelerated"; fi
  block=$(
    echo "<!-- $label:begin -->"
    echo "camvault \`$COMMIT\`, $(date -u +%Y-%m-%d), \`SOAK_MIN=$SOAK_MIN IDLE_MIN=$IDLE_MIN INTERVAL=$INTERVAL SPEEDUP=$SPEEDUP PRELOAD=$PRELOAD PRELOAD_DIRS=$PRELOAD_DIRS\`, $(nproc) CPUs, load average at the end $(cut -d' ' -f1-3 /proc/loadavg):"
    echo
    echo "$HEADER"
    printf '%s\n' "${RESULTS[@]}"
    echo
    printf '%s\n' "${NOTES[@]}"
    echo "<!-- $label:end -->"
  )
  doc=$REPO/docs/benchmarks.md
  if grep -q "<!-- $label:begin -->" "$doc"; then
    BLOCK=$block perl -0pi -e "s/<!-- $label:begin -->.*?<!-- $label:end -->/\$ENV{BLOCK}/s" "$doc"
  else
    printf '\n%s\n' "$block" >>"$doc"
  fi
  log "wrote the results into $doc"
fi
