//! Live updates as server-sent events: on connect a `torrents` event with
//! every torrent's summary; then, whenever something changes (at most every
//! 500 ms; rates are sampled once a second), a `delta` event with the
//! summaries of the torrents that changed and the ids of those removed, so
//! an update costs what changed, not the whole list. Summaries in a delta
//! are whole (a client replaces its copy); the running-time clocks alone do
//! not make a torrent changed.

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
use crate::table::json_array;
use crate::web::Body;

/// Shortest gap between two events.
const MIN_GAP: Duration = Duration::from_millis(500);
/// A comment line this often keeps idle connections (and proxies) alive.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

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
        let mut shown = daemon.table();
        let json = json_array(shown.rows.iter());
        if tx.send(event("torrents", &json)).await.is_err() {
            return;
        }
        loop {
            tokio::time::sleep(MIN_GAP).await;
            tokio::select! {
                _ = changed.changed() => {}
                () = tokio::time::sleep(KEEP_ALIVE) => {
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                    continue;
                }
                () = tx.closed() => return,
            }
            let table = daemon.table();
            if table.generation == shown.generation {
                continue;
            }
            let moved: Vec<_> = table.changed_since(shown.generation).collect();
            let removed = table.removed_since(&shown);
            // `{"changed": [summaries], "removed": [ids]}`, or nothing.
            let json = (!moved.is_empty() || !removed.is_empty()).then(|| {
                format!(
                    "{{\"changed\":{},\"removed\":{}}}",
                    json_array(moved.into_iter()),
                    serde_json::Value::from(removed)
                )
            });
            shown = table;
            let Some(json) = json else {
                continue;
            };
            if tx.send(event("delta", &json)).await.is_err() {
                return;
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

/// One event of the stream.
fn event(name: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}
