"""librdkafka (confluent-kafka 2.16.1) as an independent peer for kafkacc's
interop tests. Run by tests/src/rdkafka.rs.

  produce BOOTSTRAP TOPIC COUNT CODEC   keyed "key-i" -> "rdkafka-i", headers h=v, h=w;
                                        partitioner murmur2_random (the Java-compatible one)
  consume BOOTSTRAP TOPIC COUNT         every partition from the start; one line per record:
                                        partition \t offset \t key \t value \t headers
  group BOOTSTRAP TOPIC GROUP SECONDS [ASSIGNOR]
                                        a member of GROUP (classic protocol) subscribed to TOPIC, with
                                        ASSIGNOR "range" (the default) or "cooperative-sticky"; one line
                                        per record: partition \t offset \t value; on rebalances
                                        "assigned\tP,P,..." (partitions added) / "revoked\tP,P,..." and
                                        "lost\tP,P,..." (partitions removed: all with range, only the
                                        moving ones with cooperative-sticky); commits each record
                                        synchronously (and what is left on revoke); leaves after SECONDS
                                        or when stdin closes
"""
import os
import sys
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING


def produce(bootstrap, topic, count, codec):
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "compression.codec": codec,
        "partitioner": "murmur2_random",
        "linger.ms": 5,
    })
    failures = []

    def report(err, msg):
        if err is not None:
            failures.append(str(err))
        else:
            print(f"{msg.partition()}\t{msg.offset()}")

    for i in range(count):
        producer.produce(topic, key=f"key-{i}", value=f"rdkafka-{i}",
                         headers=[("h", b"v"), ("h", b"w")], on_delivery=report)
        producer.poll(0)
    remaining = producer.flush(60)
    if failures or remaining:
        sys.exit(f"delivery failed: {failures[:3]} remaining={remaining}")


def consume(bootstrap, topic, count):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "kafkacc-interop-unused",
                         "enable.auto.commit": False})
    metadata = consumer.list_topics(topic, timeout=30)
    partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.topics[topic].partitions]
    consumer.assign(partitions)
    seen = 0
    deadline = time.time() + 60
    while seen < count and time.time() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            sys.exit(f"consume error: {msg.error()}")
        headers = "".join(f"{k}={v.decode() if v is not None else 'null'}," for k, v in (msg.headers() or []))
        print(f"{msg.partition()}\t{msg.offset()}\t{msg.key().decode()}\t{msg.value().decode()}\t{headers}")
        seen += 1
    consumer.close()
    sys.exit(0 if seen >= count else 1)


def group(bootstrap, topic, group_id, seconds, assignor):
    stop = threading.Event()

    def watch_stdin():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "group.protocol": "classic",
        "partition.assignment.strategy": assignor,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "max.poll.interval.ms": 20000,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
    })
    pending = {}

    def commit_pending():
        if not pending:
            return
        offsets = [TopicPartition(topic, p, o) for p, o in pending.items()]
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
            pending.clear()
        except Exception as e:  # noqa: BLE001 - reported, retried on revoke
            print(f"commit failed: {e}", file=sys.stderr, flush=True)

    def partition_list(parts):
        return ",".join(str(p.partition) for p in parts)

    def on_assign(c, parts):
        print(f"assigned\t{partition_list(parts)}", flush=True)

    def on_revoke(c, parts):
        commit_pending()
        print(f"revoked\t{partition_list(parts)}", flush=True)

    def on_lost(c, parts):
        for p in parts:
            pending.pop(p.partition, None)
        print(f"lost\t{partition_list(parts)}", flush=True)

    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    deadline = time.time() + seconds
    while not stop.is_set() and time.time() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            print(f"consume error: {msg.error()}", file=sys.stderr, flush=True)
            continue
        value = msg.value().decode() if msg.value() is not None else ""
        print(f"{msg.partition()}\t{msg.offset()}\t{value}", flush=True)
        pending[msg.partition()] = msg.offset() + 1
        commit_pending()
    consumer.close()


if __name__ == "__main__":
    mode, bootstrap, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "group":
        assignor = sys.argv[6] if len(sys.argv) > 6 else "range"
        group(bootstrap, topic, sys.argv[4], int(sys.argv[5]), assignor)
        sys.exit(0)
    count = int(sys.argv[4])
    if mode == "produce":
        produce(bootstrap, topic, count, sys.argv[5])
    elif mode == "consume":
        consume(bootstrap, topic, count)
    else:
        sys.exit(f"unknown mode {mode}")
