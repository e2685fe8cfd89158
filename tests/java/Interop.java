// The Java client (kafka-clients 4.1.1) as an independent peer for kafkacc's
// interop tests. Compiled and run by tests/src/java.rs.
//
//   produce BOOTSTRAP TOPIC COUNT CODEC   keyed records "key-i" -> "java-i", header h=v
//   consume BOOTSTRAP TOPIC COUNT         every partition from the start; one line per
//                                         record: partition \t offset \t key \t value \t headers
//   transactions BOOTSTRAP TOPIC COUNT    COUNT records "committed-i" in a committed transaction,
//                                         COUNT "aborted-i" in an aborted one, COUNT "after-i" committed
//   group BOOTSTRAP TOPIC GROUP SECONDS [ASSIGNOR]
//                                         a member of GROUP (classic protocol) subscribed to TOPIC, with
//                                         ASSIGNOR "range" (the default) or "cooperative-sticky"; one line
//                                         per record: partition \t offset \t value; on rebalances
//                                         "assigned\tP,P,..." (partitions added) / "revoked\tP,P,..." and
//                                         "lost\tP,P,..." (partitions removed: all of them with range,
//                                         only the moving ones with cooperative-sticky); commits after each
//                                         poll (and on revoke); leaves after SECONDS or when stdin closes
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class Interop {
    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "produce" -> produce(args[1], args[2], Integer.parseInt(args[3]), args[4]);
            case "consume" -> System.exit(consume(args[1], args[2], Integer.parseInt(args[3])) ? 0 : 1);
            case "transactions" -> transactions(args[1], args[2], Integer.parseInt(args[3]));
            case "group" -> group(args[1], args[2], args[3], Integer.parseInt(args[4]),
                    args.length > 5 ? args[5] : "range");
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    static void produce(String bootstrap, String topic, int count, String codec) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("compression.type", codec);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, "key-" + i, "java-" + i);
                r.headers().add("h", "v".getBytes()).add("h", "w".getBytes());
                sent.add(producer.send(r));
            }
            for (Future<RecordMetadata> f : sent) {
                RecordMetadata m = f.get();
                System.out.println(m.partition() + "\t" + m.offset());
            }
        }
    }

    static void transactions(String bootstrap, String topic, int count) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("transactional.id", "kafkacc-interop-" + topic);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            producer.initTransactions();
            String[][] phases = {{"committed", "commit"}, {"aborted", "abort"}, {"after", "commit"}};
            for (String[] phase : phases) {
                producer.beginTransaction();
                for (int i = 0; i < count; i++) {
                    producer.send(new ProducerRecord<>(topic, "key-" + i, phase[0] + "-" + i));
                }
                producer.flush();
                if (phase[1].equals("commit")) {
                    producer.commitTransaction();
                } else {
                    producer.abortTransaction();
                }
            }
        }
    }

    static boolean consume(String bootstrap, String topic, int count) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("enable.auto.commit", "false");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo info : consumer.partitionsFor(topic)) {
                parts.add(new TopicPartition(topic, info.partition()));
            }
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            int seen = 0;
            long deadline = System.currentTimeMillis() + 60_000;
            while (seen < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    StringBuilder headers = new StringBuilder();
                    for (Header h : r.headers()) {
                        headers.append(h.key()).append('=').append(h.value() == null ? "null" : new String(h.value())).append(',');
                    }
                    System.out.println(r.partition() + "\t" + r.offset() + "\t" + r.key() + "\t" + r.value() + "\t" + headers);
                    seen++;
                }
            }
            return seen >= count;
        }
    }

    static String partitionList(Collection<TopicPartition> parts) {
        StringBuilder b = new StringBuilder();
        for (TopicPartition tp : parts) {
            if (b.length() > 0) {
                b.append(',');
            }
            b.append(tp.partition());
        }
        return b.toString();
    }

    static volatile boolean stop = false;

    static String assignorClass(String name) {
        return switch (name) {
            case "range" -> "org.apache.kafka.clients.consumer.RangeAssignor";
            case "cooperative-sticky" -> "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";
            default -> throw new IllegalArgumentException("unknown assignor " + name);
        };
    }

    static void group(String bootstrap, String topic, String group, int seconds, String assignor) {
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // wait for EOF
                }
            } catch (Exception e) {
                // treat as EOF
            }
            stop = true;
        });
        stdin.setDaemon(true);
        stdin.start();
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("group.id", group);
        p.put("group.protocol", "classic");
        p.put("partition.assignment.strategy", assignorClass(assignor));
        p.put("session.timeout.ms", "6000");
        p.put("heartbeat.interval.ms", "1000");
        p.put("max.poll.interval.ms", "20000");
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("fetch.max.wait.ms", "100");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        Map<TopicPartition, OffsetAndMetadata> pending = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                    // Whatever a failed commit left behind goes now, while
                    // the generation is still valid.
                    if (!pending.isEmpty()) {
                        try {
                            consumer.commitSync(pending);
                            pending.clear();
                        } catch (Exception e) {
                            System.err.println("commit on revoke failed: " + e);
                        }
                    }
                    System.out.println("revoked\t" + partitionList(parts));
                    System.out.flush();
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> parts) {
                    pending.keySet().removeAll(parts);
                    System.out.println("lost\t" + partitionList(parts));
                    System.out.flush();
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                    System.out.println("assigned\t" + partitionList(parts));
                    System.out.flush();
                }
            });
            long deadline = System.currentTimeMillis() + seconds * 1000L;
            while (!stop && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    System.out.println(r.partition() + "\t" + r.offset() + "\t" + r.value());
                    pending.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                System.out.flush();
                if (!pending.isEmpty()) {
                    try {
                        consumer.commitSync(pending);
                        pending.clear();
                    } catch (Exception e) {
                        System.err.println("commit failed (retried on revoke): " + e);
                    }
                }
            }
        }
        System.out.flush();
    }
}
