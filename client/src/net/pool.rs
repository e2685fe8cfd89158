//! Connections by broker address and lane, opened lazily and replaced when
//! they fail.
//!
//! A lane is a separate connection to the same broker for traffic that must
//! not queue behind other traffic: a Fetch long-poll holds its connection for
//! up to `fetch.max.wait.ms`, and the broker answers requests on one
//! connection strictly in order, so produce, fetch and group requests each
//! get their own socket.

use crate::error::{Error, Result};
use crate::net::conn::{ConnConfig, Connection};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Which kind of traffic a connection carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Lane {
    /// Metadata, admin, offsets and everything else.
    Default,
    /// Produce requests.
    Produce,
    /// Fetch long-polls.
    Fetch,
    /// One group member's coordinator traffic. A JoinGroup holds its
    /// connection until every member has rejoined, so members sharing a
    /// client must not share this socket: each gets its own id.
    Group(u64),
}

/// Per (address, lane): the live connection, or when the last connect
/// failed, so the next attempt can back off.
#[derive(Default)]
struct Slot {
    conn: Option<Arc<Connection>>,
    failures: u32,
    retry_at: Option<Instant>,
}

/// A slot behind its own async lock, so one connect attempt per slot runs.
type SharedSlot = Arc<tokio::sync::Mutex<Slot>>;

/// All connections of one client.
pub(crate) struct Pool {
    config: ConnConfig,
    reconnect_backoff: Duration,
    reconnect_backoff_max: Duration,
    slots: Mutex<BTreeMap<(String, Lane), SharedSlot>>,
}

impl Pool {
    pub(crate) fn new(
        config: ConnConfig,
        reconnect_backoff: Duration,
        reconnect_backoff_max: Duration,
    ) -> Self {
        Pool {
            config,
            reconnect_backoff,
            reconnect_backoff_max,
            slots: Mutex::new(BTreeMap::new()),
        }
    }

    /// The live connection to `addr` on `lane`, connecting if needed.
    /// Concurrent callers share one connect attempt.
    pub(crate) async fn get(&self, addr: &str, lane: Lane) -> Result<Arc<Connection>> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry((addr.to_owned(), lane)).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some(conn) = &slot.conn {
            if !conn.is_closed() {
                return Ok(conn.clone());
            }
        }
        if let Some(at) = slot.retry_at {
            tokio::time::sleep_until(at).await;
        }
        match Connection::connect(addr, self.config.clone()).await {
            Ok(conn) => {
                slot.conn = Some(conn.clone());
                slot.failures = 0;
                slot.retry_at = None;
                Ok(conn)
            }
            Err(e) => {
                slot.conn = None;
                slot.failures = slot.failures.saturating_add(1);
                let backoff = crate::retry::backoff(
                    self.reconnect_backoff,
                    self.reconnect_backoff_max,
                    slot.failures - 1,
                );
                slot.retry_at = Some(Instant::now() + backoff);
                Err(e)
            }
        }
    }

    /// Closes and forgets the connections of one lane (a group member ended).
    pub(crate) fn close_lane(&self, lane: Lane) {
        let slots: Vec<_> = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let keys: Vec<(String, Lane)> =
                slots.keys().filter(|(_, l)| *l == lane).cloned().collect();
            keys.into_iter().filter_map(|k| slots.remove(&k)).collect()
        };
        for slot in slots {
            if let Ok(slot) = slot.try_lock() {
                if let Some(conn) = &slot.conn {
                    conn.close();
                }
            }
        }
    }

    /// Closes every connection (the client is shutting down).
    pub(crate) fn close_all(&self) {
        let slots: Vec<_> = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *slots).into_values().collect()
        };
        for slot in slots {
            if let Ok(slot) = slot.try_lock() {
                if let Some(conn) = &slot.conn {
                    conn.close();
                }
            }
        }
    }
}

impl Error {
    /// Whether this error came from failing to reach a broker at all.
    pub(crate) fn is_connect_error(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }
}
