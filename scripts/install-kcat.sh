#!/usr/bin/env bash
# Makes kcat (Debian's 1.7.1) usable for the interop tests and prints two
# tab-separated fields: the kcat binary and a folder to put on
# LD_LIBRARY_PATH. Debian's kcat links Debian's librdkafka 2.0.2, which
# cannot parse Tansu's tagged fields (broker README); the folder holds a
# librdkafka.so.1 that is the librdkafka 2.16 shipped in the hash-pinned
# confluent-kafka wheel (scripts/install-librdkafka.sh). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KAFKACC_CACHE:-$HOME/.cache/kafkacc}"
mkdir -p "$cache"

if ! command -v kcat >/dev/null 2>&1; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "install-kcat.sh: installing kcat (Debian)" >&2
        exec 9>"$cache/.kcat.lock"
        flock 9
        command -v kcat >/dev/null 2>&1 || {
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >&2
        }
    else
        echo "install-kcat.sh: kcat is missing; install it (Debian/Ubuntu: apt-get install kcat)" >&2
        exit 1
    fi
fi

python="$("$here/install-librdkafka.sh")"
lib="$("$python" -c 'import confluent_kafka, glob, os; print(glob.glob(os.path.join(os.path.dirname(confluent_kafka.__file__), "..", "confluent_kafka.libs", "librdkafka-*.so*"))[0])')"
libdir="$cache/kcat-librdkafka-2.16.1"
mkdir -p "$libdir"
ln -sf "$(readlink -f "$lib")" "$libdir/librdkafka.so.1"
if ! LD_LIBRARY_PATH="$libdir" kcat -V 2>&1 | grep -q "librdkafka 2.16"; then
    echo "install-kcat.sh: kcat does not load librdkafka 2.16 from $libdir" >&2
    LD_LIBRARY_PATH="$libdir" kcat -V >&2 || true
    exit 1
fi
printf '%s\t%s\n' "$(command -v kcat)" "$libdir"
