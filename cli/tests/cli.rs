//! The `kafkacc` binary end to end against the test broker: spawn it,
//! check what it prints and its exit code.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs the binary with `args`, `env` and `stdin`; whatever the outcome.
fn spawn(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkacc"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kafkacc");
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

/// Runs the binary against the test broker; it must succeed.
fn kafkacc(args: &[&str], stdin: Option<&str>) -> Output {
    let broker = kafkacc_tests::broker();
    let all: Vec<&str> = ["-b", broker.bootstrap.as_str()]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    let out = spawn(&all, &[], stdin.unwrap_or(""));
    assert!(
        out.status.success(),
        "kafkacc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn topics_produce_and_consume_round_trip() {
    let topic = kafkacc_tests::unique_name("cli");
    let created = kafkacc(
        &[
            "topics",
            "create",
            &topic,
            "-p",
            "3",
            "--config",
            "retention.ms=3600000",
        ],
        None,
    );
    assert!(stdout(&created).contains("created topic"));
    assert!(
        stdout(&kafkacc(&["topics", "list"], None))
            .lines()
            .any(|l| l == topic)
    );
    let described = stdout(&kafkacc(&["topics", "describe", &topic], None));
    assert_eq!(
        described
            .lines()
            .filter(|l| l.trim_start().starts_with("partition "))
            .count(),
        3,
        "{described}"
    );
    if !kafkacc_tests::broker().is_tansu() && !kafkacc_tests::broker().is_fake() {
        assert!(
            described.contains("config retention.ms=3600000 (DynamicTopic)"),
            "{described}"
        );
        let altered = kafkacc(
            &["topics", "alter", &topic, "--set", "retention.ms=7200000"],
            None,
        );
        assert!(stdout(&altered).contains("altered 1 configuration keys"));
        // The change reaches the broker's view a moment after the call.
        let wanted = "config retention.ms=7200000 (DynamicTopic)";
        let mut described = String::new();
        for _ in 0..100 {
            described = stdout(&kafkacc(&["topics", "describe", &topic], None));
            if described.contains(wanted) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(described.contains(wanted), "{described}");
    }
    if !kafkacc_tests::broker().is_tansu() && !kafkacc_tests::broker().is_fake() {
        // DeleteRecords (Tansu crashes on it, the fake cluster lacks it).
        let trimmed = format!("{topic}-trim");
        kafkacc(&["topics", "create", &trimmed, "-p", "2"], None);
        kafkacc(&["produce", &trimmed, "-p", "1"], Some("x\ny\nz\n"));
        let deleted = stdout(&kafkacc(
            &[
                "topics",
                "delete-records",
                &trimmed,
                "-p",
                "1",
                "--before",
                "2",
            ],
            None,
        ));
        assert_eq!(deleted.trim(), format!("{trimmed}/1 earliest offset 2"));
    }

    let input = "alice:first\nbob:second\ncarol:third:with:colons\n";
    let produced = kafkacc(
        &[
            "produce",
            &topic,
            "-K",
            ":",
            "-H",
            "source=cli",
            "-z",
            "lz4",
        ],
        Some(input),
    );
    assert!(String::from_utf8_lossy(&produced.stderr).contains("produced 3 records"));

    let consumed = stdout(&kafkacc(
        &["consume", &topic, "--from", "beginning", "-e", "-f", "json"],
        None,
    ));
    let mut rows: Vec<serde_json::Value> = consumed
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    rows.sort_by_key(|r| r["key"].as_str().unwrap_or_default().to_owned());
    assert_eq!(rows.len(), 3, "{consumed}");
    assert_eq!(rows[0]["key"], "alice");
    assert_eq!(rows[0]["value"], "first");
    assert_eq!(rows[2]["value"], "third:with:colons");
    assert_eq!(rows[1]["headers"], serde_json::json!([["source", "cli"]]));

    let kv = stdout(&kafkacc(
        &[
            "consume",
            &topic,
            "--from",
            "beginning",
            "-f",
            "kv",
            "-c",
            "3",
        ],
        None,
    ));
    assert_eq!(kv.lines().count(), 3);
    assert!(kv.lines().any(|l| l == "bob:second"));

    let deleted = kafkacc(&["topics", "delete", &topic], None);
    assert!(stdout(&deleted).contains("deleted topic"));
}

#[test]
fn fake_users_are_produced_and_counted() {
    let topic = kafkacc_tests::unique_name("cli-fake");
    kafkacc(&["topics", "create", &topic, "-p", "2"], None);
    kafkacc(&["produce", &topic, "--fake", "users", "-n", "250"], None);
    let values = stdout(&kafkacc(
        &["consume", &topic, "--from", "beginning", "-e"],
        None,
    ));
    assert_eq!(values.lines().count(), 250);
    for line in values.lines() {
        let user: serde_json::Value = serde_json::from_str(line).expect("a JSON user");
        assert!(
            user["email"].as_str().is_some_and(|e| e.contains('@')),
            "{line}"
        );
    }
}

#[test]
fn failures_are_clear_and_exit_non_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_kafkacc"))
        .args(["-b", "127.0.0.1:1", "topics", "list"])
        .env("KAFKA_BOOTSTRAP", "unused")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("kafkacc: no bootstrap broker reachable"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Error {") && !stderr.contains("NoBrokerReachable"),
        "no debug dumps: {stderr}"
    );

    let help = Command::new(env!("CARGO_BIN_EXE_kafkacc"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}

#[test]
fn group_consume_commits_and_groups_describe_shows_no_lag() {
    let topic = kafkacc_tests::unique_name("cli-group");
    let group = kafkacc_tests::unique_name("cli-g");
    kafkacc(&["topics", "create", &topic, "-p", "2"], None);
    let lines: String = (0..100).map(|i| format!("k{i}:v{i}\n")).collect();
    kafkacc(&["produce", &topic, "-K", ":"], Some(&lines));

    let consumed = stdout(&kafkacc(
        &["consume", &topic, "-G", &group, "--from", "beginning", "-e"],
        None,
    ));
    assert_eq!(consumed.lines().count(), 100, "{consumed}");

    assert!(
        stdout(&kafkacc(&["groups", "list"], None))
            .lines()
            .any(|l| l.starts_with(&group))
    );
    let described = stdout(&kafkacc(&["groups", "describe", &group], None));
    let rows: Vec<&str> = described
        .lines()
        .filter(|l| l.trim_start().starts_with(&format!("{topic}/")))
        .collect();
    assert_eq!(rows.len(), 2, "{described}");
    assert!(rows.iter().all(|r| r.ends_with("lag 0")), "{described}");
    let committed: i64 = rows
        .iter()
        .map(|r| {
            r.split_whitespace()
                .nth(2)
                .and_then(|c| c.parse::<i64>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(committed, 100, "{described}");

    // Rewind the (now empty) group to the start: all 100 come back.
    let reset = stdout(&kafkacc(
        &[
            "groups",
            "reset-offsets",
            &group,
            "-t",
            &topic,
            "--to",
            "earliest",
        ],
        None,
    ));
    assert_eq!(reset.lines().count(), 2, "{reset}");
    assert!(reset.lines().all(|l| l.ends_with("committed 0")), "{reset}");
    let again = stdout(&kafkacc(&["consume", &topic, "-G", &group, "-e"], None));
    assert_eq!(again.lines().count(), 100, "{again}");

    let deleted = stdout(&kafkacc(&["groups", "delete", &group], None));
    assert_eq!(deleted.trim(), format!("deleted group {group}"));
}

/// The SASL options reach a secured cluster (its own Apache Kafka): SCRAM
/// with the password from the environment creates, produces and consumes;
/// a wrong password, a missing user and TLS in a build without the `tls`
/// feature each fail with a one-line reason.
#[test]
fn sasl_options_reach_a_secured_cluster() {
    use kafkacc_tests::secure_broker::{PASSWORD, USER, secure_broker};
    let broker = secure_broker();
    let run_at = |bootstrap: &str, args: &[&str], password: &str, stdin: &str| -> Output {
        let all: Vec<&str> = ["-b", bootstrap, "--sasl", "scram-sha-512"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        spawn(&all, &[("KAFKA_SASL_PASSWORD", password)], stdin)
    };
    let run = |args: &[&str], password: &str, stdin: &str| {
        run_at(&broker.sasl_plaintext, args, password, stdin)
    };
    let ok = |out: Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out)
    };
    let topic = kafkacc_tests::unique_name("cli-sasl");
    ok(run(
        &["--user", USER, "topics", "create", &topic],
        PASSWORD,
        "",
    ));
    ok(run(
        &["--user", USER, "produce", &topic],
        PASSWORD,
        "one\ntwo\n",
    ));
    let consumed = ok(run(
        &[
            "--user",
            USER,
            "consume",
            &topic,
            "--from",
            "beginning",
            "-e",
        ],
        PASSWORD,
        "",
    ));
    assert_eq!(consumed, "one\ntwo\n");

    let failure = |out: Output| {
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let wrong = failure(run(&["--user", USER, "topics", "list"], "wrong", ""));
    assert!(wrong.starts_with("kafkacc: "), "{wrong}");
    assert!(wrong.to_lowercase().contains("authentication"), "{wrong}");
    assert!(
        !wrong.contains("wrong"),
        "the password is not echoed: {wrong}"
    );
    let no_user = failure(run(&["topics", "list"], PASSWORD, ""));
    assert!(no_user.contains("--sasl needs --user"), "{no_user}");
    // ACLs: alice lets only herself read the topic; list shows it,
    // delete removes it.
    let created = ok(run(
        &[
            "--user",
            USER,
            "acls",
            "create",
            "--topic",
            &topic,
            "--principal",
            "User:alice",
            "--operation",
            "read",
        ],
        PASSWORD,
        "",
    ));
    let shown = format!("Topic:{topic}:Literal User:alice * Read Allow");
    assert_eq!(created.trim(), format!("created {shown}"));
    let listed = ok(run(
        &["--user", USER, "acls", "list", "--topic", &topic],
        PASSWORD,
        "",
    ));
    assert_eq!(listed.trim(), shown);
    let deleted = ok(run(
        &["--user", USER, "acls", "delete", "--topic", &topic],
        PASSWORD,
        "",
    ));
    assert_eq!(deleted.trim(), format!("deleted {shown}"));
    let missing = failure(run(
        &["--user", USER, "acls", "create", "--topic", &topic],
        PASSWORD,
        "",
    ));
    assert!(missing.contains("--principal is required"), "{missing}");

    // --tls: the binary has TLS when the workspace build gives kafkacc its
    // `tls` feature (the integration tests do), not otherwise. Without it,
    // a clear error; with it, SASL_SSL works with --ca and a plaintext
    // listener fails the handshake.
    let plain = failure(run(
        &["--user", USER, "--tls", "topics", "list"],
        PASSWORD,
        "",
    ));
    assert!(
        plain.starts_with("kafkacc: ") && plain.contains("TLS"),
        "{plain}"
    );
    if !plain.contains("`tls` feature") {
        let ca = broker.certs.join("ca.pem");
        let ca = ca.to_str().expect("utf-8 path");
        let listed = ok(run_at(
            &broker.sasl_ssl,
            &["--user", USER, "--ca", ca, "topics", "list"],
            PASSWORD,
            "",
        ));
        assert!(listed.lines().any(|l| l == topic), "{listed}");
    }
}
