#!/bin/sh
# Builds the Debian package in one command: debian/build.sh
# -> target/debian/camvault_<version>-1_<arch>.deb (docs/packaging.md).
# Needs cargo-deb (`cargo install cargo-deb --locked`). With --no-build it packages the
# release binary already in target/release (CI builds it just before).
set -eu
cd "$(dirname "$0")/.."

T="${CARGO_TARGET_DIR:-target}"
# `camvault --version` names the commit; cargo rebuilds when it changes.
CAMVAULT_COMMIT="${CAMVAULT_COMMIT:-$(git describe --always --dirty 2>/dev/null || true)}"
export CAMVAULT_COMMIT

if [ "${1:-}" != "--no-build" ]; then
    cargo build --release --locked
fi

# Generated assets: man pages, completions, the packaged config (cargo-deb's assets name them).
G="$T/release/package"
rm -rf "$G"
mkdir -p "$G/man" "$G/completions"
"$T/release/camvault" generate man "$G/man" >/dev/null
gzip -9n "$G"/man/*.1
"$T/release/camvault" generate completions "$G/completions" >/dev/null
debian/packaged-config.sh docs/camvault.example.toml > "$G/camvault.toml"

cargo deb --no-build --locked "$@" 2>&1 | grep -v '^warning: .*--no-build' || true
ls "$T"/debian/camvault_*.deb
