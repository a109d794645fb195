#!/usr/bin/env bash
# camvault benchmark: ingest throughput against rclone, and catalog query latency at scale.
#
#   bench/run.sh                                  # full scale (~13 GB inbox, 5M-row catalog)
#   CLIPS=20 CLIP_MB=1 BIG=2 BIG_MB=8 ROWS=20000 bench/run.sh   # smoke test
#
# What it measures, in one run on this machine:
#   1. a synthetic camera-day: CLIPS clips of CLIP_MB MiB in the old Xiaomi layout (one per
#      minute) plus BIG files of BIG_MB MiB in the new layout;
#   2. `camvault ingest --once` into the fs store (fsync on, and fsync off) against
#      `rclone copy` of the same tree (local to local) and plain `cp -R`, REPEAT rounds in
#      rotated order, each run started with the inbox warm in the page cache: wall time,
#      MB/s, peak RSS, CPU (its own and the rest of the machine's), blocks read from disk,
#      and the `sync` that follows;
#   3. a catalog of ROWS rows made with the sqlite3 CLI (4 cameras, one clip per minute
#      each): `status`, `status --json` and a one-camera-day `ls --json`, with hyperfine.
# Everything lives under $BENCH_DIR; results go to $BENCH_DIR/results.md and stdout.
#
# Environment (defaults in brackets):
#   BENCH_DIR [/tmp/camvault-bench]  work directory; its inbox/, runs/ and catalog/ are
#                                    deleted at the start of a run
#   CLIPS [1440] CLIP_MB [7] BIG [20] BIG_MB [128] ROWS [5000000]
#   DAY [2025-06-01]         the camera-day of the synthetic inbox and of the `ls` query
#   RUNS [20]                runs per catalog command (after 3 warm-ups)
#   REPEAT [3]               rounds of the ingest comparison (medians are reported)
#   RCLONE_TRANSFERS ["2 4"] rclone --transfers values to measure
#   PARTS ["ingest catalog"] which parts to run
#   BUILD [head]             head = build the committed HEAD (git archive) under
#                            $BENCH_DIR/build; tree = `cargo build --release` in the checkout
#   CAMVAULT                 a camvault binary to use instead of building one
#                            (whichever it is, it is copied into $BENCH_DIR/bin first)
#   CP_BASELINE [1]          1 = also time plain `cp -R` of the inbox, the floor for a copy
#   KEEP_DATA [0]            1 = keep the inbox and the big catalog afterwards
set -euo pipefail

CLIPS=${CLIPS:-1440}
CLIP_MB=${CLIP_MB:-7}
BIG=${BIG:-20}
BIG_MB=${BIG_MB:-128}
ROWS=${ROWS:-5000000}
DAY=${DAY:-2025-06-01}
RUNS=${RUNS:-20}
REPEAT=${REPEAT:-3}
RCLONE_TRANSFERS=${RCLONE_TRANSFERS:-"2 4"}
PARTS=${PARTS:-"ingest catalog"}
KEEP_DATA=${KEEP_DATA:-0}
CP_BASELINE=${CP_BASELINE:-1}
BUILD=${BUILD:-head}
BENCH_DIR=${BENCH_DIR:-/tmp/camvault-bench}
TARGET_MS=50

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
part() { [[ " $PARTS " == *" $1 "* ]]; }

case "$BENCH_DIR" in
  "" | / | /tmp | /root | /home | "$HOME" | "$REPO") die "refusing BENCH_DIR=$BENCH_DIR" ;;
