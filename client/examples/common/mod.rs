//! Shared by the examples: where the cluster is.

/// `KAFKA_BOOTSTRAP` or the default `localhost:9092`.
pub fn bootstrap() -> String {
    std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "localhost:9092".to_owned())
}
