#!/usr/bin/env bash
# The Debian package's test (issue 16, docs/packaging.md), run by .ci/run after the cargo
# tests: builds the .deb, lints it, installs it on this machine, checks files, owners, modes
# and the service user, verifies the unit, drives `camvault setup` from an answers file
# against the real smbd (Debian's smb.conf plus camvault's include, on a test port: there is
# no systemd as PID 1 in CI, so smbd is started by hand), proves with the installed binary
# that the share refuses deletes and that a clip written over SMB1 reaches the store, drives
# the interactive setup once in tmux, upgrades, removes and purges.
#
# It changes the machine (the camvault package and user, a camera user, /etc/camvault,
# /etc/samba, /var/lib/camvault): it starts by undoing what an earlier run left, and undoes
# everything on exit, so it is safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "package test: needs root (it installs the package); skipped" >&2
  exit 0
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
T="$CARGO_TARGET_DIR"
CAMVAULT_COMMIT="${CAMVAULT_COMMIT:-$(git describe --always --dirty 2>/dev/null || true)}"
export CAMVAULT_COMMIT
PY="${CAMVAULT_TEST_PYTHON:-$PWD/.venv-test/bin/python}"
CAM=camvpkgcam            # the camera's system user (not `camera`: this machine may have one)
PW='Cam-pkg-test-1'
PORT=44916
SHARE=camera
WORK=$(mktemp -d /tmp/camvault-pkg.XXXXXX)
SMBD_PID=""
SERVE_PID=""
MOTO_PID=""
HOLDER=""
t0=$SECONDS
step() { echo "== package: $* (+$((SECONDS - t0)) s)"; }
fail() { echo "FAIL package: $*" >&2; exit 1; }
mode() { stat -c '%U:%G %a' "$1"; }
expect_mode() { [ "$(mode "$1")" = "$2" ] || fail "$1 is $(mode "$1"), expected $2"; }
smb() { smbclient "//127.0.0.1/$SHARE" -p "$PORT" -U "$CAM%$PW" \
  --option='client min protocol=NT1' --option='client max protocol=NT1' -c "$1" 2>&1 || true; }

# Stops a process this script started: SIGTERM, then SIGKILL after 5 s.
stop() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null
}
undo() {
  set +e
  [ -n "$SERVE_PID" ] && stop "$SERVE_PID"
  [ -n "$SMBD_PID" ] && stop "$SMBD_PID"
  [ -n "$MOTO_PID" ] && stop "$MOTO_PID"
  [ -n "$HOLDER" ] && stop "$HOLDER"
  tmux kill-session -t camvault-pkg 2>/dev/null
  if dpkg-query -W camvault >/dev/null 2>&1; then dpkg --purge camvault >/dev/null 2>&1; fi
  rm -rf /var/lib/camvault /etc/camvault /etc/samba/camvault.conf
  if [ -f /etc/samba/smb.conf.camvault-pkg-test ]; then
    mv /etc/samba/smb.conf.camvault-pkg-test /etc/samba/smb.conf
  fi
  if id "$CAM" >/dev/null 2>&1; then
    pdbedit -x "$CAM" >/dev/null 2>&1
    userdel "$CAM"
  fi
  id camvault >/dev/null 2>&1 && userdel camvault
  getent group camvault >/dev/null && groupdel camvault
  set -e
}
undo
trap 'undo; rm -rf "$WORK"' EXIT

step "cargo-deb"
if ! command -v cargo-deb >/dev/null; then
  s=$SECONDS
  cargo install cargo-deb --locked --quiet
  echo "cargo install cargo-deb: $((SECONDS - s)) s"
fi

# The package holds the binary the cargo tests just built and tested (deps at opt-level 2,
# camvault's own code unoptimised; cargo-deb strips it): a release build would add minutes
# to CI for the same files, owners, scripts and behaviour under test here.
# CAMVAULT_PACKAGE_RELEASE=1 builds and tests the release package instead.
if [ "${CAMVAULT_PACKAGE_RELEASE:-}" = 1 ]; then
  step "release build and package (debian/build.sh)"
  s=$SECONDS
  debian/build.sh >/dev/null
  echo "release build + package: $((SECONDS - s)) s"
else
  step "package the tested binary (debian/build.sh --binary target/debug/camvault)"
  cargo build --locked --quiet # a no-op after the cargo tests
  s=$SECONDS
  debian/build.sh --binary "$T/debug/camvault" --fast >/dev/null
  echo "package: $((SECONDS - s)) s"