esac
for v in CLIPS CLIP_MB BIG BIG_MB ROWS RUNS REPEAT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
(( CLIPS + BIG > 0 )) || die "CLIPS + BIG must be at least 1"
(( ROWS >= 4 )) || die "ROWS must be at least 4"
(( REPEAT >= 1 && RUNS >= 1 )) || die "REPEAT and RUNS must be at least 1"
[[ $BUILD == head || $BUILD == tree ]] || die "BUILD must be head or tree"
[[ -n ${RCLONE_TRANSFERS// /} ]] || die "RCLONE_TRANSFERS must list at least one value"

# ---------------------------------------------------------------- tools

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  log "installing $* with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null ||
    { as_root apt-get update >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null; }
}
missing=()
command -v sqlite3 >/dev/null || missing+=(sqlite3)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
if part ingest; then command -v rclone >/dev/null || missing+=(rclone); fi
if part catalog; then command -v hyperfine >/dev/null || missing+=(hyperfine); fi
if (( ${#missing[@]} )); then
  apt_install "${missing[@]}" || {
    # hyperfine is optional (a timing loop replaces it); the rest is not.
    missing=("${missing[@]/hyperfine/}")
    apt_install ${missing[@]} || die "cannot install ${missing[*]}"
  }
fi
HAVE_HYPERFINE=0
command -v hyperfine >/dev/null && HAVE_HYPERFINE=1

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
INBOX=$BENCH_DIR/inbox
RUNS_DIR=$BENCH_DIR/runs
CATDIR=$BENCH_DIR/catalog
LOGS=$BENCH_DIR/logs
rm -rf "$INBOX" "$RUNS_DIR" "$CATDIR" "$LOGS" "$BENCH_DIR/gen"
mkdir -p "$RUNS_DIR" "$LOGS" "$BENCH_DIR/bin" "$BENCH_DIR/gen"

CAMVAULT_GIVEN=${CAMVAULT:-}
if [[ -z ${CAMVAULT:-} ]]; then
  if [[ $BUILD == head ]]; then
    # The committed HEAD, exported and built on its own, so that work in progress in the
    # checkout neither breaks the build nor ends up in the numbers.
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
    CAMVAULT=$REPO/target/release/camvault
  fi
fi
# A private copy, so that a rebuild during the run cannot swap the binary under us.
cp "$CAMVAULT" "$BENCH_DIR/bin/camvault"
CV=$BENCH_DIR/bin/camvault

# ---------------------------------------------------------------- facts about this run

COMMIT=${HEAD_REV:-$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)}
COMMIT=${COMMIT:0:7}
if [[ -n ${CAMVAULT_GIVEN:-} ]]; then
  COMMIT="binary $CAMVAULT_GIVEN (checkout at $COMMIT)"
elif [[ $BUILD == tree && -n $(git -C "$REPO" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null) ]]; then
  COMMIT="$COMMIT plus uncommitted changes in src/"
fi
CV_VERSION=$("$CV" --version 2>&1 | head -1)
RCLONE_VERSION=$(command -v rclone >/dev/null && rclone --version 2>/dev/null | sed -n 1p || echo "not installed")
SQLITE_VERSION=$(sqlite3 --version | cut -d' ' -f1)
HYPERFINE_VERSION=$( ((HAVE_HYPERFINE)) && hyperfine --version || echo "not installed (timing loop)")
CPU_MODEL=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
MEM_TOTAL=$(free -h | awk '/^Mem:/{print $2}')
DISK=$(df -hT "$BENCH_DIR" | awk 'NR==2{print $1" ("$2"), "$3" total, "$5" free"}')
KERNEL=$(uname -r)
NOW_UTC=$(date -u +"%Y-%m-%d %H:%M UTC")

# ---------------------------------------------------------------- helpers

# measure NAME CMD...: runs CMD under /usr/bin/time -v; sets WALL_MS RSS_KB CPU_S READ_MIB OTHER_S RC
# and SYNC_MS (how long the `sync` right after took, i.e. the writeback left behind).
measure() {
  local name=$1; shift
  local t0 t1 s1
  RC=0
  local busy0 busy1
  busy0=$(busy_jiffies)
  t0=$(date +%s%N)
  /usr/bin/time -v -o "$LOGS/$name.time" "$@" >"$LOGS/$name.log" 2>&1 || RC=$?
  t1=$(date +%s%N)
  busy1=$(busy_jiffies)
  sync
  s1=$(date +%s%N)
  WALL_MS=$(( (t1 - t0) / 1000000 ))
  SYNC_MS=$(( (s1 - t1) / 1000000 ))
  RSS_KB=$(awk -F': ' '/Maximum resident set size/{print $2}' "$LOGS/$name.time")
  CPU_S=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.1f", u+s}' "$LOGS/$name.time")
  # "File system inputs" counts 512-byte blocks read from the disk, not the page cache.
  READ_MIB=$(awk -F': ' '/File system inputs/{printf "%.0f", $2 * 512 / 1048576}' "$LOGS/$name.time")
  # CPU the whole machine spent during the run beyond the measured command: kernel
  # writeback threads, and anything else running (a busy machine shows up here).
  OTHER_S=$(awk -v b=$(( busy1 - busy0 )) -v hz="$(getconf CLK_TCK)" -v own="$CPU_S" 'BEGIN{o = b / hz - own; printf "%.1f", (o < 0 ? 0 : o)}')
}
busy_jiffies() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

mb_per_s() { awk -v b="$1" -v ms="$2" 'BEGIN{ if (ms > 0) printf "%.0f", b / 1e6 / (ms / 1000); else print "-" }'; }
secs() { awk -v ms="$1" 'BEGIN{printf "%.2f", ms / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mib() { awk -v k="$1" 'BEGIN{printf "%.0f", k / 1024}'; }
human() { numfmt --to=iec-i --suffix=B --format='%.1f' "$1"; }
file_bytes() { local n=0 f; for f in "$@"; do [[ -e $f ]] && n=$(( n + $(stat -c %s "$f") )); done; echo "$n"; }

# Reads every inbox file once so that each tool starts with the same warm page cache.
warm_inbox() { find "$INBOX" -type f -print0 | xargs -0 cat >/dev/null; }

# configure CONFIG [FSYNC]: edits a fresh `camvault init` config for the benchmark.
configure() {
  local cfg=$1 fsync=${2:-true}
  sed -i \
    -e "s|^inbox = \"inbox\"\$|inbox = \"$INBOX\"|" \
    -e 's|^timezone = ""$|timezone = "UTC"|' \
    -e 's|^max_bytes = .*|max_bytes = "10 TiB"|' \
    -e 's|^max_days = .*|max_days = 36500|' \
    -e 's|^min_free = .*|min_free = 0|' \
    -e "s|^fsync = .*|fsync = $fsync|" \
    "$cfg"
  local want
  for want in "inbox = \"$INBOX\"" 'timezone = "UTC"' 'max_bytes = "10 TiB"' 'max_days = 36500' \
    'min_free = 0' "fsync = $fsync"; do
    grep -qxF "$want" "$cfg" || die "could not set '$want' in $cfg (did the init template change?)"
  done
}

# u32 N: the escape sequence (for printf) of N as 4 big-endian bytes.
u32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(( $1 >> 24 & 255 )) $(( $1 >> 16 & 255 )) $(( $1 >> 8 & 255 )) $(( $1 & 255 )); }
# box TYPE FILE...: an MP4 box around the concatenation of FILEs, on stdout.
box() {
  local type=$1; shift
  local n=8 f
  for f in "$@"; do n=$(( n + $(stat -c %s "$f") )); done
  # shellcheck disable=SC2059
  printf "$(u32 "$n")"; printf '%s' "$type"; cat "$@"
}

# A minimal MP4 header (ftyp, moov with a 60 s hvc1 2304x1296 video track, then an mdat
# that runs to the end of the file), so that capture reads real header facts instead of
# flagging every clip as "no readable MP4 header".
make_mp4_header() {
  local g=$BENCH_DIR/gen/mp4 out=$1
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

# ================================================================ part 1+2: ingest

declare -A WALL RSS CPU SYNC DISKREAD OTHER
INGEST_ROWS=()
if part ingest; then
  CLIP_BYTES=$(( CLIP_MB * 1048576 ))
  BIG_BYTES=$(( BIG_MB * 1048576 ))
  NFILES=$(( CLIPS + BIG ))
  need=$(( (CLIPS * CLIP_BYTES + BIG * BIG_BYTES) * 2 + (1 << 30) ))
  avail=$(( $(df -B1 --output=avail "$BENCH_DIR" | tail -1) ))
  (( avail > need )) || die "need about $(human "$need") free under $BENCH_DIR (inbox + one copy), have $(human "$avail"); lower CLIPS/BIG"

  log "generating the inbox: $CLIPS x $CLIP_MB MiB (old layout) + $BIG x $BIG_MB MiB (new layout)"
  t0=$(date +%s%N)
  HDR=$BENCH_DIR/gen/header.bin
  make_mp4_header "$HDR"
  block_mb=$(( CLIP_MB > BIG_MB ? CLIP_MB : BIG_MB ))
  BLOCK=$BENCH_DIR/gen/block.bin
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

  # check_tree DIR: the copy holds every inbox file with every byte. camvault's store also
  # holds its own objects, which are not inbox files: the fs store's metadata (.camvault/),
  # the day's manifests (manifests/) and the catalog backup (catalog/) that `ingest --once`
  # writes since the catalog backup and manifest issues.
  check_tree() {
    local n b skip=(\( -path "$1/.camvault" -o -path "$1/manifests" -o -path "$1/catalog" \) -prune -o)
    n=$(find "$1" "${skip[@]}" -type f -print | wc -l)
    b=$(find "$1" "${skip[@]}" -type f -printf '%s\n' | awk '{s+=$1} END{printf "%.0f\n", s}')
    [[ $n == "$INBOX_FILES" && $b == "$INBOX_BYTES" ]] ||
      die "$1 holds $n files / $b bytes, expected $INBOX_FILES / $INBOX_BYTES"
  }

  # record NAME REP: keeps this run's numbers (from `measure`) under "NAME.REP".
  record() {
    local k=$1.$2
    WALL[$k]=$WALL_MS RSS[$k]=$RSS_KB CPU[$k]=$CPU_S SYNC[$k]=$SYNC_MS DISKREAD[$k]=$READ_MIB OTHER[$k]=$OTHER_S
    log "$k: $(secs "$WALL_MS") s, $(mb_per_s "$INBOX_BYTES" "$WALL_MS") MB/s, peak RSS $(mib "$RSS_KB") MiB, CPU $CPU_S s (rest of the machine $OTHER_S s), read from disk $READ_MIB MiB, sync after $(secs "$SYNC_MS") s"
  }

  run_camvault() { # NAME REP FSYNC
    local name=$1 rep=$2 fsync=$3 d=$RUNS_DIR/$1
    rm -rf "$d"
    "$CV" init --dir "$d" >/dev/null
    configure "$d/camvault.toml" "$fsync"
    "$CV" --config "$d/camvault.toml" status >/dev/null || die "$name: config rejected"
    sync; warm_inbox
    log "$name.$rep: camvault ingest --once (fsync = $fsync)"
    measure "$name.$rep" "$CV" --config "$d/camvault.toml" ingest --once
    (( RC == 0 )) || { tail -20 "$LOGS/$name.$rep.log" >&2; die "$name: ingest exited $RC (log: $LOGS/$name.$rep.log)"; }
    local st verified warned
    st=$("$CV" --config "$d/camvault.toml" status --json)
    verified=$(jq '.files.verified' <<<"$st")
    (( verified == NFILES )) || die "$name: $verified verified, expected $NFILES"
    warned=$("$CV" --config "$d/camvault.toml" ls --json | jq '[.[] | select(.warning != null)] | length')
    (( warned == 0 )) || log "$name: WARNING: $warned rows carry a warning (see: camvault ls)"
    check_tree "$d/store"
    [[ $(find "$INBOX" -type f | wc -l) == "$INBOX_FILES" ]] || die "$name: the inbox lost files"
    CAT_BYTES=$(file_bytes "$d/catalog.sqlite" "$d/catalog.sqlite-wal")
    record "$name" "$rep"
    if [[ $name == camvault-fsync && $rep == 1 ]]; then
      measure verify "$CV" --config "$d/camvault.toml" verify
      (( RC == 0 )) || die "camvault verify exited $RC (log: $LOGS/verify.log)"
      VERIFY_MS=$WALL_MS
      cp "$d/camvault.toml" "$LOGS/camvault.toml"
    fi
    rm -rf "$d"; sync
  }

  run_rclone() { # NAME REP TRANSFERS
    local name=$1 rep=$2 t=$3 dest=$RUNS_DIR/$1
    rm -rf "$dest"; mkdir -p "$dest"
    : >"$BENCH_DIR/gen/rclone.conf"
    sync; warm_inbox
    log "$name.$rep: rclone copy --transfers $t"
    measure "$name.$rep" rclone --config "$BENCH_DIR/gen/rclone.conf" copy "$INBOX" "$dest" --transfers "$t"
    (( RC == 0 )) || { tail -20 "$LOGS/$name.$rep.log" >&2; die "$name: rclone exited $RC"; }
    check_tree "$dest"
    record "$name" "$rep"
    rm -rf "$dest"; sync
  }

  run_cp() { # NAME REP: the floor for a local copy, no checksums, one file at a time
    local name=$1 rep=$2 dest=$RUNS_DIR/$1
    rm -rf "$dest"
    sync; warm_inbox
    log "$name.$rep: cp -R"
    measure "$name.$rep" cp -R "$INBOX" "$dest"
    (( RC == 0 )) || { tail -20 "$LOGS/$name.$rep.log" >&2; die "$name: cp exited $RC"; }
    check_tree "$dest"
    record "$name" "$rep"
    rm -rf "$dest"; sync
  }

  run_one() { # NAME REP
    case $1 in
      camvault-fsync) run_camvault "$1" "$2" true ;;
      camvault-nofsync) run_camvault "$1" "$2" false ;;
      rclone-t*) run_rclone "$1" "$2" "${1#rclone-t}" ;;
      cp) run_cp "$1" "$2" ;;
    esac
  }

  INGEST_ROWS=(camvault-fsync camvault-nofsync)
  for t in $RCLONE_TRANSFERS; do INGEST_ROWS+=("rclone-t$t"); done
  [[ $CP_BASELINE == 1 ]] && INGEST_ROWS+=(cp)
  # Rounds: every configuration once per round, the order rotated each round so that no
  # tool always goes first (right after generation) or right after a given other tool.
  n_cfg=${#INGEST_ROWS[@]}
  for (( rep = 1; rep <= REPEAT; rep++ )); do
    for (( j = 0; j < n_cfg; j++ )); do
      run_one "${INGEST_ROWS[$(( (j + rep - 1) % n_cfg ))]}" "$rep"
    done
  done
  if [[ $KEEP_DATA != 1 ]]; then rm -rf "$INBOX"; sync; fi
fi

# ================================================================ part 3: catalog at ROWS rows

declare -A MEAN MAX
CAT_CMDS=()
if part catalog; then
  log "catalog: $ROWS rows"
  "$CV" init --dir "$CATDIR" >/dev/null
  configure "$CATDIR/camvault.toml"
  DB=$CATDIR/catalog.sqlite
  per_cam=$(( ROWS / 4 ))
  # The rows end now (one clip per minute per camera) unless that would not reach back to
  # DAY, the day `ls` asks for; then they start at DAY.
  now_min=$(( $(date +%s) / 60 * 60 ))
  T0=$(( (now_min - (per_cam + 1) * 60) * 1000 ))
  day0_ms=$(( $(date -u -d "$DAY 00:00:00" +%s) * 1000 ))
  (( T0 <= day0_ms )) || T0=$day0_ms
  TEND=$(( T0 + ((ROWS - 1) / 4) * 60000 ))
  DAY_MS=86400000
  PENDING_MS=$(( 2 * 3600000 ))   # the newest 2 h are still 'captured'
  cat >"$BENCH_DIR/gen/rows.sql" <<SQL
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1048576;
INSERT INTO cameras (id, mac, tz, first_seen_ms, last_start_ms, last_capture_ms)
  WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 4)
  SELECT 'cam' || n, printf('78df72a1b2c%d', n), 'UTC', $T0, $TEND, $TEND + 65000 FROM c;
BEGIN;
INSERT INTO files (camera, inbox_path, key, revision, layout, channel, start_ms, end_ms, size,
                   mtime_ns, dev, ino, duration_ms, codec, width, height, warning, state, crc64,
                   storage_class, attempts, last_error, next_attempt_ms, captured_ms,
                   uploaded_ms, verified_ms, purged_ms)
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < $ROWS - 1),
r AS (
  SELECT i, i % 4 + 1 AS n, 'cam' || (i % 4 + 1) AS cam, $T0 + (i / 4) * 60000 AS st,
         CASE WHEN $T0 + (i / 4) * 60000 > $TEND - $PENDING_MS THEN 'captured'
              WHEN i % 4999 = 17 THEN 'failed'
              ELSE 'verified' END AS state
  FROM seq
)
SELECT cam,
       CAST(printf('xiaomi_camera_videos/78DF72A1B2C%d/%s/%sM00S_%d.mp4', n,
                   strftime('%Y%m%d%H', st / 1000, 'unixepoch'), strftime('%M', st / 1000, 'unixepoch'), st / 1000) AS BLOB),
       printf('videos/%s/%s/%s/%sM00S_%d.mp4', cam, strftime('%Y-%m-%d', st / 1000, 'unixepoch'),
              strftime('%H', st / 1000, 'unixepoch'), strftime('%M', st / 1000, 'unixepoch'), st / 1000),
       1, 'xiaomi-old', NULL, st, st + 60000, 6500000 + (i * 7919) % 1000000,
       (st + 61000) * 1000000, 2049, 1000000 + i, 60000, 'hvc1', 2304, 1296,
       CASE WHEN i % 100003 = 5 THEN 'no readable MP4 header (truncated or not a video)' END,
       state,
       CASE WHEN state = 'verified' THEN printf('%016x', (i * 2654435761) % 9223372036854775807) END,
       CASE WHEN state = 'verified' THEN 'Standard' END,
       CASE WHEN state = 'failed' THEN 7 ELSE 0 END,
       CASE WHEN state = 'failed' THEN 'upload: cannot write store/.camvault/tmp/x: No space left on device (os error 28)' END,
       CASE WHEN state = 'failed' THEN $TEND + 3600000 ELSE 0 END,
       st + 65000,
       CASE WHEN state = 'verified' THEN st + 70000 END,
       CASE WHEN state = 'verified' THEN st + 71000 END,
       CASE WHEN state = 'verified' AND st < $TEND - 30 * $DAY_MS THEN st + 30 * $DAY_MS END
