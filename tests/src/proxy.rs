//! A fault-injecting TCP proxy for tests: it sits between the client and one
//! broker on 127.0.0.1 and, on a test's command, adds latency, cuts or resets
//! connections (also in the middle of a request), black-holes them, or
//! delivers bytes in small pieces.
//!
//! Point a client through it with `ClientConfig::broker_address_map`, so that
//! every connection to the broker (bootstrap and the metadata's addresses)
//! crosses the proxy.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! use kafkacc_tests::proxy::{Fault, FaultProxy};
//! let proxy = FaultProxy::start("127.0.0.1:9092").await?;
//! proxy.set_fault(Fault::Latency(std::time::Duration::from_millis(50)));
//! proxy.reset_all(); // every open connection gets a TCP RST now
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How the proxy treats the bytes it forwards (applies to open and new
/// connections alike, from the next chunk on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything at once.
    None,
    /// Hold every chunk this long before forwarding it (both directions).
    Latency(Duration),
    /// Accept connections and read what the client sends, but never forward
    /// anything in either direction (the broker seems to hang).
    BlackHole,
    /// Forward in pieces of at most `chunk` bytes with `pause` between them.
    PartialWrites {
        /// Largest piece written at once.
        chunk: usize,
        /// Pause between two pieces.
        pause: Duration,
    },
    /// Reset each connection (TCP RST) after a random number of
    /// client-to-broker bytes, between 1 and `max_bytes`, so most resets fall
    /// in the middle of a request. The numbers come from `seed`, so a failing
    /// run can be replayed.
    RandomReset {
        /// Seed of the byte budgets.
        seed: u64,
        /// Largest budget.
        max_bytes: u64,
    },
}

/// What a connection's two pumps are told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Run,
    /// Close with a TCP RST (SO_LINGER 0), dropping what is in flight.
    Reset,
    /// Close with a FIN, as a broker that shuts a connection would.
    Close,
}

#[derive(Debug)]
struct Shared {
    upstream: String,
    fault: watch::Sender<Fault>,
    connections: Mutex<Vec<watch::Sender<Command>>>,
    accepted: AtomicUsize,
    resets: AtomicUsize,
    /// Numbers each connection, so `RandomReset` budgets differ per connection.
    next_id: AtomicU64,
}

/// The proxy; stops listening and cuts every connection when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a free port of 127.0.0.1 that forwards to `upstream`
    /// (`host:port`).
    pub async fn start(upstream: &str) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (fault, _) = watch::channel(Fault::None);
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            fault,
            connections: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            resets: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
        });
        let accept_task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FaultProxy {
            addr,
            shared,
            accept_task,
        })
    }

    /// The proxy's `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Switches the fault; open connections follow from their next chunk.
    pub fn set_fault(&self, fault: Fault) {
        self.shared.fault.send_replace(fault);
    }

    /// Resets (TCP RST) every open connection now.
    pub fn reset_all(&self) {
        self.command_all(Command::Reset);
    }

    /// Closes (FIN) every open connection now.
    pub fn close_all(&self) {
        self.command_all(Command::Close);
    }

    /// How many client connections the proxy has accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// How many connections it has reset so far (by command or by
    /// [`Fault::RandomReset`]).
    pub fn resets(&self) -> usize {
        self.shared.resets.load(Ordering::SeqCst)
    }

    /// How many client connections are open now.
    pub fn open_connections(&self) -> usize {
        let mut connections = lock(&self.shared.connections);
        connections.retain(|c| !c.is_closed());
        connections.len()
    }

    fn command_all(&self, command: Command) {
        let mut connections = lock(&self.shared.connections);
        connections.retain(|c| !c.is_closed());
        for connection in connections.iter() {
            connection.send_replace(command);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.command_all(Command::Reset);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let (command, commands) = watch::channel(Command::Run);
        lock(&shared.connections).push(command.clone());
        tokio::spawn(serve(client, shared.clone(), command, commands));
    }
}

/// One client connection: connects upstream and runs a pump each way.
async fn serve(
    client: TcpStream,
    shared: Arc<Shared>,
    command: watch::Sender<Command>,
    commands: watch::Receiver<Command>,
) {
    let _ = client.set_nodelay(true);
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let (client_read, client_write) = client.into_split();
    let broker = match TcpStream::connect(&shared.upstream).await {
        Ok(broker) => broker,
        Err(_) => return, // dropping the client closes it, like a dead broker
    };
    let _ = broker.set_nodelay(true);
    let (broker_read, broker_write) = broker.into_split();
    let command = Arc::new(command);
    let upstream = tokio::spawn(pump(
        client_read,
        broker_write,
        Direction::ToBroker { connection: id },
        shared.clone(),
        command.clone(),
        commands.clone(),
    ));
    let downstream = tokio::spawn(pump(
        broker_read,
        client_write,
        Direction::ToClient,
        shared.clone(),
        command.clone(),
        commands,
    ));
    let _ = upstream.await;
    let _ = downstream.await;
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    ToBroker { connection: u64 },
    ToClient,
}

