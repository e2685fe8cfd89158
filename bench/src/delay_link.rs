//! A TCP delay line on 127.0.0.1 in front of one broker: every byte arrives
//! `delay` after it was sent, in both directions, and throughput is not
//! limited (a proxy that sleeps before each chunk would serialise them). It
//! stands in for a long network link, where several requests in flight pay.

use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// Starts the link to `upstream`; returns the address to connect to.
pub async fn start(upstream: String, delay: Duration) -> io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(broker) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = (client.set_nodelay(true), broker.set_nodelay(true));
                let (client_read, client_write) = client.into_split();
                let (broker_read, broker_write) = broker.into_split();
                tokio::spawn(carry(client_read, broker_write, delay));
                carry(broker_read, client_write, delay).await;
            });
        }
    });
    Ok(addr)
}

/// Forwards `from` to `to`, each chunk `delay` after it was read.
async fn carry(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; 256 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0
            || tx
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
        {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}