fi
# cargo deb empties target/debian: keep this build for the reinstall after the upgrade.
cp "$(ls "$T"/debian/camvault_*-1_amd64.deb)" "$WORK/"
DEB=$(ls "$WORK"/camvault_*-1_amd64.deb)
COMMIT="$CAMVAULT_COMMIT"

step "lintian"
# Tags left are explained in debian/lintian-overrides (shipped) and docs/packaging.md.
lintian --fail-on error,warning --suppress-tags-from-file /dev/null "$DEB" | tee "$WORK/lintian.txt"
if grep -E '^[EW]: ' "$WORK/lintian.txt"; then fail "lintian errors or warnings"; fi

step "install (apt-get install ./camvault.deb: dpkg -i plus its dependencies)"
apt-get install -y -qq -o DPkg::Lock::Timeout=300 "$DEB" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; fail "install"; }
grep -q "Next: sudo camvault setup" "$WORK/install.log" || fail "postinst did not point to camvault setup"

step "installed files, owners, modes, the service user"
expect_mode /usr/bin/camvault "root:root 755"
expect_mode /etc/camvault "root:camvault 750"
expect_mode /etc/camvault/camvault.toml "camvault:camvault 600"
expect_mode /var/lib/camvault "camvault:camvault 750"
expect_mode /var/lib/camvault/inbox "camvault:camvault 2770"
for d in vault store cache restores; do expect_mode "/var/lib/camvault/$d" "camvault:camvault 700"; done
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd camvault)
[ "$uid" -lt 1000 ] && [ "$shell" = /usr/sbin/nologin ] && [ "$home" = /var/lib/camvault ] ||
  fail "camvault user: uid $uid, home $home, shell $shell"
dpkg-query -W -f='${Conffiles}\n' camvault | grep -q '/etc/camvault/camvault.toml' || fail "camvault.toml is not a conffile"
dpkg-query -W -f='${Depends}\n' camvault | tee "$WORK/depends" | grep -q 'samba-vfs-modules' || fail "Depends"
grep -q 'libc6' "$WORK/depends" || fail "Depends lacks the linked libraries: $(cat "$WORK/depends")"
dpkg-query -W -f='${Recommends}\n' camvault | grep -q 'ffmpeg, smbclient' || fail "Recommends"
zcat /usr/share/man/man1/camvault.1.gz | grep -q 'camvault' || fail "man page"
zcat /usr/share/man/man1/camvault-setup.1.gz | grep -q 'Xiaomi' || fail "setup's man page"
grep -q 'camvault' /usr/share/bash-completion/completions/camvault || fail "bash completion"
[ -s /usr/share/zsh/vendor-completions/_camvault ] && [ -s /usr/share/fish/vendor_completions.d/camvault.fish ] || fail "completions"
camvault --version | tee "$WORK/version"
grep -qF "(commit $COMMIT)" "$WORK/version" || fail "--version does not name commit $COMMIT"
# The packaged config loads (all paths under /var/lib/camvault) as the service user.
runuser -u camvault -- camvault --config /etc/camvault/camvault.toml samba config >/dev/null || fail "packaged config"

step "systemd unit"
UNIT=/lib/systemd/system/camvault.service
[ -f "$UNIT" ] || UNIT=/usr/lib/systemd/system/camvault.service
systemd-analyze verify "$UNIT" 2>&1 | tee "$WORK/verify.txt"
if grep -v -e '^$' "$WORK/verify.txt" | grep -qv 'Cannot check'; then fail "systemd-analyze verify"; fi
systemd-analyze security --offline=true "$UNIT" >"$WORK/security.txt" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for camvault.service: \([0-9.]*\).*/\1/p' "$WORK/security.txt")
echo "systemd-analyze security: exposure $score"
[ -n "$score" ] || { cat "$WORK/security.txt"; fail "no exposure score"; }
awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' || fail "exposure $score > 2.5 (docs/packaging.md records 1.x)"

step "Debian's smbd on port $PORT, started by hand (no systemd here)"
cp /etc/samba/smb.conf /etc/samba/smb.conf.camvault-pkg-test
sed -i "s/^\[global\]\$/[global]\n   smb ports = $PORT/" /etc/samba/smb.conf
mkdir -p /run/samba
# Its own process group (setsid): smbd signals its whole group when it stops.
setsid /usr/sbin/smbd --foreground --no-process-group -s /etc/samba/smb.conf </dev/null >"$WORK/smbd.out" 2>&1 &
SMBD_PID=$!
for _ in $(seq 100); do smbcontrol smbd ping >/dev/null 2>&1 && break; sleep 0.2; done
smbcontrol smbd ping >/dev/null || fail "smbd did not start: $(cat "$WORK/smbd.out")"

