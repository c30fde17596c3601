//! A WebSocket server on loopback that replays recorded messages, shared by `tests/ws.rs` and
//! `benches/ws.rs` (which includes this file with `#[path]`): connection `i` follows step `i` of
//! a plan, or every connection floods. Only `std`, tokio, tokio-tungstenite and futures-util
//! here, so that the bench can include it on its own.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// What one connection of the replay server does.
#[derive(Clone)]
pub enum Then {
    /// After the subscription, send these messages, then keep the connection open (answering
    /// pings).
    Stay(Range<usize>),
    /// After the subscription, send these messages, then drop the connection without a close
    /// frame.
    Drop(Range<usize>),
    /// After the subscription, send these messages, then go silent for 30 s: no reads (so no
    /// pongs), no writes.
    Silent(Range<usize>),
    /// After the subscription, send an acknowledgement, a binary frame that is not UTF-8, a
    /// kline with a bad price, 400 000 nested arrays, and a 100 MB message (far over the
    /// client's limit), then keep the connection open.
    Hostile,
    /// Without waiting for a subscription, send this many messages (cycling through them) as
    /// fast as the client takes them, then keep the connection open.
    Flood(usize),
}

/// A replay server whose connection `i` follows `plan[i]` (connections beyond the plan wait
/// in the backlog); its port, and the number of subscriptions it received.
pub fn replay_server(messages: Vec<String>, plan: Vec<Then>) -> (u16, Arc<AtomicUsize>) {
    serve(messages, plan.into_iter())
}

/// A replay server that gives every connection `count` of `messages`, cycling, with no
/// subscription needed: the fastest source there is for a client. Its port.
pub fn flood_server(messages: Vec<String>, count: usize) -> u16 {
    serve(messages, std::iter::repeat(Then::Flood(count))).0
}

fn serve(
    messages: Vec<String>,
    plan: impl Iterator<Item = Then> + Send + 'static,
) -> (u16, Arc<AtomicUsize>) {
    let messages = Arc::new(messages);
    let subscriptions = Arc::new(AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let counter = subscriptions.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            for step in plan {
                let (tcp, _) = listener.accept().await.unwrap();
                let (messages, counter) = (messages.clone(), counter.clone());
                tokio::spawn(async move {
                    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    follow(ws, step, &messages, &counter).await;
                });
            }
            std::future::pending::<()>().await;
        });
    });
    (port, subscriptions)
}

async fn follow<S>(
    mut ws: WebSocketStream<S>,
    step: Then,
    messages: &[String],
    subscriptions: &AtomicUsize,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if let Then::Flood(count) = step {
        for i in 0..count {
            let message = Message::Text(messages[i % messages.len()].as_str().into());
            if ws.feed(message).await.is_err() {
                return;
            }
        }
        let _ = ws.flush().await;
        while let Some(Ok(_)) = ws.next().await {}
        return;
    }
    match ws.next().await {
        Some(Ok(Message::Text(text))) if text.contains("SUBSCRIBE") => {
            subscriptions.fetch_add(1, Ordering::SeqCst);
        }
        other => panic!("expected a subscription first, got {other:?}"),
    }
    let range = match &step {
        Then::Stay(r) | Then::Drop(r) | Then::Silent(r) => r.clone(),
        Then::Hostile | Then::Flood(_) => 0..0,
    };
    for message in &messages[range] {
        ws.send(Message::Text(message.as_str().into()))
            .await
            .unwrap();
    }
    match step {
        Then::Stay(_) | Then::Flood(_) => while let Some(Ok(_)) = ws.next().await {},
        Then::Drop(_) => drop(ws),
        Then::Hostile => {
            let bad_price = messages
                .iter()
                .find(|m| m.contains("\"kline\""))
                .unwrap()
                .replacen("\"h\":\"", "\"h\":\"x", 1);
            let hostile = [
                Message::Text(r#"{"result":null,"id":1}"#.into()),
                Message::Binary(vec![0xff, 0xfe, 0x00].into()),
                Message::Text(bad_price.into()),
                Message::Text(format!("{}1{}", "[".repeat(400_000), "]".repeat(400_000)).into()),
                Message::Text("x".repeat(100_000_000).into()),
            ];
            for message in hostile {
                let _ = ws.send(message).await;
            }
            while let Some(Ok(_)) = ws.next().await {}
        }
        Then::Silent(_) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(ws);
        }
    }
}
