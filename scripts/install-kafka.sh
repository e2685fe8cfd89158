#!/usr/bin/env bash
# Installs the Apache Kafka 4.1.1 broker (its runtime jar closure from Maven
# Central, see scripts/kafka/pom.xml) into a cache and prints the libs dir.
#
#   scripts/install-kafka.sh        -> prints $CACHE/kafka-4.1.1/libs
#
# CACHE is ${KAFKACC_CACHE:-$HOME/.cache/kafkacc}. A second run finds the
# completion marker and touches no network. Also writes
# $CACHE/kafka-4.1.1/log4j2.xml, which logs to ${sys:kafka.logs.dir}/broker.log.
set -euo pipefail

KAFKA_VERSION=4.1.1
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KAFKACC_CACHE:-$HOME/.cache/kafkacc}"
home="$cache/kafka-$KAFKA_VERSION"
marker="$home/.complete"

if [[ -f "$marker" && -d "$home/libs" ]]; then
    echo "$home/libs"
    exit 0
fi

mkdir -p "$cache"
# Serialise concurrent installs (two test binaries may start at once); the
# loser re-checks the marker once it gets the lock.
exec 9>"$cache/.kafka-$KAFKA_VERSION.lock"
flock 9
if [[ -f "$marker" && -d "$home/libs" ]]; then
    echo "$home/libs"
    exit 0
fi

command -v mvn >/dev/null || { echo "install-kafka: mvn not found (Apache Maven is needed to fetch the broker jars)" >&2; exit 1; }
command -v java >/dev/null || { echo "install-kafka: java not found" >&2; exit 1; }

tmp="$(mktemp -d "$cache/.kafka-$KAFKA_VERSION.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# Run Maven on a copy of the pom so no target/ appears inside the source tree.
cp "$here/kafka/pom.xml" "$tmp/pom.xml"
echo "install-kafka: downloading Apache Kafka $KAFKA_VERSION jars from Maven Central..." >&2
start_ms=$(($(date +%s%N) / 1000000))
# -C: fail on checksum mismatch instead of warning.
if ! (cd "$tmp" && mvn -B -q -C dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp/home/libs" >"$tmp/mvn.log" 2>&1); then
    echo "install-kafka: maven failed:" >&2
    tail -n 50 "$tmp/mvn.log" >&2
    exit 1
fi
elapsed_ms=$(($(date +%s%N) / 1000000 - start_ms))
jars=$(find "$tmp/home/libs" -name '*.jar' | wc -l)
# Sanity: the broker, its client library and the log4j backend must be there.
for jar in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-clients-$KAFKA_VERSION.jar" log4j-core-2.24.3.jar log4j-slf4j-impl-2.24.3.jar; do
    [[ -f "$tmp/home/libs/$jar" ]] || { echo "install-kafka: $jar missing from the download" >&2; exit 1; }
done
printf 'install-kafka: %d jars downloaded in %d.%03ds\n' "$jars" $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) >&2

# One file appender; the broker start script sets -Dkafka.logs.dir=DIR.
# The request logger is very chatty at INFO/DEBUG, so keep it at WARN.
cat >"$tmp/home/log4j2.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="${sys:kafka.logs.dir}/broker.log" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.raft" level="WARN"/>
    <Logger name="kafka.log.LogCleaner" level="WARN"/>
    <Root level="INFO">
      <AppenderRef ref="file"/>
    </Root>
  </Loggers>
</Configuration>
XML

# Marker last, then an atomic rename into place (after clearing any
# half-finished leftover from an interrupted run).
date -u +%FT%TZ >"$tmp/home/.complete"
rm -rf "$home"
mv "$tmp/home" "$home"
echo "$home/libs"