step "camvault setup --answers (fs store)"
cat >"$WORK/answers.toml" <<EOF
camera_user = "$CAM"
camera_password = "$PW"
hosts_allow = ["127.0.0.1"]
port = $PORT
grace_secs = 2
start_service = true
[[cameras]]
mac = "78:DF:72:A1:B2:C3"
name = "front"
timezone = "Asia/Shanghai"
[store]
kind = "fs"
EOF
camvault setup --answers "$WORK/answers.toml" 2>&1 | tee "$WORK/setup.txt"
grep -q "share / folder:   $SHARE" "$WORK/setup.txt" || fail "setup did not say what to type into the app"
grep -q "user name:        $CAM" "$WORK/setup.txt" || fail "setup did not name the camera user"
expect_mode /etc/camvault/camvault.toml "camvault:camvault 600"
expect_mode /etc/camvault/samba-password "camvault:camvault 600"
expect_mode /var/lib/camvault/inbox "$CAM:camvault 2770"
grep -q '^include = /etc/samba/camvault.conf\|^   include = /etc/samba/camvault.conf' /etc/samba/smb.conf || fail "no include in smb.conf"
grep -q '78df72a1b2c3' /etc/camvault/camvault.toml || fail "camera not in the config"
sha_before=$(sha256sum /etc/camvault/camvault.toml)

step "the share as the camera (SMB1): a clip reaches the store, deletes are refused"
ffmpeg -loglevel error -f lavfi -i testsrc=size=320x240:rate=10 -t 2 -c:v libx265 -tag:v hvc1 \
  -movflags +frag_keyframe+empty_moov "$WORK/clip.mp4" 2>/dev/null ||
  ffmpeg -loglevel error -f lavfi -i testsrc=size=320x240:rate=10 -t 2 "$WORK/clip.mp4"
DIRN=XiaomiCamera_00_78DF72A1B2C3
CLIP=00_20260101120000_20260101120100.mp4
out=$(smb "mkdir $DIRN; put $WORK/clip.mp4 $DIRN\\$CLIP")
[ -f "/var/lib/camvault/inbox/$DIRN/$CLIP" ] || fail "the clip did not arrive over SMB1: $out"
expect_mode "/var/lib/camvault/inbox/$DIRN/$CLIP" "$CAM:camvault 660"
# serve as the unit runs it: the service user, the packaged config.
cp -p /etc/camvault/camvault.toml "$WORK/camvault.toml.setup"
# hold_secs: the clip is a fragmented MP4, which camvault otherwise holds back from upload
# until it has been quiet for an hour (the camera appends to it in bursts; docs/cameras.md).
sed -i -e 's/^settle_secs = .*/settle_secs = 1/' -e 's/^hold_secs = .*/hold_secs = 1/' -e 's/^listen = "127.0.0.1:8640"/listen = "127.0.0.1:0"/' /etc/camvault/camvault.toml
# Its stderr stands for the journal's stream ($JOURNAL_STREAM names it, as systemd does):
# camvault must then write journal-style lines, without its own timestamps or colours.
: >"$WORK/serve.log"
JS=$(stat -c '%d:%i' "$WORK/serve.log")
runuser -u camvault -- env JOURNAL_STREAM="$JS" camvault serve >>"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 150); do
  find /var/lib/camvault/store -name "$CLIP" | grep -q . && break
  sleep 0.2
done
find /var/lib/camvault/store -name "$CLIP" | grep -q "videos/front/2026-01-01/12/$CLIP" ||
  { cat "$WORK/serve.log"; fail "the clip did not reach the store"; }
cmp "$WORK/clip.mp4" "$(find /var/lib/camvault/store -name "$CLIP" | head -1)" || fail "stored bytes differ"
stop "$SERVE_PID"; SERVE_PID=""
grep -q 'INFO' "$WORK/serve.log" || { cat "$WORK/serve.log"; fail "serve logged nothing"; }
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T|'$'\e' "$WORK/serve.log" && { cat "$WORK/serve.log"; fail "timestamps or colours in journal output"; }
runuser -u camvault -- camvault verify || fail "verify"
# The attack: the camera account deletes the clip once the grace period (2 s) has passed.
sleep 3 # vfs_worm judges by ctime: only time makes the file old
out=$(smb "del $DIRN\\$CLIP")
echo "$out" | grep -q NT_STATUS_ACCESS_DENIED || fail "delete over SMB1 was not refused: $out"
[ -f "/var/lib/camvault/inbox/$DIRN/$CLIP" ] || fail "the clip was deleted"
cp -p "$WORK/camvault.toml.setup" /etc/camvault/camvault.toml

