#!/usr/bin/env bash
# Starts a local Apache Kafka 4.1.1 with secured listeners for kafkacc's TLS
# and SASL tests (tests/src/secure_broker.rs runs it), all on 127.0.0.1.
#
#   scripts/secure-kafka.sh start --dir DIR [--watch-pid PID] [--reauth-ms MS]
#       Generates a test CA and certificates under DIR/certs (openssl), formats
#       storage with SCRAM credentials, starts the broker with its log in
#       DIR/broker.log, waits (at most 60 s) for the PLAINTEXT listener to
#       answer, then prints one line per listener and exits 0:
#           PLAINTEXT=127.0.0.1:PORT
#           SSL=127.0.0.1:PORT             server certificate only
#           MTLS=127.0.0.1:PORT            SSL with ssl.client.auth=required
#           SASL_PLAINTEXT=127.0.0.1:PORT  PLAIN, SCRAM-SHA-256, SCRAM-SHA-512,
#                                          OAUTHBEARER (Kafka's default: unsecured tokens)
#           SASL_SSL=127.0.0.1:PORT        the same mechanisms over TLS
#           REAUTH=127.0.0.1:PORT          SASL_PLAINTEXT, connections.max.reauth.ms=MS (default 3000)
#           CERTS=DIR/certs
#           PID=<broker pid>
#           LOG=DIR/broker.log
#       With --watch-pid, a detached watchdog stops the broker once PID is gone.
#   scripts/secure-kafka.sh stop DIR
#
# The user `alice` (password `alice-secret`) exists for every mechanism, and
# `bob` (password `bob-secret`) for PLAIN. The StandardAuthorizer runs with
# allow.everyone.if.no.acl.found=true, so a resource without ACLs is open to
# everyone and the ACL tests restrict only their own topics; the PLAINTEXT
# and controller listeners' ANONYMOUS principal is a super user.
# Certificates (PEM, in DIR/certs): ca.pem (the CA that signed the broker's
# and the client's certificates), server.pem (SAN localhost and 127.0.0.1),
# client.pem + client.key (a client certificate for MTLS), other-ca.pem (an
# unrelated CA, for "wrong CA" tests).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
READY_TIMEOUT_S=${KAFKACC_BROKER_READY_TIMEOUT_S:-60}
STOP_GRACE_S=10
STORE_PASS=kafkacc-test-store

usage() {
    echo "usage: $0 start --dir DIR [--watch-pid PID] [--reauth-ms MS]" >&2
    echo "       $0 stop DIR" >&2
    exit 2
}

free_ports() {
    python3 -c '
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
' "$1"
}

alive() {
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat="${stat##*) }"
    [[ "${stat%% *}" != Z ]]
}

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

# Waits until the PLAINTEXT listener answers ApiVersions v0 and Metadata v0
# lists a broker, failing early if process $2 dies.
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
            if struct.unpack(">h", call(s, 18, 1)[:2])[0] != 0:
                raise ValueError("ApiVersions error")
            if struct.unpack(">i", call(s, 3, 2, struct.pack(">i", 0))[:4])[0] > 0:
                sys.exit(0)
            last = "Metadata lists no broker yet"
    except (OSError, ValueError, struct.error) as e:
        last = repr(e)
    time.sleep(0.05)
sys.exit(f"not ready after {timeout:.0f}s ({last})")
PY
}

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

# A P-256 CA: $1 = file stem, $2 = common name.
make_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1.key" -out "$1.pem" -days 7 -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# A leaf signed by ca: $1 = stem, $2 = common name, $3 = extensions.
make_leaf() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1.key.tmp" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
    # PKCS#8, the form both rustls and Java read.
    openssl pkcs8 -topk8 -nocrypt -in "$1.key.tmp" -out "$1.key"
    rm -f "$1.key.tmp"
    printf '%b' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
        -days 7 -out "$1.pem" -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

make_certs() {
    local certs=$1
    mkdir -p "$certs"
    (
        cd "$certs"
        make_ca ca "kafkacc test CA"
        make_ca other-ca "kafkacc unrelated CA"
        make_leaf server localhost "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        make_leaf client kafkacc-client "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
        openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem -name server \
            -out server.p12 -passout "pass:$STORE_PASS"
    )
}

fail() {
    local dir=$1 msg=$2
    echo "secure-kafka.sh: $msg" >&2
    if [[ -f "$dir/broker.log" ]]; then
        echo "---- last 40 lines of $dir/broker.log ----" >&2
        tail -n 40 "$dir/broker.log" >&2
        echo "----" >&2
    fi
    if [[ -n "${broker_pid:-}" ]]; then stop_pid "$broker_pid"; fi
    exit 1
}