FROM r;
COMMIT;
SQL
  t0=$(date +%s%N)
  sqlite3 "$DB" <"$BENCH_DIR/gen/rows.sql" >/dev/null
  INSERT_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  sync
  n=$(sqlite3 "$DB" 'SELECT count(*) FROM files')
  STATS_SUM=$(sqlite3 "$DB" 'SELECT coalesce(sum(files), 0) FROM stats')
  (( n == ROWS )) || die "inserted $n rows, expected $ROWS"
  # The triggers' counters must equal a recount, per camera, state and local flag.
  STATS_DIFF=$(sqlite3 "$DB" "
    WITH s AS (SELECT camera, state, local, files, bytes FROM stats WHERE files != 0),
         f AS (SELECT camera, state, purged_ms IS NULL, count(*), sum(size) FROM files GROUP BY 1, 2, 3)
    SELECT (SELECT count(*) FROM (SELECT * FROM s EXCEPT SELECT * FROM f))
         + (SELECT count(*) FROM (SELECT * FROM f EXCEPT SELECT * FROM s))")
  STATS_OK=no
  [[ $STATS_SUM == "$ROWS" && $STATS_DIFF == 0 ]] && STATS_OK=yes
  [[ $STATS_OK == yes ]] || log "WARNING: stats disagree with files (sum $STATS_SUM, $STATS_DIFF differing groups)"
  CATALOG_ROWS_BYTES=$(file_bytes "$DB" "$DB-wal")
  STATES=$(sqlite3 "$DB" "SELECT group_concat(state || ' ' || n, ', ') FROM (SELECT state, count(*) n FROM files GROUP BY state)")
  SPAN=$(awk -v ms=$(( TEND - T0 )) 'BEGIN{printf "%.0f days, %.1f years", ms / 86400000, ms / 86400000 / 365.25}')
  log "inserted $ROWS rows in $(secs "$INSERT_MS") s ($STATES; $SPAN); catalog $(human "$CATALOG_ROWS_BYTES"); stats ok: $STATS_OK"
  {
    echo "-- query plans (no ANALYZE, as camvault leaves it)"
    for q in "SELECT camera, state, local, files, bytes FROM stats WHERE files != 0" \
      "SELECT min(captured_ms) FROM files WHERE state != 'verified'" \
      "SELECT key, coalesce(last_error, '') FROM files WHERE state != 'verified' AND last_error IS NOT NULL ORDER BY next_attempt_ms DESC LIMIT 5" \
      "SELECT f.camera, f.start_ms FROM files f LEFT JOIN cameras c ON c.id = f.camera WHERE f.camera = 'cam1' AND f.start_ms >= 0 AND f.start_ms < 1 ORDER BY f.start_ms, f.id LIMIT 9"; do
      echo "$q"; sqlite3 "$DB" "EXPLAIN QUERY PLAN $q"
    done
  } >"$LOGS/query-plans.txt" 2>&1

  CFG=$CATDIR/camvault.toml
  day_end=$(date -u -d "$DAY + 1 day" +%Y-%m-%d)
  declare -A CMD
  CMD[status]="$CV --config $CFG status"
  CMD[status-json]="$CV --config $CFG status --json"
  CMD[ls-day-json]="$CV --config $CFG ls --camera cam1 --from $DAY --to $day_end --json"
  CAT_CMDS=(status status-json ls-day-json)
  # Correctness first: each command succeeds and says what the catalog holds.
  $CV --config "$CFG" status >"$LOGS/status.out" 2>&1 || die "status failed: $(cat "$LOGS/status.out")"
  total=$($CV --config "$CFG" status --json | jq '.files.total')
  (( total == ROWS )) || die "status --json reports $total files, expected $ROWS"
  LS_ROWS=$($CV --config "$CFG" ls --camera cam1 --from "$DAY" --to "$day_end" --json | jq length)
  log "status --json: $total files; ls of one camera-day: $LS_ROWS rows"
  for c in "${CAT_CMDS[@]}"; do
    if (( HAVE_HYPERFINE )); then
      hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$LOGS/hf-$c.json" -n "$c" "${CMD[$c]}" \
        >"$LOGS/hf-$c.txt" 2>&1 || die "hyperfine $c failed: $(tail -5 "$LOGS/hf-$c.txt")"
      MEAN[$c]=$(jq '.results[0].mean * 1000 | . * 10 | round / 10' "$LOGS/hf-$c.json")
      MAX[$c]=$(jq '.results[0].max * 1000 | . * 10 | round / 10' "$LOGS/hf-$c.json")
    else
      for i in 1 2 3; do ${CMD[$c]} >/dev/null; done
      : >"$LOGS/loop-$c.txt"
      for (( i = 0; i < RUNS; i++ )); do
        t0=$(date +%s%N); ${CMD[$c]} >/dev/null; t1=$(date +%s%N)
        echo $(( t1 - t0 )) >>"$LOGS/loop-$c.txt"
      done
      MEAN[$c]=$(awk '{s+=$1} END{printf "%.1f", s / NR / 1e6}' "$LOGS/loop-$c.txt")
      MAX[$c]=$(awk '$1>m{m=$1} END{printf "%.1f", m / 1e6}' "$LOGS/loop-$c.txt")
    fi
    log "$c: mean ${MEAN[$c]} ms, max ${MAX[$c]} ms"
  done
  if [[ $KEEP_DATA != 1 ]]; then rm -rf "$CATDIR"; fi
fi

# ================================================================ report

# med ARRAY NAME [DECIMALS]: the median over the rounds of ARRAY["NAME.<round>"].
med() {
  local -n arr=$1
  local rep
  for (( rep = 1; rep <= REPEAT; rep++ )); do echo "${arr[$2.$rep]}"; done |
    sort -g | awk -v d="${3:-1}" '{v[NR] = $1} END{ if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s", (m == int(m) && d < 2) ? sprintf("%d", m) : sprintf("%." d "f", m) }'
}
label() {
  case $1 in
    camvault-fsync) echo '`camvault ingest --once`, fs store, fsync = true (default)' ;;
    camvault-nofsync) echo '`camvault ingest --once`, fs store, fsync = false' ;;
    rclone-t*) echo "\`rclone copy --transfers ${1#rclone-t}\`" ;;
    cp) echo '`cp -R` (baseline: no checksum, no catalog)' ;;
  esac
}

