//! The simulated network: every client connection is an in-memory pipe to
//! a fake broker, with a latency and a fate the seed decides. The client
//! reaches it through its [`Dialer`] hook, so it runs unchanged.
//!
//! Faults are applied by [`SimNet`]'s owner (the scenario's fault task):
//! cut one link or all links of a broker, take a broker off the network
//! (connects are refused), or change the latency of new links.

use kafkacc::{BrokerStream, DialFuture, Dialer};
use kafkacc_fake::FakeCluster;
use rand::Rng;
use rand::rngs::StdRng;
use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::time::Sleep;

/// Bytes a pipe buffers in each direction.
const PIPE_BYTES: usize = 256 * 1024;

/// The network between the client and the fake cluster.
#[derive(Debug, Clone)]
pub struct SimNet {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cluster: Weak<FakeCluster>,
    /// Port → node id of the fake brokers (the addresses metadata names).
    nodes: BTreeMap<u16, i32>,
    state: Mutex<NetState>,
}

#[derive(Debug)]
struct NetState {
    rng: StdRng,
    /// Live links, in the order they were opened (a Vec keeps fault choices
    /// deterministic).
    links: Vec<(i32, Arc<Link>)>,
    /// Brokers that refuse connects (partitioned away).
    unreachable: Vec<i32>,
    /// Upper bound of the latency a new link gets.
    max_latency: Duration,
    /// Counts, for the report.
    dials: u64,
    refused: u64,
    cuts: u64,
}

/// One connection's shared fate.
#[derive(Debug, Default)]
struct Link {
    cut: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl Link {
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|p| p.into_inner()));
        for waker in wakers {
            waker.wake();
        }
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    fn park(&self, cx: &Context<'_>) {
        let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
    }
}

/// What the network did, for the run's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Connections opened.
    pub dials: u64,
    /// Connects refused (broker unreachable).
    pub refused: u64,
    /// Links cut.
    pub cuts: u64,
}

impl std::ops::AddAssign for NetStats {
    fn add_assign(&mut self, other: NetStats) {
        self.dials += other.dials;
        self.refused += other.refused;
        self.cuts += other.cuts;
    }
}

impl SimNet {
    /// A network to `cluster`'s brokers; `rng` decides latencies.
    pub fn new(cluster: &Arc<FakeCluster>, rng: StdRng, max_latency: Duration) -> SimNet {
        let nodes = cluster
            .broker_ids()
            .into_iter()
            .filter_map(|id| cluster.broker_addr(id).map(|a| (a.port(), id)))
            .collect();
        SimNet {
            inner: Arc::new(Inner {
                cluster: Arc::downgrade(cluster),
                nodes,
                state: Mutex::new(NetState {
                    rng,
                    links: Vec::new(),
                    unreachable: Vec::new(),
                    max_latency,
                    dials: 0,
                    refused: 0,
                    cuts: 0,
                }),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, NetState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cuts one live link chosen by the seed; returns its broker.
    pub fn cut_random_link(&self) -> Option<i32> {
        let mut state = self.state();
        state.links.retain(|(_, l)| !l.is_cut());
        if state.links.is_empty() {
            return None;
        }
        let count = state.links.len();
        let i = state.rng.random_range(0..count);
        let (node, link) = state.links.remove(i);
        link.cut();
        state.cuts += 1;
        Some(node)
    }

    /// Cuts every link to broker `node`.
    pub fn cut_broker(&self, node: i32) {
        let mut state = self.state();
        let mut cut = 0;
        for (n, link) in &state.links {
            if *n == node && !link.is_cut() {
                link.cut();
                cut += 1;
            }
        }
        state.cuts += cut;
        state.links.retain(|(n, _)| *n != node);
    }

    /// Makes broker `node` unreachable (connects refused, links cut) or
    /// reachable again.
    pub fn set_reachable(&self, node: i32, reachable: bool) {
        if reachable {
            self.state().unreachable.retain(|n| *n != node);
        } else {
            self.state().unreachable.push(node);
            self.cut_broker(node);
        }
    }

    /// Sets the latency bound of new links (zero: none).
    pub fn set_max_latency(&self, max: Duration) {
        self.state().max_latency = max;
    }

    /// What the network did so far.
    pub fn stats(&self) -> NetStats {
        let state = self.state();
        NetStats {
            dials: state.dials,
            refused: state.refused,
            cuts: state.cuts,
        }
    }

    fn open(&self, port: u16) -> io::Result<FaultyStream> {
        let refused = |why: &str| io::Error::new(io::ErrorKind::ConnectionRefused, why.to_owned());
        let node = *self
            .inner
            .nodes
            .get(&port)
            .ok_or_else(|| refused("no broker at that port"))?;
        let cluster = self
            .inner
            .cluster
            .upgrade()
            .ok_or_else(|| refused("the cluster is gone"))?;
        let (latency, link) = {
            let mut state = self.state();
            state.dials += 1;
            if state.unreachable.contains(&node) {
                state.refused += 1;
                return Err(refused("broker unreachable"));
            }
            let max = state.max_latency.as_micros() as u64;
            let latency = Duration::from_micros(if max == 0 {
                0
            } else {
                state.rng.random_range(0..=max)
            });
            let link = Arc::new(Link::default());
            state.links.push((node, link.clone()));
            (latency, link)
        };
        let (client_end, broker_end) = tokio::io::duplex(PIPE_BYTES);
        cluster
            .serve_stream(node, broker_end)
            .map_err(|e| refused(&e.to_string()))?;
        Ok(FaultyStream {
            inner: Some(client_end),
            link,
            latency,
            delay: None,
        })
    }
}

impl Dialer for SimNet {
    fn dial(&self, _host: &str, port: u16) -> DialFuture {
        let opened = self.open(port);
        Box::pin(async move { opened.map(|s| Box::new(s) as Box<dyn BrokerStream>) })
    }
}

/// The client's end of a simulated link: delays each read by the link's
/// latency and fails once the link is cut (dropping the pipe, so the broker
/// sees the connection close too).
#[derive(Debug)]
struct FaultyStream {
    inner: Option<DuplexStream>,
    link: Arc<Link>,
    latency: Duration,
    delay: Option<Pin<Box<Sleep>>>,
}

impl FaultyStream {
    /// The pipe, unless the link was cut (then it is dropped).
    fn pipe(&mut self, cx: &Context<'_>) -> io::Result<&mut DuplexStream> {
        if self.link.is_cut() {
            self.inner = None;
        }
        self.link.park(cx);
        self.inner
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::ConnectionReset, "link cut"))
    }
}

impl AsyncRead for FaultyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.latency.is_zero() {
            let latency = this.latency;
            let delay = this
                .delay
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(latency)));
            if delay.as_mut().poll(cx).is_pending() {
                // Still watch for a cut while waiting.
                this.link.park(cx);
                if this.link.is_cut() {
                    this.inner = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "link cut",
                    )));
                }
                return Poll::Pending;
            }
        }
        let pipe = match this.pipe(cx) {
            Ok(pipe) => pipe,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let before = buf.filled().len();
        let polled = Pin::new(pipe).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.delay = None; // the next chunk waits again
        }
        polled
    }
}

impl AsyncWrite for FaultyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.pipe(cx) {
            Ok(pipe) => Pin::new(pipe).poll_write(cx, data),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.pipe(cx) {
            Ok(pipe) => Pin::new(pipe).poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.pipe(cx) {
            Ok(pipe) => Pin::new(pipe).poll_shutdown(cx),
            Err(_) => Poll::Ready(Ok(())),
        }
    }
}

use std::future::Future;
