"""librdkafka (confluent-kafka 2.16.1) as an independent peer for kafkacc's
interop tests. Run by tests/src/rdkafka.rs.

  produce BOOTSTRAP TOPIC COUNT CODEC   keyed "key-i" -> "rdkafka-i", headers h=v, h=w;
                                        partitioner murmur2_random (the Java-compatible one)
  consume BOOTSTRAP TOPIC COUNT         every partition from the start; one line per record:
                                        partition \t offset \t key \t value \t headers
"""
import sys
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


if __name__ == "__main__":
    mode, bootstrap, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if mode == "produce":
        produce(bootstrap, topic, count, sys.argv[5])
    elif mode == "consume":
        consume(bootstrap, topic, count)
    else:
        sys.exit(f"unknown mode {mode}")