step "interactive setup in tmux: the current answers are the defaults"
tmux new-session -d -s camvault-pkg -x 200 -y 50 "camvault setup; echo SETUP-EXIT=\$?; sleep 600"
wait_screen() {
  for _ in $(seq 300); do
    tmux capture-pane -p -t camvault-pkg -S -200 >"$WORK/screen.txt"
    grep -qF -- "$1" "$WORK/screen.txt" && return 0
    sleep 0.2
  done
  cat "$WORK/screen.txt"; fail "the screen never showed: $1"
}
wait_screen "keep camera 78df72a1b2c3 (front)? (Y/n)"; tmux send-keys -t camvault-pkg Enter
wait_screen "empty = done):"; tmux send-keys -t camvault-pkg Enter
wait_screen "camera's SMB user name [$CAM]:"; tmux send-keys -t camvault-pkg Enter
wait_screen "empty = keep the current one):"; tmux send-keys -t camvault-pkg Enter
wait_screen "comma separated) [127.0.0.1]:"; tmux send-keys -t camvault-pkg Enter
wait_screen "or oss (Aliyun) [fs]:"; tmux send-keys -t camvault-pkg Enter
wait_screen "enable and start camvault.service now? (Y/n)"; tmux send-keys -t camvault-pkg n Enter
wait_screen "SETUP-EXIT="
grep -q "SETUP-EXIT=0" "$WORK/screen.txt" || { cat "$WORK/screen.txt"; fail "interactive setup failed"; }
grep -q "share / folder:   $SHARE" "$WORK/screen.txt" || fail "interactive setup did not end with the app's settings"
grep -q "$PW" "$WORK/screen.txt" && fail "the password was echoed"
[ "$(sha256sum /etc/camvault/camvault.toml)" = "$sha_before" ] || fail "a rerun with every default changed the config"
tmux kill-session -t camvault-pkg

step "setup's failures leave everything as it was"
conf_sha=$(sha256sum /etc/camvault/camvault.toml)
# An unreachable store: the store test fails before anything is written.
sed -e 's/^kind = "fs"/kind = "s3"\nendpoint = "http:\/\/127.0.0.1:9"\nregion = "us-east-1"\nbucket = "cam-archive"\npath_style = true\naccess_key_id = "AKIAPKGTEST"\nsecret = "pkg-test-secret"/' \
  "$WORK/answers.toml" >"$WORK/answers-unreachable.toml"
if timeout 300 camvault setup --answers "$WORK/answers-unreachable.toml" >"$WORK/setup-bad.txt" 2>&1; then
  fail "setup succeeded with an unreachable store"
fi
grep -q "nothing was changed" "$WORK/setup-bad.txt" || { cat "$WORK/setup-bad.txt"; fail "no clear message for an unreachable store"; }
[ "$(sha256sum /etc/camvault/camvault.toml)" = "$conf_sha" ] || fail "a failed setup changed the config"
ls -A /etc/camvault | grep -v -x -e camvault.toml -e samba-password && fail "a failed setup left files in /etc/camvault"
grep -q pkg-test-secret "$WORK/setup-bad.txt" && fail "the secret was printed"
# Port 445 (here the test port of another program) taken by something that is not smbd.
"$PY" -c 'import socket,sys,time; s=socket.socket(); s.bind(("0.0.0.0", 44917)); s.listen(); sys.stdout.write("ok\n"); sys.stdout.flush(); time.sleep(120)' >"$WORK/holder.out" &
HOLDER=$!
for _ in $(seq 50); do grep -q ok "$WORK/holder.out" && break; sleep 0.1; done
sed -e 's/^port = .*/port = 44917/' "$WORK/answers.toml" >"$WORK/answers-port.toml"
if camvault setup --answers "$WORK/answers-port.toml" >"$WORK/setup-port.txt" 2>&1; then fail "setup accepted a port held by another program"; fi
stop "$HOLDER"
grep -q "port 44917 is taken by another program, not Samba's smbd" "$WORK/setup-port.txt" || { cat "$WORK/setup-port.txt"; fail "no clear message for a taken port"; }
[ "$(sha256sum /etc/camvault/camvault.toml)" = "$conf_sha" ] || fail "a failed setup changed the config"