/// Copies `from` to `to` under the current fault until either side closes
/// or a command ends the connection. The pump that ends tells its twin.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    direction: Direction,
    shared: Arc<Shared>,
    command: Arc<watch::Sender<Command>>,
    mut commands: watch::Receiver<Command>,
) {
    let mut faults = shared.fault.subscribe();
    let mut buf = vec![0u8; 64 * 1024];
    let mut forwarded: u64 = 0;
    let mut budget = None;
    let outcome = loop {
        let read = tokio::select! {
            changed = commands.changed() => {
                if changed.is_err() { break Command::Close; }
                match *commands.borrow_and_update() {
                    Command::Run => continue,
                    other => break other,
                }
            }
            read = from.read(&mut buf) => read,
        };
        let n = match read {
            Ok(0) | Err(_) => break Command::Close,
            Ok(n) => n,
        };
        let fault = *faults.borrow_and_update();
        let mut chunk = &buf[..n];
        match fault {
            Fault::None => {}
            Fault::BlackHole => continue,
            Fault::Latency(delay) => tokio::time::sleep(delay).await,
            Fault::PartialWrites { .. } => {}
            Fault::RandomReset { seed, max_bytes } => {
                if let Direction::ToBroker { connection } = direction {
                    let limit = *budget.get_or_insert_with(|| {
                        1 + splitmix(seed ^ connection.wrapping_mul(0x9E37)) % max_bytes.max(1)
                    });
                    if forwarded + n as u64 >= limit {
                        // Forward part of this chunk, then cut: a request
                        // the broker sees only half of.
                        let keep = (limit - forwarded) as usize;
                        let _ = to.write_all(&chunk[..keep.min(n)]).await;
                        break Command::Reset;
                    }
                }
            }
        }
        let written = match fault {
            Fault::PartialWrites { chunk: size, pause } => {
                let mut result = Ok(());
                while !chunk.is_empty() && result.is_ok() {
                    let (piece, rest) = chunk.split_at(size.clamp(1, chunk.len()));
                    result = to.write_all(piece).await;
                    chunk = rest;
                    if !chunk.is_empty() {
                        tokio::time::sleep(pause).await;
                    }
                }
                result
            }
            _ => to.write_all(chunk).await,
        };
        if written.is_err() {
            break Command::Close;
        }
        forwarded += n as u64;
    };
    if outcome == Command::Reset {
        if let Direction::ToBroker { .. } = direction {
            shared.resets.fetch_add(1, Ordering::SeqCst); // one count per connection
        }
        // Both sockets get SO_LINGER 0, so closing them sends RST.
        let _ = to.as_ref().set_zero_linger();
        let _ = from.as_ref().set_zero_linger();
    } else {
        let _ = to.shutdown().await;
    }
    command.send_replace(outcome);
}

/// A 64-bit mix (SplitMix64's finaliser): deterministic per-connection
/// numbers from a seed without a random-number crate.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server standing in for a broker.
    async fn echo_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn roundtrip(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<Vec<u8>> {
        stream.write_all(bytes).await?;
        let mut got = vec![0u8; bytes.len()];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut got))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no echo"))??;
        Ok(got)
    }

    #[tokio::test]
    async fn forwards_then_resets_and_black_holes() {
        let proxy = FaultProxy::start(&echo_server().await).await.unwrap();
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(roundtrip(&mut s, b"hello").await.unwrap(), b"hello");

        proxy.set_fault(Fault::PartialWrites {
            chunk: 2,
            pause: Duration::from_millis(1),
        });
        assert_eq!(roundtrip(&mut s, b"in pieces").await.unwrap(), b"in pieces");

        proxy.reset_all();
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Err(_)) | Ok(Ok(0))),
            "reset connection still open: {read:?}"
        );
        assert_eq!(proxy.resets(), 1);

        proxy.set_fault(Fault::BlackHole);
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        s.write_all(b"anyone?").await.unwrap();
        let read = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await;
        assert!(read.is_err(), "a black hole answered: {read:?}");
        assert_eq!(proxy.accepted(), 2);
    }

    #[tokio::test]
    async fn random_reset_cuts_within_the_budget() {
        let proxy = FaultProxy::start(&echo_server().await).await.unwrap();
        proxy.set_fault(Fault::RandomReset {
            seed: 7,
            max_bytes: 100,
        });
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        let result = roundtrip(&mut s, &[1u8; 200]).await;
        assert!(result.is_err(), "200 bytes crossed a budget of at most 100");
        assert_eq!(proxy.resets(), 1);
    }
}
