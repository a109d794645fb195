#!/bin/sh
# Builds the Debian package in one command: debian/build.sh
# -> target/debian/camvault_<version>-1_<arch>.deb (docs/packaging.md).
# Needs cargo-deb (`cargo install cargo-deb --locked`).
#   --binary FILE   package FILE instead of building the release binary (CI packages the
#                   binary its tests already built: see docs/packaging.md)
#   other arguments go to cargo deb (e.g. --deb-version 0.1.0-2)
set -eu
cd "$(dirname "$0")/.."

T="${CARGO_TARGET_DIR:-target}"
# `camvault --version` names the commit; cargo rebuilds when it changes.
CAMVAULT_COMMIT="${CAMVAULT_COMMIT:-$(git describe --always --dirty 2>/dev/null || true)}"
export CAMVAULT_COMMIT

BIN=""
if [ "${1:-}" = "--binary" ]; then
    BIN="$2"
    shift 2
fi
if [ -z "$BIN" ]; then
    cargo build --release --locked
    BIN="$T/release/camvault"
fi

# Generated assets: man pages, completions, the packaged config (cargo-deb's assets name them).
G="$T/release/package"
rm -rf "$G"
mkdir -p "$G/man" "$G/completions"
cp "$BIN" "$G/camvault"
"$G/camvault" generate man "$G/man" >/dev/null
gzip -9n "$G"/man/*.1
"$G/camvault" generate completions "$G/completions" >/dev/null
debian/packaged-config.sh docs/camvault.example.toml > "$G/camvault.toml"

cargo deb --no-build --locked --strip "$@"
