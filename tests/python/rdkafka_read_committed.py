"""librdkafka (confluent-kafka 2.16.1) reading a topic with an explicit
isolation level, for kafkacc's transaction tests (tests/tests/it/transactions.rs).

  ISOLATION BOOTSTRAP TOPIC COUNT   ISOLATION is read_committed or read_uncommitted; reads every
                                    partition from the start until COUNT records arrived (60 s at
                                    most), then 2 s more so extra records show up; one line per
                                    record: partition \t offset \t value. Exit 1 if fewer than COUNT.
"""
import sys
import time

from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING


def main(isolation, bootstrap, topic, count):
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "kafkacc-txn-unused",
        "enable.auto.commit": False,
        "isolation.level": isolation,
    })
    metadata = consumer.list_topics(topic, timeout=30)
    partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.topics[topic].partitions]
    consumer.assign(partitions)
    seen = 0
    deadline = time.time() + 60
    extra_until = None
    while time.time() < deadline:
        if seen >= count and extra_until is None:
            extra_until = time.time() + 2
        if extra_until is not None and time.time() >= extra_until:
            break
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            sys.exit(f"consume error: {msg.error()}")
        value = msg.value().decode() if msg.value() is not None else ""
        print(f"{msg.partition()}\t{msg.offset()}\t{value}", flush=True)
        seen += 1
    consumer.close()
    sys.exit(0 if seen >= count else 1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
