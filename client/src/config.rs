//! Configuration. Every default is the Java client's (FACTS.md section 11)
//! unless a comment says why it differs.

use crate::error::{Error, Result};
use std::time::Duration;

/// Settings shared by every part of the client: where the cluster is and
/// how to talk to it.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host:port` addresses to bootstrap from; one live broker is enough.
    pub bootstrap_servers: Vec<String>,
    /// Sent in every request header; brokers log it and quotas use it.
    pub client_id: String,
    /// How long a request may wait for its response (`request.timeout.ms`).
    pub request_timeout: Duration,
    /// How long a TCP connect may take (`socket.connection.setup.timeout.ms`).
    pub connect_timeout: Duration,
    /// How long to keep trying the bootstrap list before giving up. Java
    /// retries forever by default; a bound makes a wrong address fail
    /// visibly instead of hanging.
    pub bootstrap_timeout: Duration,
    /// Metadata is refreshed at least this often (`metadata.max.age.ms`).
    pub metadata_max_age: Duration,
    /// First retry backoff (`retry.backoff.ms`).
    pub retry_backoff: Duration,
    /// Cap of the exponential retry backoff (`retry.backoff.max.ms`).
    pub retry_backoff_max: Duration,
    /// First reconnect backoff (`reconnect.backoff.ms`).
    pub reconnect_backoff: Duration,
    /// Cap of the reconnect backoff (`reconnect.backoff.max.ms`).
    pub reconnect_backoff_max: Duration,
    /// Largest response frame accepted; bigger lengths are refused before
    /// any allocation (the broker's own `socket.request.max.bytes`).
    pub max_response_size: usize,
    /// Cap on the bytes one compressed batch may expand to.
    pub max_decompressed_batch_size: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap_servers: vec!["localhost:9092".to_owned()],
            client_id: "kafkacc".to_owned(),
            request_timeout: Duration::from_millis(30_000),
            connect_timeout: Duration::from_millis(10_000),
            bootstrap_timeout: Duration::from_millis(30_000),
            metadata_max_age: Duration::from_millis(300_000),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1_000),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_millis(1_000),
            max_response_size: 104_857_600,
            max_decompressed_batch_size: 128 * 1024 * 1024,
        }
    }
}

impl ClientConfig {
    /// A config for the given comma-separated bootstrap list.
    pub fn new(bootstrap: &str) -> Self {
        ClientConfig {
            bootstrap_servers: split_bootstrap(bootstrap),
            ..Default::default()
        }
    }

    /// Sets the client id.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Sets the request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the bootstrap timeout.
    pub fn bootstrap_timeout(mut self, timeout: Duration) -> Self {
        self.bootstrap_timeout = timeout;
        self
    }

    /// Sets `metadata.max.age.ms`.
    pub fn metadata_max_age(mut self, age: Duration) -> Self {
        self.metadata_max_age = age;
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.bootstrap_servers.is_empty() {
            return Err(Error::Config("bootstrap_servers is empty".into()));
        }
        for addr in &self.bootstrap_servers {
            parse_host_port(addr)?;
        }
        Ok(())
    }
}

/// Splits `"a:9092, b:9092"` into addresses.
pub fn split_bootstrap(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Splits `host:port` (IPv6 hosts in brackets).
pub(crate) fn parse_host_port(addr: &str) -> Result<(String, u16)> {
    let bad = || Error::Config(format!("bootstrap address {addr:?} is not host:port"));
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    let port = port.parse::<u16>().map_err(|_| bad())?;
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_lists_parse() {
        assert_eq!(split_bootstrap("a:1, b:2,,"), vec!["a:1", "b:2"]);
        assert_eq!(
            parse_host_port("[::1]:9092").unwrap(),
            ("::1".to_owned(), 9092)
        );
        assert!(parse_host_port("nope").is_err());
        assert!(parse_host_port(":9092").is_err());
        assert!(ClientConfig::new("").validate().is_err());
        assert_eq!(
            ClientConfig::default().bootstrap_servers,
            vec!["localhost:9092"]
        );
    }
}
