#!/usr/bin/env bash
# Installs librdkafka (inside the confluent-kafka wheel, hash-pinned) into a
# virtualenv in the cache and prints that venv's python. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KAFKACC_CACHE:-$HOME/.cache/kafkacc}"
venv="$cache/venv-rdkafka-2.16.1"
if [[ -f "$venv/.complete" ]]; then
    echo "$venv/bin/python"
    exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/.venv-rdkafka.lock"
flock 9
if [[ ! -f "$venv/.complete" ]]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: --require-hashes \
        -r "$here/../tests/python/requirements.txt" >&2
    touch "$venv/.complete"
fi
echo "$venv/bin/python"
