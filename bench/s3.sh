#!/usr/bin/env bash
# camvault benchmark against a local S3 server: one synthetic camera-day ingested into a
# bucket by `camvault ingest --once` (store kind "s3"), by `rclone copy`, and the old way
# (Debian's s3fs FUSE mount of the bucket plus `cp -R`, which is what ossfs does).
#
#   bench/s3.sh                                   # default scale, a few minutes
#   CLIPS=20 BIG=1 REPEAT=1 bench/s3.sh           # smoke test
#
# The S3 server is moto's (PyPI `moto[server]`, the one tests/s3.rs uses), started fresh for
# every run on 127.0.0.1 and stopped after it. moto is a Python server that keeps objects
# in memory (large ones spill to temporary files): its own speed bounds every tool alike,
# so read the absolute numbers with that in mind and compare the tools by their ratios.
#
# Per run: wall time, MB/s, peak RSS and CPU of the tool (for s3fs: the s3fs daemon plus
# cp), moto's CPU and peak RSS, and the CPU the rest of the machine used. REPEAT rounds,
# every configuration once per round in rotated order (interleaved, so that machine load
# hits them alike); medians are reported. After every run the bucket is listed (boto3,
# straight to moto): every inbox file must be there as an object of the same name and size,
# and two sampled objects are read back and compared byte for byte; any loss fails the run.
#
# Environment (defaults in brackets):
#   BENCH_DIR [/tmp/camvault-bench-s3]  work directory (inbox/, runs/, logs/ deleted at start)
#   CLIPS [120] CLIP_MB [7] BIG [2] BIG_MB [128]  the synthetic day, as in bench/run.sh:
#                             CLIPS one-minute clips in the old Xiaomi layout, BIG 10-minute
#                             files in the new layout
#   DAY [2025-06-01]          the camera-day of the synthetic inbox
#   REPEAT [3]                rounds (medians are reported)
#   RCLONE_TRANSFERS ["2 4"]  rclone --transfers values; the first is the reference for
#                             ratios (2 = camvault's default upload.concurrency; 4 = rclone's)
#   CAMVAULT_VARIANTS [""]   extra camvault rows with config changes, each
#                             NAME:SECTION.KEY=VALUE[,SECTION.KEY=VALUE...], e.g.
#                             "c4:upload.concurrency=4 single:store.s3.multipart_threshold_mb=4096"
#   S3FS [1]                  1 = also measure the s3fs mount + cp (needs /dev/fuse)
#   VENV [$REPO/.venv]        Python venv with moto[server], boto3, awscrt (created if missing)
#   BUILD [head]              head = build the committed HEAD (git archive) under
#                             $BENCH_DIR/build; tree = `cargo build --release` in the checkout
#   CAMVAULT                  a camvault binary to use instead of building one
#   KEEP_DATA [0]             1 = keep the inbox afterwards
set -euo pipefail

CLIPS=${CLIPS:-120}
CLIP_MB=${CLIP_MB:-7}
BIG=${BIG:-2}
BIG_MB=${BIG_MB:-128}
DAY=${DAY:-2025-06-01}
REPEAT=${REPEAT:-3}
RCLONE_TRANSFERS=${RCLONE_TRANSFERS:-"2 4"}
CAMVAULT_VARIANTS=${CAMVAULT_VARIANTS:-}
S3FS=${S3FS:-1}
KEEP_DATA=${KEEP_DATA:-0}
BUILD=${BUILD:-head}
BENCH_DIR=${BENCH_DIR:-/tmp/camvault-bench-s3}
BUCKET=camvault-bench
KEY_ID=AKIDCAMVAULTBENCH
SECRET=camvault-bench-secret

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$REPO/.venv}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$BENCH_DIR" in
  "" | / | /tmp | /root | /home | "$HOME" | "$REPO") die "refusing BENCH_DIR=$BENCH_DIR" ;;
