//! Configuration. Every default is the Java client's (FACTS.md section 11)
//! unless a comment says why it differs.

use crate::error::{Error, Result};
use crate::net::dialer::Dialer;
use crate::security::{SaslConfig, TlsConfig};
use std::sync::Arc;
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
    /// Rewrites every broker address before the client dials it (see
    /// [`ClientConfig::broker_address_map`]). `None` dials addresses as given.
    pub broker_address_map: Option<BrokerAddressMap>,
    /// TLS to every broker (`security.protocol=SSL`, or `SASL_SSL` together
    /// with [`sasl`](Self::sasl)). Needs the crate's `tls` feature.
    pub tls: Option<TlsConfig>,
    /// SASL authentication on every connection
    /// (`security.protocol=SASL_PLAINTEXT`, or `SASL_SSL` with [`tls`](Self::tls)).
    pub sasl: Option<SaslConfig>,
    /// Opens the byte streams to brokers instead of TCP (see
    /// [`ClientConfig::dialer`]). `None` dials TCP.
    pub dialer: Option<Arc<dyn Dialer>>,
}

/// A user function that maps a broker's `(host, port)` — from the bootstrap
/// list or from Metadata — to the `(host, port)` actually dialed.
///
/// Useful behind SSH tunnels, NAT or port forwards, where the addresses a
/// broker advertises are not reachable as they are, and for test proxies.
/// The original address stays the broker's name everywhere else: in errors,
/// logs, and as the TLS server name that the certificate must match.
#[derive(Clone)]
pub struct BrokerAddressMap(Arc<AddressFn>);

/// The function behind a [`BrokerAddressMap`].
type AddressFn = dyn Fn(&str, u16) -> (String, u16) + Send + Sync;

impl BrokerAddressMap {
    /// Wraps `map`.
    pub fn new(map: impl Fn(&str, u16) -> (String, u16) + Send + Sync + 'static) -> Self {
        BrokerAddressMap(Arc::new(map))
    }

    /// The address to dial for the broker at `host:port`.
    pub fn map(&self, host: &str, port: u16) -> (String, u16) {
        (self.0)(host, port)
    }
}

impl std::fmt::Debug for BrokerAddressMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrokerAddressMap(<fn>)")
    }
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
            broker_address_map: None,
            tls: None,
            sasl: None,
            dialer: None,
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

    /// Carries every connection over `dialer` instead of TCP: for tests over
    /// in-memory pipes and for simulated networks.
    pub fn dialer(mut self, dialer: Arc<dyn Dialer>) -> Self {
        self.dialer = Some(dialer);
        self
    }

    /// Dials every broker through `map`: the client connects to
    /// `map(host, port)` instead of `host:port`, for bootstrap addresses and
    /// for the addresses brokers advertise in Metadata alike.
    ///
    /// ```
    /// // Every broker is reached through a local tunnel at port + 10000.
    /// let config = kafkacc::ClientConfig::new("kafka-1.internal:9092")
    ///     .broker_address_map(|_host, port| ("127.0.0.1".to_owned(), port + 10_000));
    /// # let _ = config;
    /// ```
    pub fn broker_address_map(
        mut self,
        map: impl Fn(&str, u16) -> (String, u16) + Send + Sync + 'static,
    ) -> Self {
        self.broker_address_map = Some(BrokerAddressMap::new(map));
        self
    }

    /// Connects to brokers over TLS (see [`TlsConfig`]).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Authenticates every connection with SASL (see [`SaslConfig`]).
    pub fn sasl(mut self, sasl: SaslConfig) -> Self {
        self.sasl = Some(sasl);
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
