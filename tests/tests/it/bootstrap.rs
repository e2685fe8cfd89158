use kafkacc::{Client, ClientConfig, Error};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A 127.0.0.1 port nothing listens on.
fn dead_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr.to_string()
}

#[tokio::test]
async fn unreachable_bootstrap_fails_with_a_clear_error_in_bounded_time() {
    let config = ClientConfig::new(&format!("{},{}", dead_addr(), dead_addr()))
        .bootstrap_timeout(Duration::from_secs(2));
    let started = Instant::now();
    let err = Client::connect(config)
        .await
        .expect_err("nothing listens there");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    match &err {
        Error::NoBrokerReachable { attempts } => assert_eq!(attempts.len(), 2, "{err}"),
        other => panic!("expected NoBrokerReachable, got {other:?}"),
    }
    assert!(
        err.to_string().contains("no bootstrap broker reachable"),
        "{err}"
    );
}

#[tokio::test]
async fn one_live_broker_in_the_list_is_enough() {
    let live = kafkacc_tests::broker().bootstrap.clone();
    let config = ClientConfig::new(&format!("{},{live}", dead_addr()));
    let client = Client::connect(config)
        .await
        .expect("second address is live");
    assert!(!client.metadata().brokers.is_empty());
}

#[tokio::test]
async fn a_black_holed_bootstrap_times_out() {
    // Accepts TCP connections but never answers: the request must time out.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let config = ClientConfig::new(&addr)
        .request_timeout(Duration::from_millis(500))
        .bootstrap_timeout(Duration::from_secs(2));
    let started = Instant::now();
    let err = Client::connect(config).await.expect_err("black hole");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::NoBrokerReachable { .. }), "{err:?}");
    hold.abort();
}
