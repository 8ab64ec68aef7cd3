//! Live updates as server-sent events: a `torrents` event with every
//! torrent's summary whenever something changes (at most every 500 ms)
//! and at least once a second while rates move.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

use crate::Daemon;
use crate::web::Body;

/// Shortest gap between two events.
const MIN_GAP: Duration = Duration::from_millis(500);
/// Longest gap (rates and ETAs change without events).
const MAX_GAP: Duration = Duration::from_secs(1);

/// A body fed by a task through a small channel; the task ends when the
/// client goes away (the send fails).
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// The `/api/v1/events` response.
pub(crate) fn stream(daemon: Daemon) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        let mut changed = daemon.subscribe();
        loop {
            let views = daemon.views();
            let Ok(json) = serde_json::to_string(&views) else {
                return;
            };
            let event = format!("event: torrents\ndata: {json}\n\n");
            if tx.send(Bytes::from(event)).await.is_err() {
                return;
            }
            tokio::time::sleep(MIN_GAP).await;
            tokio::select! {
                _ = changed.changed() => {}
                () = tokio::time::sleep(MAX_GAP - MIN_GAP) => {}
                () = tx.closed() => return,
            }
        }
    });
    let mut resp = Response::new(ChannelBody { rx }.boxed());
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}
