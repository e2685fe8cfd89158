#!/usr/bin/env bash
# Starts and stops a single local test broker on 127.0.0.1.
#
#   scripts/broker.sh start kafka|tansu|fake --dir DIR [--watch-pid PID]
#       Installs the broker if needed, starts it in the background with its
#       state and log (DIR/broker.log) under DIR, waits (at most 60 s) until it
#       answers ApiVersions and lists itself in Metadata, then prints
#           BOOTSTRAP=127.0.0.1:PORT
#           PID=<broker pid>
#           LOG=DIR/broker.log
#           READY_MS=<milliseconds from launch to ready>
#       and exits 0, leaving the broker running. With --watch-pid, a detached
#       watchdog stops the broker as soon as process PID is gone (so a test
#       binary that exits or panics never leaves an orphan broker behind).
#   scripts/broker.sh stop DIR
#       Stops the broker started with --dir DIR (SIGTERM, SIGKILL after 10 s).
#
# See shared/broker/README.md of the project for the facts behind the config.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
READY_TIMEOUT_S=${KAFKACC_BROKER_READY_TIMEOUT_S:-60}
STOP_GRACE_S=10

usage() {
    echo "usage: $0 start kafka|tansu|fake --dir DIR [--watch-pid PID]" >&2
    echo "       $0 stop [--dir] DIR" >&2
    exit 2
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# A free TCP port on 127.0.0.1 (bind port 0, read it back, release it; the
# tiny window before the broker binds it is acceptable for tests).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Is process $1 running? (A zombie is not: the reaper of an orphan may be slow.)
alive() {
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat="${stat##*) }"
    [[ "${stat%% *}" != Z ]]
}

# SIGTERM, then SIGKILL after the grace period. Works on non-children too.
stop_pid() {
    local pid=$1 i
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < STOP_GRACE_S * 10; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# Waits until 127.0.0.1:$1 answers ApiVersions v0 (correlation id 1, error 0)
# and a Metadata v0 response lists at least one broker (so clients can
# bootstrap at once; Kafka 4.1 opens its port only once unfenced, but an
# older or other broker may not), failing early if process $2 dies.
wait_ready() {
    python3 - "$1" "$2" "$READY_TIMEOUT_S" <<'PY'
import socket, struct, sys, time

port, pid, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False

def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf

def call(s, api_key, corr, body=b""):
    # Request header v1: api key, api version 0, correlation id, null client id.
    req = struct.pack(">hhih", api_key, 0, corr, -1) + body
    s.sendall(struct.pack(">i", len(req)) + req)
    size = struct.unpack(">i", recv_exact(s, 4))[0]
    resp = recv_exact(s, size)
    if struct.unpack(">i", resp[:4])[0] != corr:
        raise ValueError("wrong correlation id")
    return resp[4:]

deadline = time.monotonic() + timeout
last = "no attempt"
while time.monotonic() < deadline:
    if not alive(pid):
        sys.exit(f"broker process {pid} exited")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(5)
            error = struct.unpack(">h", call(s, 18, 1)[:2])[0]  # ApiVersions v0
            if error != 0:
                raise ValueError(f"ApiVersions error code {error}")
            brokers = struct.unpack(">i", call(s, 3, 2, struct.pack(">i", 0))[:4])[0]  # Metadata v0
            if brokers > 0:
                sys.exit(0)
            last = "Metadata lists no broker yet"
    except (OSError, ValueError, struct.error) as e:
        last = repr(e)
    time.sleep(0.05)
sys.exit(f"not ready after {timeout:.0f}s ({last})")
PY
}

# Detached loop: when the watched process is gone, stop the broker and drop
# its data (the log stays for post-mortems). Leaves stdio closed so whoever
# reads our stdout is not kept waiting.
start_watchdog() {
    local watch=$1 broker=$2 dir=$3
    # shellcheck disable=SC2016 # the loop body expands in the watchdog shell
    setsid bash -c "STOP_GRACE_S=$STOP_GRACE_S; $(declare -f alive stop_pid)"'
        watch=$1 broker=$2 dir=$3
        while alive "$watch" && alive "$broker"; do sleep 0.5; done
        stop_pid "$broker"
        rm -rf "$dir/data"
    ' watchdog "$watch" "$broker" "$dir" </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watchdog.pid"
}

start_kafka() {
    local dir=$1 libs home port cport cluster_id
    libs="$("$here/install-kafka.sh")"
    home="$(dirname "$libs")"
    port=$(free_port)
    cport=$(free_port)
    while [[ "$cport" == "$port" ]]; do cport=$(free_port); done

    # The config from the broker README; a fresh log dir per run (a restart on
    # an old dir waits ~9 s for the previous registration to expire).
    cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Abort timed-out transactions within a second (default 10 s), so the
# transaction-timeout test does not wait long.
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
auto.create.topics.enable=true
num.partitions=1
# Kafka's defaults, spelled out: flushing is left to the OS page cache.
log.flush.interval.messages=9223372036854775807
log.flush.offset.checkpoint.interval.ms=60000
EOF

    # Small heap, serial GC (one broker on a 2-core machine), CDS if available.
    local -a jvm=(java -Xmx512m -Xms64m -XX:+UseSerialGC -Xshare:auto -XX:+ExitOnOutOfMemoryError
        -Djava.awt.headless=true
        -Dlog4j2.configurationFile="$home/log4j2.xml" -Dkafka.logs.dir="$dir"
        -cp "$libs/*")

    cluster_id="$("${jvm[@]}" kafka.tools.StorageTool random-uuid 2>>"$dir/broker.log")"
    if ! "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" >>"$dir/broker.log" 2>&1; then
        fail "$dir" "kafka storage format failed"
    fi

    launch_ms=$(now_ms)
    # exec in a subshell that is not a group leader, so setsid does not fork
    # and $! is the JVM's own pid. Log4j and the JVM's stdio both append to
    # broker.log (O_APPEND on both sides, so lines do not clobber each other).
    (cd "$dir" && exec setsid "${jvm[@]}" kafka.Kafka "$dir/server.properties" </dev/null >>"$dir/broker.log" 2>&1) &
    broker_pid=$!
    bootstrap="127.0.0.1:$port"
}

start_tansu() {
    local dir=$1 bin port
    bin="$("$here/install-tansu.sh")"
    port=$(free_port)
    launch_ms=$(now_ms)
    # cwd = DIR so no stray .env of the caller is picked up; no colours in the log.
    (cd "$dir" && NO_COLOR=1 CLUSTER_ID=kafkacc exec setsid "$bin" broker \
        --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine memory://tansu/ </dev/null >>"$dir/broker.log" 2>&1) &
    broker_pid=$!
    bootstrap="127.0.0.1:$port"
}

# The in-process fake cluster (fake/, crate kafkacc-fake) as a process of
# its own, for manual runs and other clients (the Rust test harness runs it
# inside the test process instead). KAFKACC_FAKE_BROKERS=N brokers (default
# 1); BOOTSTRAP names the first, the others are in Metadata. Building takes
# cargo's lock on target/, so do not call this from inside `cargo test`.
start_fake() {
    local dir=$1 root bin port
    root="$(cd "$here/.." && pwd)"
    bin="$root/target/debug/kafkacc-fake"
    if ! (cd "$root" && cargo build -q -p kafkacc-fake) >>"$dir/broker.log" 2>&1; then
        fail "$dir" "cargo build -p kafkacc-fake failed"
    fi
    port=$(free_port)
    launch_ms=$(now_ms)
    (cd "$dir" && exec setsid "$bin" --port "$port" --brokers "${KAFKACC_FAKE_BROKERS:-1}" \
        --log "$dir/broker.log" </dev/null >>"$dir/broker.log" 2>&1) &
    broker_pid=$!
    bootstrap="127.0.0.1:$port"
}

# Reports a failed start with the log tail, stops a half-started broker, exits 1.
fail() {
    local dir=$1 msg=$2
    echo "broker.sh: $msg" >&2
    if [[ -f "$dir/broker.log" ]]; then
        echo "---- last 40 lines of $dir/broker.log ----" >&2
        tail -n 40 "$dir/broker.log" >&2
        echo "----" >&2
    fi
    if [[ -n "${broker_pid:-}" ]]; then stop_pid "$broker_pid"; fi
    exit 1
}

cmd_start() {
    local kind="${1:-}" dir="" watch=""
    [[ "$kind" == kafka || "$kind" == tansu || "$kind" == fake ]] || usage
    shift
    while (($#)); do
        case "$1" in
            --dir) dir="${2:?}"; shift 2 ;;
            --watch-pid) watch="${2:?}"; shift 2 ;;
            *) usage ;;
        esac
    done
    [[ -n "$dir" ]] || usage
    if [[ -n "$watch" ]] && ! alive "$watch"; then
        echo "broker.sh: --watch-pid $watch is not a live process" >&2
        exit 1
    fi
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [[ -f "$dir/broker.pid" ]] && alive "$(cat "$dir/broker.pid")"; then
        echo "broker.sh: a broker already runs for $dir (pid $(cat "$dir/broker.pid"))" >&2
        exit 1
    fi
    : >"$dir/broker.log"
    rm -rf "$dir/data"
    broker_pid=""

    "start_$kind" "$dir"
    echo "$broker_pid" >"$dir/broker.pid"
    # Arm the watchdog before waiting, so even a start that hangs is cleaned up.
    if [[ -n "$watch" ]]; then start_watchdog "$watch" "$broker_pid" "$dir"; fi

    local why
    if ! why="$(wait_ready "${bootstrap#*:}" "$broker_pid" 2>&1)"; then
        fail "$dir" "$kind broker did not become ready: $why"
    fi
    local ready_ms=$(($(now_ms) - launch_ms))
    echo "$bootstrap" >"$dir/bootstrap"
    echo "broker.sh: $kind ready at $bootstrap in $(secs $ready_ms)s (launch to ApiVersions+Metadata answered), pid $broker_pid, log $dir/broker.log" >&2
    echo "BOOTSTRAP=$bootstrap"
    echo "PID=$broker_pid"
    echo "LOG=$dir/broker.log"
    echo "READY_MS=$ready_ms"
}

cmd_stop() {
    # `stop DIR` or, like `start`, `stop --dir DIR`.
    [[ "${1:-}" == "--dir" ]] && shift
    local dir="${1:-}"
    [[ -n "$dir" ]] || usage
    [[ -f "$dir/broker.pid" ]] || { echo "broker.sh: no broker.pid in $dir" >&2; exit 1; }
    stop_pid "$(cat "$dir/broker.pid")"
    # The watchdog notices the broker is gone and exits by itself.
    rm -f "$dir/broker.pid"
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    *) usage ;;
esac