esac
for v in CLIPS CLIP_MB BIG BIG_MB REPEAT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
(( CLIPS + BIG > 0 )) || die "CLIPS + BIG must be at least 1"
(( REPEAT >= 1 )) || die "REPEAT must be at least 1"
[[ $BUILD == head || $BUILD == tree ]] || die "BUILD must be head or tree"
[[ -n ${RCLONE_TRANSFERS// /} ]] || die "RCLONE_TRANSFERS must list at least one value"

# ---------------------------------------------------------------- cleanup on exit

MOTO_PID=
S3FS_PID=
MNT=
cleanup() {
  local rc=$?
  trap - INT TERM
  if [[ -n $MNT ]] && mountpoint -q "$MNT" 2>/dev/null; then
    umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
  fi
  if [[ -n $S3FS_PID ]]; then
    # The s3fs daemon (the child of /usr/bin/time): TERM, and KILL if it lingers (after a
    # lazy unmount it can keep retrying against the server for minutes).
    local daemon i
    daemon=$(pgrep -P "$S3FS_PID" 2>/dev/null || true)
    for p in $daemon "$S3FS_PID"; do kill "$p" 2>/dev/null || true; done
    for (( i = 0; i < 30; i++ )); do kill -0 "$S3FS_PID" 2>/dev/null || break; sleep 0.1; done
    for p in $daemon "$S3FS_PID"; do kill -KILL "$p" 2>/dev/null || true; done
    wait "$S3FS_PID" 2>/dev/null || true
  fi
  [[ -n $MOTO_PID ]] && kill "$MOTO_PID" 2>/dev/null || true
  [[ -n $MOTO_PID ]] && wait "$MOTO_PID" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  log "installing $* with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null ||
    { as_root apt-get update >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null; }
}
missing=()
[[ -x /usr/bin/time ]] || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
command -v rclone >/dev/null || missing+=(rclone)
command -v python3 >/dev/null || missing+=(python3 python3-venv)
if [[ $S3FS == 1 ]]; then command -v s3fs >/dev/null || missing+=(s3fs); fi
if (( ${#missing[@]} )); then apt_install "${missing[@]}" || die "cannot install ${missing[*]}"; fi
# awscrt: moto computes CRC64NVME with it (without it, moto answers a CRC-32 under that
# name, and camvault's verification rightly takes the objects for damaged).
if [[ ! -x $VENV/bin/moto_server || ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import boto3, awscrt' 2>/dev/null; then
  log "installing moto[server], boto3 and awscrt into $VENV"
  python3 -m venv "$VENV" || { apt_install python3-venv && python3 -m venv "$VENV"; } || die "cannot create $VENV"
  "$VENV/bin/pip" install -q 'moto[server]' boto3 awscrt || die "pip install 'moto[server]' boto3 awscrt failed"
fi
PY=$VENV/bin/python

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
INBOX=$BENCH_DIR/inbox
RUNS_DIR=$BENCH_DIR/runs
LOGS=$BENCH_DIR/logs
GEN=$BENCH_DIR/gen
for m in "$BENCH_DIR"/runs/*/mnt; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
rm -rf "$INBOX" "$RUNS_DIR" "$LOGS" "$GEN"
mkdir -p "$RUNS_DIR" "$LOGS" "$BENCH_DIR/bin" "$GEN"

CAMVAULT_GIVEN=${CAMVAULT:-}
if [[ -z ${CAMVAULT:-} ]]; then
  if [[ $BUILD == head ]]; then
    # The committed HEAD, exported and built on its own (as bench/run.sh does).
    HEAD_REV=$(git -C "$REPO" rev-parse HEAD)
    log "building camvault at HEAD (${HEAD_REV:0:7}) in $BENCH_DIR/build"
    rm -rf "$BENCH_DIR/build/src-head"
    mkdir -p "$BENCH_DIR/build/src-head"
    git -C "$REPO" archive "$HEAD_REV" | tar -x -C "$BENCH_DIR/build/src-head"
    (cd "$BENCH_DIR/build/src-head" && CARGO_TARGET_DIR=$BENCH_DIR/build/target cargo build --release --locked --quiet) ||
      die "cargo build of HEAD failed"
    CAMVAULT=$BENCH_DIR/build/target/release/camvault
  else
    log "building camvault from the working tree (cargo build --release)"
    (cd "$REPO" && cargo build --release --quiet) || die "cargo build failed"
    CAMVAULT=${CARGO_TARGET_DIR:-$REPO/target}/release/camvault
  fi
fi
cp "$CAMVAULT" "$BENCH_DIR/bin/camvault"
CV=$BENCH_DIR/bin/camvault

# The independent client: boto3 straight to moto.
cat >"$GEN/s3util.py" <<'PY'
"""usage: s3util.py PORT create BUCKET | check BUCKET INBOX PREFIX"""
import os
import sys

import boto3
from botocore.config import Config

port, cmd, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client(
    "s3",
    endpoint_url="http://127.0.0.1:%s" % port,
    region_name="us-east-1",
    aws_access_key_id=os.environ["BENCH_KEY_ID"],
    aws_secret_access_key=os.environ["BENCH_SECRET"],
    config=Config(s3={"addressing_style": "path"}),
)
if cmd == "create":
    s3.create_bucket(Bucket=bucket)
    sys.exit(0)
inbox, prefix = sys.argv[4], sys.argv[5]
want = {}
for d, _, names in os.walk(inbox):
    for n in names:
        p = os.path.join(d, n)
        want[n] = (p, os.path.getsize(p))
objs, dirs, other = {}, 0, []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    for o in page.get("Contents", []):
        k = o["Key"]
        if k.endswith("/"):
            dirs += 1  # s3fs's directory markers
        elif not k.startswith(prefix):
            other.append(k)
        else:
            objs[k.rsplit("/", 1)[-1]] = (k, o["Size"])
n, b = len(objs), sum(s for _, s in objs.values())
problems = [f"missing {n}" for n in sorted(set(want) - set(objs))]
problems += [f"unexpected object {objs[n][0]}" for n in sorted(set(objs) - set(want))]
problems += [f"{objs[n][0]}: {objs[n][1]} bytes, the file has {want[n][1]}"
             for n in sorted(set(want) & set(objs)) if objs[n][1] != want[n][1]]
# Two objects read back in full: the first file in name order and the largest one.
for name in {min(want), max(want, key=lambda x: (want[x][1], x))} & set(objs):
    body = s3.get_object(Bucket=bucket, Key=objs[name][0])["Body"].read()
    with open(want[name][0], "rb") as f:
        if body != f.read():
            problems.append(f"{objs[name][0]}: bytes differ from {want[name][0]}")
print(f"{n} {b} {dirs} {len(other)}")
for p in problems[:20]:
    print("PROBLEM", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

# ---------------------------------------------------------------- facts about this run

COMMIT=${HEAD_REV:-$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)}
COMMIT=${COMMIT:0:7}
if [[ -n ${CAMVAULT_GIVEN:-} ]]; then
  COMMIT="binary $CAMVAULT_GIVEN (checkout at $COMMIT)"
elif [[ $BUILD == tree && -n $(git -C "$REPO" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null) ]]; then
  COMMIT="$COMMIT plus uncommitted changes in src/"
fi
CV_VERSION=$("$CV" --version 2>&1 | head -1)
RCLONE_VERSION=$(rclone --version 2>/dev/null | sed -n 1p)
S3FS_VERSION=$( [[ $S3FS == 1 ]] && s3fs --version 2>/dev/null | sed -n 1p | sed 's/ (commit.*//' || echo "not measured")
MOTO_VERSION=$("$PY" -c 'import moto, werkzeug, importlib.metadata as m; print("moto", moto.__version__, "(werkzeug", m.version("werkzeug") + ")")')
PY_VERSION=$("$PY" --version 2>&1)
CPU_MODEL=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
MEM_TOTAL=$(free -h | awk '/^Mem:/{print $2}')
KERNEL=$(uname -r)
NOW_UTC=$(date -u +"%Y-%m-%d %H:%M UTC")
HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------- helpers

busy_jiffies() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
# proc_cpu PID: user+system jiffies of PID and its reaped children.
proc_cpu() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
mb_per_s() { awk -v b="$1" -v ms="$2" 'BEGIN{ if (ms > 0) printf "%.1f", b / 1e6 / (ms / 1000); else print "-" }'; }
secs() { awk -v ms="$1" 'BEGIN{printf "%.2f", ms / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mib() { awk -v k="$1" 'BEGIN{printf "%.0f", k / 1024}'; }
human() { numfmt --to=iec-i --suffix=B --format='%.1f' "$1"; }
time_field() { awk -F': ' -v f="$2" '$1 ~ f {print $2}' "$1"; }
time_cpu() { awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.1f", u+s}' "$1"; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
warm_inbox() { find "$INBOX" -type f -print0 | xargs -0 cat >/dev/null; }

# start_moto NAME: a fresh moto server with an empty bucket; sets PORT and MOTO_PID.
start_moto() {
  PORT=$(free_port)
  # In its own session: a Ctrl-C must not stop the server before s3fs is unmounted.
  setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOGS/$1.moto.log" 2>&1 &
  MOTO_PID=$!
  local i
  for (( i = 0; i < 300; i++ )); do
    kill -0 "$MOTO_PID" 2>/dev/null || die "moto_server exited: $(tail -5 "$LOGS/$1.moto.log")"
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
  done
  (( i < 300 )) || die "moto_server did not listen on $PORT within 30 s"
  BENCH_KEY_ID=$KEY_ID BENCH_SECRET=$SECRET "$PY" "$GEN/s3util.py" "$PORT" create "$BUCKET" ||
    die "cannot create the bucket on moto"
  MOTO_CPU0=$(proc_cpu "$MOTO_PID")
}
# stop_moto: sets MOTO_CPU_S (during the measurement) and MOTO_RSS_KB (peak), then stops it.
stop_moto() {
  MOTO_RSS_KB=$(awk '/^VmHWM/{print $2}' "/proc/$MOTO_PID/status")
  kill "$MOTO_PID"; wait "$MOTO_PID" 2>/dev/null || true
  MOTO_PID=
}

# begin / end: wall time and machine CPU around a measurement.
begin() { BUSY0=$(busy_jiffies); T0=$(date +%s%N); }
end() {
  local t1 busy1
  t1=$(date +%s%N); busy1=$(busy_jiffies)
  MOTO_CPU_S=$(awk -v a="$MOTO_CPU0" -v b="$(proc_cpu "$MOTO_PID")" -v hz="$HZ" 'BEGIN{printf "%.1f", (b - a) / hz}')
  WALL_MS=$(( (t1 - T0) / 1000000 ))
  BUSY_S=$(awk -v b=$(( busy1 - BUSY0 )) -v hz="$HZ" 'BEGIN{printf "%.1f", b / hz}')
}

# check_bucket NAME PREFIX: every inbox file is in the bucket, same name and size.
check_bucket() {
  local out
  out=$(BENCH_KEY_ID=$KEY_ID BENCH_SECRET=$SECRET "$PY" "$GEN/s3util.py" "$PORT" check "$BUCKET" "$INBOX" "$2" 2>"$LOGS/$1.check.log") ||
    { cat "$LOGS/$1.check.log" >&2; die "$1: the bucket does not hold the inbox (above; $LOGS/$1.check.log)"; }
  read -r OBJ_N OBJ_BYTES OBJ_DIRS OBJ_OTHER <<<"$out"
  [[ $OBJ_N == "$INBOX_FILES" && $OBJ_BYTES == "$INBOX_BYTES" ]] ||
    die "$1: bucket holds $OBJ_N objects / $OBJ_BYTES bytes, expected $INBOX_FILES / $INBOX_BYTES"
  [[ $(find "$INBOX" -type f | wc -l) == "$INBOX_FILES" ]] || die "$1: the inbox lost files"
}

# ---------------------------------------------------------------- the synthetic day
# The generator of bench/run.sh, unchanged: see there and docs/benchmarks.md.

u32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(( $1 >> 24 & 255 )) $(( $1 >> 16 & 255 )) $(( $1 >> 8 & 255 )) $(( $1 & 255 )); }
box() {
  local type=$1; shift
  local n=8 f
  for f in "$@"; do n=$(( n + $(stat -c %s "$f") )); done
  # shellcheck disable=SC2059
  printf "$(u32 "$n")"; printf '%s' "$type"; cat "$@"
}
make_mp4_header() {
  local g=$GEN/mp4 out=$1
  mkdir -p "$g"
  local matrix
  matrix="$(u32 65536)$(u32 0)$(u32 0)$(u32 0)$(u32 65536)$(u32 0)$(u32 0)$(u32 0)$(u32 1073741824)"
  # shellcheck disable=SC2059
  {
    printf "$(u32 0)$(u32 0)$(u32 0)$(u32 1000)$(u32 60000)$(u32 65536)"
    printf '\x01\x00'; head -c 10 /dev/zero; printf "$matrix"; head -c 24 /dev/zero; printf "$(u32 2)"
  } >"$g/mvhd.p"
  {
    printf "$(u32 3)$(u32 0)$(u32 0)$(u32 1)$(u32 0)$(u32 60000)"
    head -c 16 /dev/zero; printf "$matrix"; printf "$(u32 $((2304 << 16)))$(u32 $((1296 << 16)))"
  } >"$g/tkhd.p"
  { printf "$(u32 0)$(u32 0)vide"; head -c 12 /dev/zero; printf 'VideoHandler\x00'; } >"$g/hdlr.p"
  { head -c 6 /dev/zero; printf '\x00\x01'; head -c 16 /dev/zero; printf '\x09\x00\x05\x10'; head -c 50 /dev/zero; } >"$g/hvc1.p"
  box hvc1 "$g/hvc1.p" >"$g/hvc1"
  { printf "$(u32 0)$(u32 1)"; cat "$g/hvc1"; } >"$g/stsd.p"
  box stsd "$g/stsd.p" >"$g/stsd"
  box stbl "$g/stsd" >"$g/stbl"
  box minf "$g/stbl" >"$g/minf"
  box hdlr "$g/hdlr.p" >"$g/hdlr"
  box mdia "$g/hdlr" "$g/minf" >"$g/mdia"
  box tkhd "$g/tkhd.p" >"$g/tkhd"
  box trak "$g/tkhd" "$g/mdia" >"$g/trak"
  box mvhd "$g/mvhd.p" >"$g/mvhd"
  box moov "$g/mvhd" "$g/trak" >"$g/moov"
  printf 'isom\x00\x00\x02\x00isomiso2mp41' >"$g/ftyp.p"
  box ftyp "$g/ftyp.p" >"$g/ftyp"
  { cat "$g/ftyp" "$g/moov"; printf '\x00\x00\x00\x00mdat'; } >"$out"
}

CLIP_BYTES=$(( CLIP_MB * 1048576 ))
BIG_BYTES=$(( BIG_MB * 1048576 ))
NFILES=$(( CLIPS + BIG ))
# inbox + camvault's hard links (free) + s3fs's temporary copies + moto's spilled objects
need=$(( (CLIPS * CLIP_BYTES + BIG * BIG_BYTES) * 3 + (1 << 30) ))
avail=$(( $(df -B1 --output=avail "$BENCH_DIR" | tail -1) ))
(( avail > need )) || die "need about $(human "$need") free under $BENCH_DIR, have $(human "$avail"); lower CLIPS/BIG"

log "generating the inbox: $CLIPS x $CLIP_MB MiB (old layout) + $BIG x $BIG_MB MiB (new layout)"
t0=$(date +%s%N)
HDR=$GEN/header.bin
make_mp4_header "$HDR"
block_mb=$(( CLIP_MB > BIG_MB ? CLIP_MB : BIG_MB ))
BLOCK=$GEN/block.bin
head -c $(( block_mb * 1048576 )) /dev/urandom >"$BLOCK"
day0=$(date -u -d "$DAY 00:00:00" +%s)
(
  export TZ=UTC
  old=$INBOX/xiaomi_camera_videos/78DF72A1B2C3
  for (( i = 0; i < CLIPS; i++ )); do
    ts=$(( day0 + i * 60 ))
    printf -v dir '%s/%(%Y%m%d%H)T' "$old" "$ts"
    printf -v name '%(%M)TM%(%S)TS_%d.mp4' "$ts" "$ts" "$ts"
    [[ -d $dir ]] || mkdir -p "$dir"
    { cat "$HDR"; printf '%-63s\n' "camvault-bench clip $i $ts"; head -c "$CLIP_BYTES" "$BLOCK"; } >"$dir/$name"
  done
  new=$INBOX/XiaomiCamera_00_5C02148A9E01
  mkdir -p "$new"
  for (( i = 0; i < BIG; i++ )); do
    ts=$(( day0 + 43200 + i * 600 ))
    printf -v name '00_%(%Y%m%d%H%M%S)T_%(%Y%m%d%H%M%S)T.mp4' "$ts" $(( ts + 600 ))
    { cat "$HDR"; printf '%-63s\n' "camvault-bench big $i $ts"; head -c "$BIG_BYTES" "$BLOCK"; } >"$new/$name"
  done
)
rm -f "$BLOCK"
# Complete files: written an hour ago, far beyond capture.settle_secs.
find "$INBOX" -type f -exec touch -m -d "@$(( $(date +%s) - 3600 ))" {} +
sync
GEN_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
INBOX_FILES=$(find "$INBOX" -type f | wc -l)
INBOX_BYTES=$(find "$INBOX" -type f -printf '%s\n' | awk '{s+=$1} END{printf "%.0f\n", s}')
(( INBOX_FILES == NFILES )) || die "generated $INBOX_FILES files, expected $NFILES"
log "inbox: $INBOX_FILES files, $(human "$INBOX_BYTES"), generated in $(secs "$GEN_MS") s"

# ---------------------------------------------------------------- the runs

declare -A WALL RSS CPU MCPU MRSS OTHER EXTRA
# record NAME REP TOOL_RSS_KB TOOL_CPU_S
record() {
  local k=$1.$2
  WALL[$k]=$WALL_MS RSS[$k]=$3 CPU[$k]=$4 MCPU[$k]=$MOTO_CPU_S MRSS[$k]=$MOTO_RSS_KB
  OTHER[$k]=$(awk -v b="$BUSY_S" -v o="$4" -v m="$MOTO_CPU_S" 'BEGIN{x = b - o - m; printf "%.1f", (x < 0 ? 0 : x)}')
  log "$k: $(secs "$WALL_MS") s, $(mb_per_s "$INBOX_BYTES" "$WALL_MS") MB/s, RSS $(mib "$3") MiB, CPU $4 s, moto CPU $MOTO_CPU_S s, rest of machine ${OTHER[$k]} s; bucket: $OBJ_N objects, $OBJ_BYTES bytes (+ $OBJ_DIRS directory markers, $OBJ_OTHER objects outside the key prefix)"
  EXTRA[$1]="$OBJ_DIRS $OBJ_OTHER"
}

# configure_s3 CONFIG [SETTINGS]: a fresh `camvault init` config, pointed at the moto
# bucket, with SETTINGS (SECTION.KEY=VALUE,...) changed too.
configure_s3() {
  local cfg=$1 settings=${2:-}
  printf 'access_key_id = %s\nsecret_access_key = %s\n' "$KEY_ID" "$SECRET" >"$(dirname "$cfg")/s3.key"
  chmod 600 "$(dirname "$cfg")/s3.key"
  awk -v inbox="$INBOX" -v ep="http://127.0.0.1:$PORT" -v bucket="$BUCKET" '
    /^\[/ { sec = $0 }
    $0 == "inbox = \"inbox\"" { $0 = "inbox = \"" inbox "\"" }
    $0 == "timezone = \"\"" { $0 = "timezone = \"UTC\"" }
    sec == "[cache]" && /^max_bytes = / { $0 = "max_bytes = \"10 TiB\"" }
    sec == "[cache]" && /^max_days = / { $0 = "max_days = 36500" }
    sec == "[cache]" && /^min_free = / { $0 = "min_free = 0" }
    sec == "[store]" && /^kind = / { $0 = "kind = \"s3\"" }
    sec == "[store.s3]" && /^endpoint = / { $0 = "endpoint = \"" ep "\"" }
    sec == "[store.s3]" && /^bucket = / { $0 = "bucket = \"" bucket "\"" }
    sec == "[store.s3]" && /^path_style = / { $0 = "path_style = true" }
    sec == "[store.s3]" && /^credentials_file = / { $0 = "credentials_file = \"s3.key\"" }
    { print }' "$cfg" >"$cfg.new"
  mv "$cfg.new" "$cfg"
  local want
  for want in "inbox = \"$INBOX\"" 'timezone = "UTC"' 'max_bytes = "10 TiB"' 'max_days = 36500' \
    'min_free = 0' 'kind = "s3"' "endpoint = \"http://127.0.0.1:$PORT\"" "bucket = \"$BUCKET\"" \
    'path_style = true' 'credentials_file = "s3.key"'; do
    grep -qxF "$want" "$cfg" || die "could not set '$want' in $cfg (did the init template change?)"
  done
  local kv sec key val
  for kv in ${settings//,/ }; do
    [[ $kv =~ ^([a-z0-9_.]+)\.([a-z0-9_]+)=(.+)$ ]] || die "bad setting '$kv' (want SECTION.KEY=VALUE)"
    sec=${BASH_REMATCH[1]} key=${BASH_REMATCH[2]} val=${BASH_REMATCH[3]}
    awk -v sec="[$sec]" -v key="$key" -v val="$val" '
      /^\[/ { cur = $0 }
      cur == sec && index($0, key " = ") == 1 { $0 = key " = " val }
      { print }' "$cfg" >"$cfg.new"
    mv "$cfg.new" "$cfg"
    awk -v sec="[$sec]" -v want="$key = $val" '/^\[/ { cur = $0 } cur == sec && $0 == want { ok = 1 } END { exit !ok }' "$cfg" ||
      die "could not set $key = $val in [$sec] of $cfg"
  done
}

run_camvault() { # NAME REP [SETTINGS]
  local name=$1 rep=$2 settings=${3:-} d=$RUNS_DIR/$1
  rm -rf "$d"
  start_moto "$name.$rep"
  "$CV" init --dir "$d" >/dev/null
  configure_s3 "$d/camvault.toml" "$settings"
  sync; warm_inbox
  log "$name.$rep: camvault ingest --once (s3 store${settings:+, $settings}, moto on :$PORT)"
  local rc=0
  begin
  /usr/bin/time -v -o "$LOGS/$name.$rep.time" "$CV" --config "$d/camvault.toml" ingest --once >"$LOGS/$name.$rep.log" 2>&1 || rc=$?
  end
  (( rc == 0 )) || { tail -20 "$LOGS/$name.$rep.log" >&2; die "$name: ingest exited $rc (log: $LOGS/$name.$rep.log)"; }
  local verified
  verified=$("$CV" --config "$d/camvault.toml" status --json | jq '.files.verified')
  (( verified == NFILES )) || die "$name: $verified verified, expected $NFILES"
  check_bucket "$name.$rep" videos/
  stop_moto
  record "$name" "$rep" "$(time_field "$LOGS/$name.$rep.time" 'Maximum resident')" "$(time_cpu "$LOGS/$name.$rep.time")"
  [[ $rep == 1 ]] && cp "$d/camvault.toml" "$LOGS/$name.toml"
  rm -rf "$d"
}

run_rclone() { # NAME REP TRANSFERS
  local name=$1 rep=$2 t=$3 conf=$GEN/rclone.conf
  start_moto "$name.$rep"
  cat >"$conf" <<CONF
[moto]
type = s3
provider = Other
endpoint = http://127.0.0.1:$PORT
region = us-east-1
access_key_id = $KEY_ID
secret_access_key = $SECRET
force_path_style = true
CONF
  sync; warm_inbox
  log "$name.$rep: rclone copy --transfers $t (moto on :$PORT)"
  local rc=0
  begin
  # (rclone's S3 SDK refuses AWS_CA_BUNDLE with its own HTTP transport; plain http here anyway.)
  /usr/bin/time -v -o "$LOGS/$name.$rep.time" env -u AWS_CA_BUNDLE rclone --config "$conf" copy "$INBOX" "moto:$BUCKET" --transfers "$t" >"$LOGS/$name.$rep.log" 2>&1 || rc=$?
  end
  (( rc == 0 )) || { tail -20 "$LOGS/$name.$rep.log" >&2; die "$name: rclone exited $rc"; }
  check_bucket "$name.$rep" ""
  stop_moto
  record "$name" "$rep" "$(time_field "$LOGS/$name.$rep.time" 'Maximum resident')" "$(time_cpu "$LOGS/$name.$rep.time")"
}

# The old way: s3fs mounts the bucket (defaults, as a user would), cp -R into it, umount.
# The time covers cp and the umount (s3fs uploads each file when cp closes it; the umount
# waits for anything left); RSS and CPU are the s3fs daemon's (under /usr/bin/time, in
# the foreground) plus cp's.
# s3fs_mount NAME DIR: mounts the bucket of the running moto at DIR/mnt (sets MNT and
# S3FS_PID); on failure returns 1 with the reason in S3FS_ERROR.
s3fs_mount() {
  local name=$1 d=$2 i
  MNT=$d/mnt
  mkdir -p "$MNT"
  printf '%s:%s\n' "$KEY_ID" "$SECRET" >"$d/passwd"; chmod 600 "$d/passwd"
  setsid /usr/bin/time -v -o "$LOGS/$name.s3fs.time" s3fs "$BUCKET" "$MNT" -f \
    -o url="http://127.0.0.1:$PORT" -o use_path_request_style -o endpoint=us-east-1 \
    -o passwd_file="$d/passwd" >"$LOGS/$name.s3fs.log" 2>&1 &
  S3FS_PID=$!
  for (( i = 0; i < 100; i++ )); do
    mountpoint -q "$MNT" && return 0
    kill -0 "$S3FS_PID" 2>/dev/null || break
    sleep 0.1
  done
  S3FS_ERROR=$(grep -v '^\s*$' "$LOGS/$name.s3fs.log" | grep -v '^\s\|Command exited\|Command being timed' | tail -3 | tr '\n' ' ')
  kill "$S3FS_PID" 2>/dev/null || true; wait "$S3FS_PID" 2>/dev/null || true
  S3FS_PID=
  return 1
}

run_s3fs() { # NAME REP
  local name=$1 rep=$2 d=$RUNS_DIR/$1
  rm -rf "$d"; mkdir -p "$d"
  start_moto "$name.$rep"
  s3fs_mount "$name.$rep" "$d" || die "s3fs could not mount the bucket: $S3FS_ERROR (log: $LOGS/$name.$rep.s3fs.log)"
  sync; warm_inbox
  log "$name.$rep: s3fs mount + cp -R (moto on :$PORT)"
  local rc=0
  begin
  /usr/bin/time -v -o "$LOGS/$name.$rep.time" cp -R "$INBOX/." "$MNT/" >"$LOGS/$name.$rep.log" 2>&1 || rc=$?
  umount "$MNT" || rc=$?
  wait "$S3FS_PID" || true
  end
  S3FS_PID=
  (( rc == 0 )) || { tail -20 "$LOGS/$name.$rep.log" "$LOGS/$name.$rep.s3fs.log" >&2; die "$name: cp or umount exited $rc"; }
  check_bucket "$name.$rep" ""
  stop_moto
  local rss cpu
  rss=$(awk '{print ($1 > $2 ? $1 : $2)}' <<<"$(time_field "$LOGS/$name.$rep.s3fs.time" 'Maximum resident') $(time_field "$LOGS/$name.$rep.time" 'Maximum resident')")
  cpu=$(awk -v a="$(time_cpu "$LOGS/$name.$rep.s3fs.time")" -v b="$(time_cpu "$LOGS/$name.$rep.time")" 'BEGIN{printf "%.1f", a + b}')
  record "$name" "$rep" "$rss" "$cpu"
  rm -rf "$d"; MNT=
}

run_one() { # NAME REP
  case $1 in
    camvault) run_camvault "$1" "$2" ;;
    camvault-*) run_camvault "$1" "$2" "${VARIANT[${1#camvault-}]}" ;;
    rclone-t*) run_rclone "$1" "$2" "${1#rclone-t}" ;;
    s3fs) run_s3fs "$1" "$2" ;;
  esac
}

# Can s3fs mount here at all (FUSE in a container)? If not, say why and go on without it.
S3FS_NOTE=
if [[ $S3FS == 1 ]]; then
  start_moto s3fs-probe
  if s3fs_mount s3fs-probe "$RUNS_DIR/s3fs-probe"; then
    umount "$MNT"; wait "$S3FS_PID" || true; S3FS_PID=
  else
    S3FS=0
    S3FS_NOTE="s3fs could not mount the bucket, so it was not measured: $S3FS_ERROR"
    log "WARNING: $S3FS_NOTE"
  fi
  stop_moto
  rm -rf "$RUNS_DIR/s3fs-probe"; MNT=
fi

ROWS=(camvault)
declare -A VARIANT
for v in $CAMVAULT_VARIANTS; do
  [[ $v =~ ^([A-Za-z0-9_-]+):(.+)$ ]] || die "bad CAMVAULT_VARIANTS entry '$v' (want NAME:SECTION.KEY=VALUE[,...])"
  VARIANT[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  ROWS+=("camvault-${BASH_REMATCH[1]}")
done
for t in $RCLONE_TRANSFERS; do ROWS+=("rclone-t$t"); done
[[ $S3FS == 1 ]] && ROWS+=(s3fs)
n_cfg=${#ROWS[@]}
for (( rep = 1; rep <= REPEAT; rep++ )); do
  for (( j = 0; j < n_cfg; j++ )); do
    run_one "${ROWS[$(( (j + rep - 1) % n_cfg ))]}" "$rep"
  done
done
if [[ $KEEP_DATA != 1 ]]; then rm -rf "$INBOX"; fi

# ---------------------------------------------------------------- report

med() {
  local -n arr=$1
  local rep
  for (( rep = 1; rep <= REPEAT; rep++ )); do echo "${arr[$2.$rep]}"; done |
    sort -g | awk -v d="${3:-1}" '{v[NR] = $1} END{ if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s", (m == int(m) && d < 2) ? sprintf("%d", m) : sprintf("%." d "f", m) }'
}
label() {
  case $1 in
    camvault) echo '`camvault ingest --once`, s3 store' ;;
    camvault-*) echo "\`camvault ingest --once\`, s3 store, ${VARIANT[${1#camvault-}]//,/, }" ;;
    rclone-t*) echo "\`rclone copy --transfers ${1#rclone-t}\`" ;;
    s3fs) echo '`s3fs` mount + `cp -R` (the ossfs way)' ;;
  esac
}
base=rclone-t$(set -- $RCLONE_TRANSFERS; echo "$1")

{
  echo "### S3 ingest, $NOW_UTC"
  echo
  echo "- machine: $(nproc) cores ($CPU_MODEL), $MEM_TOTAL RAM, Linux $KERNEL; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- camvault $COMMIT ($CV_VERSION); $RCLONE_VERSION; ${S3FS_VERSION}; server: $MOTO_VERSION, $PY_VERSION"
  echo "- scale: CLIPS=$CLIPS CLIP_MB=$CLIP_MB BIG=$BIG BIG_MB=$BIG_MB REPEAT=$REPEAT: $INBOX_FILES files, $(human "$INBOX_BYTES") ($INBOX_BYTES bytes), inbox warm in the page cache"
  echo
  echo "Median of $REPEAT rounds (order rotated each round, a fresh moto server per run);"
  echo "MB/s = 10^6 bytes per second of wall time. \"time / $base\" is the median of the per-round"
  echo "ratios (each run against the $base run of its own round)."
  echo
  echo "| run | wall s | MB/s | time / $base | peak RSS MiB | CPU s (user+sys) | moto CPU s | moto peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for r in "${ROWS[@]}"; do
    w=$(med WALL "$r")
    declare -A PAIR=()
    for (( rep = 1; rep <= REPEAT; rep++ )); do
      PAIR[$r.$rep]=$(ratio "${WALL[$r.$rep]}" "${WALL[$base.$rep]}")
    done
    echo "| $(label "$r") | $(secs "$w") | $(mb_per_s "$INBOX_BYTES" "$w") | $(med PAIR "$r" 2) | $(mib "$(med RSS "$r")") | $(med CPU "$r") | $(med MCPU "$r") | $(mib "$(med MRSS "$r")") |"
  done
  echo
  echo "Every run:"
  echo
  echo "| round | run | wall s | MB/s | CPU s | moto CPU s | CPU s of the rest of the machine |"
  echo "|---:|---|---:|---:|---:|---:|---:|"
  for (( rep = 1; rep <= REPEAT; rep++ )); do
    for (( j = 0; j < n_cfg; j++ )); do
      r=${ROWS[$(( (j + rep - 1) % n_cfg ))]}
      k=$r.$rep
      echo "| $rep | $(label "$r") | $(secs "${WALL[$k]}") | $(mb_per_s "$INBOX_BYTES" "${WALL[$k]}") | ${CPU[$k]} | ${MCPU[$k]} | ${OTHER[$k]} |"
    done
  done
  echo
  echo "- after every run the bucket held all $INBOX_FILES files as objects of the same name and size ($INBOX_BYTES bytes), two of them read back byte for byte"
  for r in "${ROWS[@]}"; do
    read -r dirs other <<<"${EXTRA[$r]}"
    if (( dirs + other > 0 )); then
      why=; [[ $r == camvault* ]] && why=" (its per-day manifests and the catalog backup)"
      [[ $r == s3fs ]] && why=" (one marker per directory of the inbox)"
      echo "- $(label "$r") also wrote $dirs directory marker objects and $other objects outside the recordings$why"
    fi
  done
  [[ -n $S3FS_NOTE ]] && echo "- $S3FS_NOTE"
  echo "- generating the inbox took $(secs "$GEN_MS") s"
} | tee "$BENCH_DIR/results.md"
log "results: $BENCH_DIR/results.md; logs: $LOGS"
