//! Networking: one [`conn::Connection`] per broker and lane, the pool that
//! owns them, the version table each broker advertises, and the security
//! layers of a connection: TLS (`tls.rs`), SASL (`sasl.rs`, `scram.rs`); KIP-219
//! throttling (`throttle.rs`).

pub(crate) mod conn;
pub mod dialer;
pub(crate) mod pool;
pub(crate) mod sasl;
pub(crate) mod scram;
#[cfg(test)]
mod scripted;
pub(crate) mod throttle;
pub(crate) mod tls;
pub(crate) mod versions;