if [ -x "$(dirname "$PY")/moto_server" ]; then
  step "setup with a moto S3 bucket"
  MOTO_PORT=44918
  setsid "$(dirname "$PY")/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null && break; sleep 0.2; done
  "$PY" -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$MOTO_PORT', region_name='us-east-1', aws_access_key_id='a', aws_secret_access_key='b').create_bucket(Bucket='cam-archive')"
  sed -e "s/^kind = \"fs\"/kind = \"s3\"\nendpoint = \"http:\/\/127.0.0.1:$MOTO_PORT\"\nregion = \"us-east-1\"\nbucket = \"cam-archive\"\npath_style = true\naccess_key_id = \"AKIAPKGTEST\"\nsecret = \"pkg-test-secret\"/" \
    -e 's/^start_service = true/start_service = true\nlifecycle_apply = true/' "$WORK/answers.toml" >"$WORK/answers-s3.toml"
  camvault setup --answers "$WORK/answers-s3.toml" >"$WORK/setup-s3.txt" 2>&1 || { cat "$WORK/setup-s3.txt"; fail "setup with moto"; }
  grep -q pkg-test-secret "$WORK/setup-s3.txt" && fail "the secret was printed"
  expect_mode /etc/camvault/s3-credentials "camvault:camvault 600"
  grep -q 'pkg-test-secret' /etc/camvault/s3-credentials || fail "credentials file"
  grep -q 'pkg-test-secret' /etc/camvault/camvault.toml && fail "the secret is in the config"
  grep -q '^kind = "s3"' /etc/camvault/camvault.toml || fail "store kind not s3"
  runuser -u camvault -- camvault lifecycle check >/dev/null || fail "setup did not apply the lifecycle rule"
  stop "$MOTO_PID"
  # Back to the fs store for what follows.
  camvault setup --answers "$WORK/answers.toml" >/dev/null 2>&1 || fail "setup back to fs"
fi

step "upgrade keeps config and data"
cargo deb --no-build --locked --strip --fast --deb-version 0.1.0-2 >/dev/null 2>&1 || fail "second package build"
echo "# kept across upgrades" >>/etc/camvault/camvault.toml
sha_before=$(sha256sum /etc/camvault/camvault.toml)
catalog_before=$(sha256sum /var/lib/camvault/catalog.sqlite)
apt-get install -y -qq -o DPkg::Lock::Timeout=300 "$T"/debian/camvault_0.1.0-2_amd64.deb >"$WORK/upgrade.log" 2>&1 ||
  { cat "$WORK/upgrade.log"; fail "upgrade"; }
[ "$(dpkg-query -W -f='${Version}' camvault)" = 0.1.0-2 ] || fail "not upgraded"
[ "$(sha256sum /etc/camvault/camvault.toml)" = "$sha_before" ] || fail "the upgrade changed the config"
[ "$(sha256sum /var/lib/camvault/catalog.sqlite)" = "$catalog_before" ] || fail "the upgrade changed the catalog"
expect_mode /etc/camvault/camvault.toml "camvault:camvault 600"
expect_mode /var/lib/camvault/inbox "$CAM:camvault 2770"
find /var/lib/camvault/store -name "$CLIP" | grep -q . || fail "the upgrade lost the stored clip"

step "remove keeps config and data; purge removes config, keeps recordings and says so"
dpkg --remove camvault >/dev/null
[ -f /etc/camvault/camvault.toml ] && [ -f "/var/lib/camvault/inbox/$DIRN/$CLIP" ] || fail "remove deleted config or data"
dpkg --purge camvault >"$WORK/purge.txt" 2>&1
cat "$WORK/purge.txt"
[ ! -e /etc/camvault ] || fail "purge left /etc/camvault"
[ ! -e /etc/samba/camvault.conf ] || fail "purge left /etc/samba/camvault.conf"
grep -q 'camvault.conf' /etc/samba/smb.conf && fail "purge left the include in smb.conf"
[ -f "/var/lib/camvault/inbox/$DIRN/$CLIP" ] || fail "purge deleted a recording"
grep -q "purge kept /var/lib/camvault" "$WORK/purge.txt" || fail "purge did not say it kept the recordings"
# Without recordings, purge removes the data directory too.
rm -rf /var/lib/camvault
apt-get install -y -qq -o DPkg::Lock::Timeout=300 "$DEB" >/dev/null 2>&1 || fail "reinstall"
dpkg --purge camvault >/dev/null 2>&1
[ ! -e /var/lib/camvault ] || fail "purge left an empty data directory"

step "done: $((SECONDS - t0)) s"
