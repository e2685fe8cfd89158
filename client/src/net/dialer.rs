//! Where a connection's bytes travel. By default a TCP socket; a
//! [`Dialer`] replaces that with any byte stream: an in-memory pipe for a
//! test, or the simulated network of a deterministic simulation, in which
//! the client runs unchanged over a network whose faults a seed decides.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream to a broker.
pub trait BrokerStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> BrokerStream for T {}

/// What [`Dialer::dial`] returns.
pub type DialFuture = Pin<Box<dyn Future<Output = io::Result<Box<dyn BrokerStream>>> + Send>>;

/// Opens the stream to the broker at `host:port` (after any
/// [`BrokerAddressMap`](crate::BrokerAddressMap)). Set one with
/// [`ClientConfig::dialer`](crate::ClientConfig::dialer); the connect
/// timeout still applies, and TLS is not layered over a custom dialer.
pub trait Dialer: fmt::Debug + Send + Sync + 'static {
    /// Opens a stream to `host:port`.
    fn dial(&self, host: &str, port: u16) -> DialFuture;
}