{
  echo "## camvault benchmark, $NOW_UTC"
  echo
  echo "- machine: $(nproc) cores ($CPU_MODEL), $MEM_TOTAL RAM, disk $DISK, Linux $KERNEL"
  echo "- camvault $COMMIT ($CV_VERSION); $RCLONE_VERSION; sqlite3 $SQLITE_VERSION; hyperfine: $HYPERFINE_VERSION"
  echo "- scale: CLIPS=$CLIPS CLIP_MB=$CLIP_MB BIG=$BIG BIG_MB=$BIG_MB ROWS=$ROWS RUNS=$RUNS REPEAT=$REPEAT"
  if part ingest; then
    echo
    echo "### Ingest: $INBOX_FILES files, $(human "$INBOX_BYTES") ($INBOX_BYTES bytes), inbox warm in the page cache"
    echo
    base=rclone-t$(set -- $RCLONE_TRANSFERS; echo "$1")
    echo "Median of $REPEAT rounds (order rotated each round); MB/s = 10^6 bytes per second of wall time."
    echo
    echo "\"time / $base\" is the median of the per-round ratios (each run against the $base run of"
    echo "its own round), which is steadier than a ratio of medians when the machine's speed drifts."
    echo
    echo "| run | wall s | MB/s | time / $base | peak RSS MiB | CPU s (user+sys) | read from disk MiB | \`sync\` after, s |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for r in "${INGEST_ROWS[@]}"; do
      w=$(med WALL "$r")
      declare -A PAIR=()
      for (( rep = 1; rep <= REPEAT; rep++ )); do
        PAIR[$r.$rep]=$(ratio "${WALL[$r.$rep]}" "${WALL[$base.$rep]}")
      done
      echo "| $(label "$r") | $(secs "$w") | $(mb_per_s "$INBOX_BYTES" "$w") | $(med PAIR "$r" 2) | $(mib "$(med RSS "$r")") | $(med CPU "$r") | $(med DISKREAD "$r") | $(secs "$(med SYNC "$r")") |"
    done
    echo
    echo "Every run:"
    echo
    echo "| round | run | wall s | MB/s | CPU s | CPU s of the rest of the machine | read from disk MiB | \`sync\` after, s |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|"
    for (( rep = 1; rep <= REPEAT; rep++ )); do
      for (( j = 0; j < n_cfg; j++ )); do
        r=${INGEST_ROWS[$(( (j + rep - 1) % n_cfg ))]}
        k=$r.$rep
        echo "| $rep | $(label "$r") | $(secs "${WALL[$k]}") | $(mb_per_s "$INBOX_BYTES" "${WALL[$k]}") | ${CPU[$k]} | ${OTHER[$k]} | ${DISKREAD[$k]} | $(secs "${SYNC[$k]}") |"
      done
    done
    echo
    echo "- catalog after ingest (catalog.sqlite + -wal): $(human "$CAT_BYTES") for $INBOX_FILES files"
    echo "- \`camvault verify\` afterwards (size + CRC-64 of every object): $(secs "$VERIFY_MS") s"
    echo "- generating the inbox took $(secs "$GEN_MS") s"
  fi
  if part catalog; then
    echo
    echo "### Catalog with $ROWS rows ($STATES; 4 cameras, one clip per minute each, $SPAN)"
    echo
    echo "| command | mean ms | max ms | target | met |"
    echo "|---|---:|---:|---:|:-:|"
    for c in "${CAT_CMDS[@]}"; do
      case $c in
        status) label='`camvault status`' ;;
        status-json) label='`camvault status --json`' ;;
        ls-day-json) label="\`camvault ls --camera cam1 --from $DAY --to $day_end --json\` ($LS_ROWS rows)" ;;
      esac
      met=$(awk -v m="${MEAN[$c]}" -v x="${MAX[$c]}" -v t=$TARGET_MS 'BEGIN{ if (m < t && x < t) print "yes"; else if (m < t) print "mean only"; else print "NO" }')
      echo "| $label | ${MEAN[$c]} | ${MAX[$c]} | < $TARGET_MS | $met |"
    done
    echo
    echo "- catalog file at $ROWS rows: $(human "$CATALOG_ROWS_BYTES") ($CATALOG_ROWS_BYTES bytes)"
    echo "- inserting the rows with the sqlite3 CLI (triggers on): $(secs "$INSERT_MS") s"
    echo "- trigger-kept \`stats\` match a recount of \`files\`: $STATS_OK (sum(files) = $STATS_SUM)"
  fi
} | tee "$BENCH_DIR/results.md"
log "results: $BENCH_DIR/results.md; logs: $LOGS"
