//! The simulated network: every client connection is an in-memory link to
//! a fake broker, with a latency in each direction and a fate the seed
//! decides. Bytes written at `t` arrive at `t + latency`, in order within a
//! link; links differ in latency, so requests (and answers) on different
//! connections overtake each other. The client reaches the network through
//! its [`Dialer`] hook, so it runs unchanged.
//!
//! Faults are applied by [`SimNet`]'s owner (the scenario's fault task):
//! cut one link or all links of a broker, take a broker off the network
//! (connects are refused), or change the latency of new links.

use kafkacc::{BrokerStream, DialFuture, Dialer};
use kafkacc_fake::FakeCluster;
use rand::Rng;
use rand::rngs::StdRng;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Bytes a link holds in flight or unread in each direction.
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

/// One connection: two delay lines (client to broker, broker to client),
/// each with its own latency, and a shared fate (cut or not).
#[derive(Debug)]
struct Link {
    cut: AtomicBool,
    /// Client → broker (requests).
    up: DelayLine,
    /// Broker → client (responses).
    down: DelayLine,
}

impl Link {
    fn new(up: Duration, down: Duration) -> Link {
        Link {
            cut: AtomicBool::new(false),
            up: DelayLine::new(up),
            down: DelayLine::new(down),
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.up.wake_both();
        self.down.wake_both();
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

/// One direction of a link: bytes written at `t` become readable at
/// `t + latency`, in order (as over TCP). Since each link draws its own
/// latencies, a request written later on a faster link can reach the
/// broker first: connections overtake each other. At most `PIPE_BYTES`
/// are in flight or unread; a writer beyond that waits.
#[derive(Debug)]
struct DelayLine {
    latency: Duration,
    state: Mutex<LineState>,
}

/// What a read of a [`DelayLine`] found.
#[derive(Debug)]
enum Arrival {
    /// Bytes were copied (or the line ended: EOF).
    Read,
    /// Bytes are in flight; the first of them lands then.
    Due(Instant),
    /// Nothing in flight: the reader is woken by the next write.
    Nothing,
}

#[derive(Debug, Default)]
struct LineState {
    /// (readable at, bytes, how many of them were read).
    chunks: VecDeque<(Instant, Vec<u8>, usize)>,
    buffered: usize,
    /// The writing end shut down or went away: EOF once drained.
    writer_closed: bool,
    /// The reading end went away: writes fail.
    reader_closed: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl DelayLine {
    fn new(latency: Duration) -> DelayLine {
        DelayLine {
            latency,
            state: Mutex::new(LineState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LineState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake_both(&self) {
        let (r, w) = {
            let mut state = self.state();
            (state.read_waker.take(), state.write_waker.take())
        };
        for waker in [r, w].into_iter().flatten() {
            waker.wake();
        }
    }

    /// Copies what has arrived into `buf`.
    fn read(&self, cx: &Context<'_>, buf: &mut ReadBuf<'_>) -> Arrival {
        let mut state = self.state();
        let now = Instant::now();
        let mut copied = 0;
        while buf.remaining() > 0 {
            let Some((due, bytes, read)) = state.chunks.front_mut() else {
                break;
            };
            if *due > now {
                break;
            }
            let n = buf.remaining().min(bytes.len() - *read);
            buf.put_slice(&bytes[*read..*read + n]);
            *read += n;
            copied += n;
            if *read == bytes.len() {
                state.chunks.pop_front();
            }
        }
        if copied > 0 {
            state.buffered -= copied;
            if let Some(waker) = state.write_waker.take() {
                waker.wake();
            }
            return Arrival::Read;
        }
        match state.chunks.front() {
            Some((due, _, _)) => Arrival::Due(*due),
            None if state.writer_closed => Arrival::Read, // EOF
            None => {
                state.read_waker = Some(cx.waker().clone());
                Arrival::Nothing
            }
        }
    }

    fn write(&self, cx: &Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut state = self.state();
        if state.reader_closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the other end closed",
            )));
        }
        let room = PIPE_BYTES.saturating_sub(state.buffered);
        if room == 0 {
            state.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        if n > 0 {
            state
                .chunks
                .push_back((Instant::now() + self.latency, data[..n].to_vec(), 0));
            state.buffered += n;
            if let Some(waker) = state.read_waker.take() {
                waker.wake();
            }
        }
        Poll::Ready(Ok(n))
    }

    fn close_writer(&self) {
        let waker = {
            let mut state = self.state();
            state.writer_closed = true;
            state.read_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn close_reader(&self) {
        let waker = {
            let mut state = self.state();
            state.reader_closed = true;
            state.write_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
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

    fn open(&self, port: u16) -> io::Result<LinkEnd> {
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
        let link = {
            let mut state = self.state();
            state.dials += 1;
            if state.unreachable.contains(&node) {
                state.refused += 1;
                return Err(refused("broker unreachable"));
            }
            // Each direction draws its own latency.
            let max = state.max_latency.as_micros() as u64;
            let mut draw = || {
                Duration::from_micros(if max == 0 {
                    0
                } else {
                    state.rng.random_range(0..=max)
                })
            };
            let (up, down) = (draw(), draw());
            let link = Arc::new(Link::new(up, down));
            state.links.push((node, link.clone()));
            link
        };
        cluster
            .serve_stream(node, LinkEnd::new(link.clone(), Side::Broker))
            .map_err(|e| refused(&e.to_string()))?;
        Ok(LinkEnd::new(link, Side::Client))
    }
}

impl Dialer for SimNet {
    fn dial(&self, _host: &str, port: u16) -> DialFuture {
        let opened = self.open(port);
        Box::pin(async move { opened.map(|s| Box::new(s) as Box<dyn BrokerStream>) })
    }
}

/// Which end of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Broker,
}

/// One end of a simulated link. The client's end fails once the link is
/// cut; the broker's end then reads EOF and fails to write, as a broker
/// whose peer vanished.
#[derive(Debug)]
struct LinkEnd {
    link: Arc<Link>,
    side: Side,
    /// Waits for the next chunk in flight to arrive.
    delay: Option<Pin<Box<Sleep>>>,
}

impl LinkEnd {
    fn new(link: Arc<Link>, side: Side) -> LinkEnd {
        LinkEnd {
            link,
            side,
            delay: None,
        }
    }

    /// The line this end reads from.
    fn incoming(&self) -> &DelayLine {
        match self.side {
            Side::Client => &self.link.down,
            Side::Broker => &self.link.up,
        }
    }

    /// The line this end writes to.
    fn outgoing(&self) -> &DelayLine {
        match self.side {
            Side::Client => &self.link.up,
            Side::Broker => &self.link.down,
        }
    }

    fn cut_error(&self) -> io::Error {
        match self.side {
            Side::Client => io::Error::new(io::ErrorKind::ConnectionReset, "link cut"),
            Side::Broker => io::Error::new(io::ErrorKind::BrokenPipe, "link cut"),
        }
    }
}

impl Drop for LinkEnd {
    fn drop(&mut self) {
        self.outgoing().close_writer();
        self.incoming().close_reader();
    }
}

impl AsyncRead for LinkEnd {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.link.is_cut() {
                return match this.side {
                    Side::Client => Poll::Ready(Err(this.cut_error())),
                    Side::Broker => Poll::Ready(Ok(())), // EOF
                };
            }
            let due = match this.incoming().read(cx, buf) {
                Arrival::Read => return Poll::Ready(Ok(())),
                Arrival::Due(due) => due,
                // Woken by the next write, or by a cut.
                Arrival::Nothing if this.link.is_cut() => continue,
                Arrival::Nothing => return Poll::Pending,
            };
            // Bytes in flight: wake when the first of them lands.
            match &mut this.delay {
                Some(delay) => delay.as_mut().reset(due),
                None => this.delay = Some(Box::pin(tokio::time::sleep_until(due))),
            }
            if let Some(delay) = &mut this.delay {
                if delay.as_mut().poll(cx).is_pending() {
                    // A cut must wake us as well.
                    this.incoming().state().read_waker = Some(cx.waker().clone());
                    if this.link.is_cut() {
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl AsyncWrite for LinkEnd {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.link.is_cut() {
            return Poll::Ready(Err(self.cut_error()));
        }
        self.outgoing().write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.link.is_cut() {
            return Poll::Ready(Err(self.cut_error()));
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.outgoing().close_writer();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Both directions are delayed, each by its own latency, and a request
    /// on a faster link overtakes one written earlier on a slower link.
    #[tokio::test(start_paused = true)]
    async fn each_direction_is_delayed_and_links_overtake_each_other() {
        let slow = Arc::new(Link::new(
            Duration::from_millis(30),
            Duration::from_millis(5),
        ));
        let fast = Arc::new(Link::new(
            Duration::from_millis(10),
            Duration::from_millis(5),
        ));
        let (mut slow_client, mut slow_broker) = (
            LinkEnd::new(slow.clone(), Side::Client),
            LinkEnd::new(slow, Side::Broker),
        );
        let (mut fast_client, mut fast_broker) = (
            LinkEnd::new(fast.clone(), Side::Client),
            LinkEnd::new(fast, Side::Broker),
        );
        let start = Instant::now();
        slow_client.write_all(b"first").await.unwrap();
        tokio::time::advance(Duration::from_millis(1)).await;
        fast_client.write_all(b"second").await.unwrap();
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let (a, b) = (arrivals.clone(), arrivals.clone());
        let slow_read = tokio::spawn(async move {
            let mut buf = [0u8; 5];
            slow_broker.read_exact(&mut buf).await.unwrap();
            a.lock().unwrap().push((buf.to_vec(), start.elapsed()));
            slow_broker
        });
        let fast_read = tokio::spawn(async move {
            let mut buf = [0u8; 6];
            fast_broker.read_exact(&mut buf).await.unwrap();
            b.lock().unwrap().push((buf.to_vec(), start.elapsed()));
        });
        let mut slow_broker = slow_read.await.unwrap();
        fast_read.await.unwrap();
        let arrivals = arrivals.lock().unwrap().clone();
        assert_eq!(
            arrivals,
            vec![
                (b"second".to_vec(), Duration::from_millis(11)),
                (b"first".to_vec(), Duration::from_millis(30)),
            ]
        );
        // The answer travels back with the link's own down latency.
        let sent = Instant::now();
        slow_broker.write_all(b"answer").await.unwrap();
        let mut buf = [0u8; 6];
        slow_client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"answer");
        assert_eq!(sent.elapsed(), Duration::from_millis(5));
    }

    /// A cut fails the client's end and ends the broker's (EOF), even for
    /// a reader waiting on bytes in flight.
    #[tokio::test(start_paused = true)]
    async fn a_cut_fails_the_client_and_ends_the_broker() {
        let link = Arc::new(Link::new(Duration::from_millis(50), Duration::ZERO));
        let mut client = LinkEnd::new(link.clone(), Side::Client);
        let mut broker = LinkEnd::new(link.clone(), Side::Broker);
        client.write_all(b"lost").await.unwrap();
        let reader = tokio::spawn(async move {
            let mut buf = Vec::new();
            broker.read_to_end(&mut buf).await.unwrap();
            buf
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        link.cut();
        assert!(reader.await.unwrap().is_empty(), "nothing in flight lands");
        let mut buf = [0u8; 1];
        let err = client.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        assert!(client.write_all(b"more").await.is_err());
    }
}