cmd_start() {
    local dir="" watch="" reauth_ms=3000
    while (($#)); do
        case "$1" in
            --dir) dir="${2:?}"; shift 2 ;;
            --watch-pid) watch="${2:?}"; shift 2 ;;
            --reauth-ms) reauth_ms="${2:?}"; shift 2 ;;
            *) usage ;;
        esac
    done
    [[ -n "$dir" ]] || usage
    command -v openssl >/dev/null || { echo "secure-kafka.sh: openssl not found (needed for test certificates)" >&2; exit 1; }
    if [[ -n "$watch" ]] && ! alive "$watch"; then
        echo "secure-kafka.sh: --watch-pid $watch is not a live process" >&2
        exit 1
    fi
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    : >"$dir/broker.log"
    rm -rf "$dir/data" "$dir/certs"
    broker_pid=""

    local libs home certs
    libs="$("$here/install-kafka.sh")"
    home="$(dirname "$libs")"
    certs="$dir/certs"
    make_certs "$certs" || fail "$dir" "cannot generate test certificates"

    local -A port=()
    local name
    local names=(PLAINTEXT SSL MTLS SASL_PLAINTEXT SASL_SSL REAUTH CONTROLLER)
    # All at once, every socket held until all are bound, so no two
    # listeners get the same port (one at a time, the OS may hand a port
    # out twice: Kafka then refuses the config).
    local -a free=($(free_ports "${#names[@]}"))
    local i
    for i in "${!names[@]}"; do
        port[${names[$i]}]=${free[$i]}
    done
    local listeners="" advertised="" jaas=""
    for name in PLAINTEXT SSL MTLS SASL_PLAINTEXT SASL_SSL REAUTH; do
        listeners+="$name://127.0.0.1:${port[$name]},"
        advertised+="$name://127.0.0.1:${port[$name]},"
    done
    listeners+="CONTROLLER://127.0.0.1:${port[CONTROLLER]}"
    advertised="${advertised%,}"
    for name in sasl_plaintext sasl_ssl reauth; do
        jaas+="listener.name.$name.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\" user_bob=\"bob-secret\";
listener.name.$name.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$name.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$name.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
"
    done

    cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${port[CONTROLLER]}
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,REAUTH:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
num.partitions=1
ssl.keystore.type=PKCS12
ssl.keystore.location=$certs/server.p12
ssl.keystore.password=$STORE_PASS
ssl.key.password=$STORE_PASS
ssl.client.auth=none
listener.name.mtls.ssl.client.auth=required
listener.name.mtls.ssl.truststore.type=PEM
listener.name.mtls.ssl.truststore.location=$certs/ca.pem
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=true
super.users=User:ANONYMOUS
$jaas
listener.name.reauth.plain.connections.max.reauth.ms=$reauth_ms
listener.name.reauth.scram-sha-256.connections.max.reauth.ms=$reauth_ms
listener.name.reauth.scram-sha-512.connections.max.reauth.ms=$reauth_ms
listener.name.reauth.oauthbearer.connections.max.reauth.ms=$reauth_ms
EOF

    local -a jvm=(java -Xmx512m -Xms64m -XX:+UseSerialGC -Xshare:auto -XX:+ExitOnOutOfMemoryError
        -Djava.awt.headless=true
        -Dlog4j2.configurationFile="$home/log4j2.xml" -Dkafka.logs.dir="$dir"
        -cp "$libs/*")
    local cluster_id
    cluster_id="$("${jvm[@]}" kafka.tools.StorageTool random-uuid 2>>"$dir/broker.log")"
    if ! "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
            --add-scram 'SCRAM-SHA-256=[name=alice,password=alice-secret]' \
            --add-scram 'SCRAM-SHA-512=[name=alice,password=alice-secret]' >>"$dir/broker.log" 2>&1; then
        fail "$dir" "kafka storage format failed"
    fi

    (cd "$dir" && exec setsid "${jvm[@]}" kafka.Kafka "$dir/server.properties" </dev/null >>"$dir/broker.log" 2>&1) &
    broker_pid=$!
    echo "$broker_pid" >"$dir/broker.pid"
    if [[ -n "$watch" ]]; then start_watchdog "$watch" "$broker_pid" "$dir"; fi

    local why
    if ! why="$(wait_ready "${port[PLAINTEXT]}" "$broker_pid" 2>&1)"; then
        fail "$dir" "secured kafka did not become ready: $why"
    fi
    echo "secure-kafka.sh: ready, pid $broker_pid, log $dir/broker.log" >&2
    for name in PLAINTEXT SSL MTLS SASL_PLAINTEXT SASL_SSL REAUTH; do
        echo "$name=127.0.0.1:${port[$name]}"
    done
    echo "CERTS=$certs"
    echo "PID=$broker_pid"
    echo "LOG=$dir/broker.log"
}

cmd_stop() {
    local dir="${1:-}"
    [[ -n "$dir" && -f "$dir/broker.pid" ]] || usage
    stop_pid "$(cat "$dir/broker.pid")"
    rm -f "$dir/broker.pid"
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    *) usage ;;
esac
