//! What becomes of a request body the handler did not read to its end.
//!
//! A handler may answer without reading the body (a refusal on its headers, a body over
//! the limit, one too slow). Left so, hyper stops reading and closes the connection
//! after the answer: a keep-alive client that still puts the connection back in its
//! pool sends its next request on a closing socket, and one still sending the body gets
//! a broken pipe instead of the answer. So every request body is watched; when the
//! handler leaves it unread, the rest is read and discarded (within the endpoint's body
//! limit and `limits.http_body_timeout_ms`, as if the handler had read it) before the
//! answer goes, and the connection is kept. A body that was refused for its size or its
//! slowness, or that cannot be read within those limits, is not read further: the answer
//! says `Connection: close`.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// A request body shared between the handler (through [`Watched`]) and the middleware
/// that finishes it.
pub struct Watch(Arc<Shared>);

struct Shared {
    body: Mutex<Body>,
    ended: AtomicBool,
}

/// Replaces `req`'s body with a watched one; `None` when there is no body to read.
pub fn watch(req: &mut Request) -> Option<Watch> {
    if http_body::Body::is_end_stream(req.body()) {
        return None;
    }
    let shared = Arc::new(Shared {
        body: Mutex::new(std::mem::take(req.body_mut())),
        ended: AtomicBool::new(false),
    });
    *req.body_mut() = Body::new(Watched(shared.clone()));
    Some(Watch(shared))
}

/// After the handler's answer `res`: reads and discards what it left of the body, at
/// most `limit` bytes within `timeout`; marks `res` `Connection: close` when it does not
/// (an answer about the body's size or slowness is not followed by reading more of it).
pub async fn finish(watch: Option<Watch>, res: &mut Response, limit: u64, timeout: Duration) {
    let Some(Watch(shared)) = watch else { return };
    if shared.ended.load(Ordering::Acquire) {
        return;
    }
    let refused_for_the_body = matches!(
        res.status(),
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
    );
    let rest = std::mem::take(&mut *shared.body.lock().unwrap_or_else(|p| p.into_inner()));
    if refused_for_the_body
        || !matches!(
            tokio::time::timeout(timeout, discard(rest, limit)).await,
            Ok(true)
        )
    {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// Reads `body` to its end without keeping it; false past `limit` bytes or on an error.
async fn discard(mut body: Body, limit: u64) -> bool {
    let mut read = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return false };
        if let Some(data) = frame.data_ref() {
            read += data.len() as u64;
            if read > limit {
                return false;
            }
        }
    }
    true
}

/// The handler's side of a watched body.
struct Watched(Arc<Shared>);

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut body = self.0.body.lock().unwrap_or_else(|p| p.into_inner());
        let polled = Pin::new(&mut *body).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.0.ended.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let end = self
            .0
            .body
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_end_stream();
        if end {
            self.0.ended.store(true, Ordering::Release);
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .body
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    fn request(body: Body) -> Request {
        Request::builder().uri("/").body(body).unwrap()
    }

    async fn closes(watch: Option<Watch>, status: StatusCode, limit: u64) -> bool {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = status;
        finish(watch, &mut res, limit, T).await;
        res.headers().get(header::CONNECTION).is_some()
    }

    #[tokio::test]
    async fn a_body_read_to_its_end_keeps_the_connection() {
        let mut req = request(Body::from("{\"a\":1}"));
        let watch = watch(&mut req);
        let read = req.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&read[..], b"{\"a\":1}");
        assert!(!closes(watch, StatusCode::OK, 10).await);
    }

    #[tokio::test]
    async fn an_unread_body_within_the_limit_is_drained_and_keeps_it() {
        let mut req = request(Body::from(vec![7u8; 1 << 16]));
        let watch = watch(&mut req);
        drop(req);
        assert!(!closes(watch, StatusCode::NOT_FOUND, 1 << 16).await);
    }

    #[tokio::test]
    async fn an_unread_body_over_the_limit_closes_it() {
        let mut req = request(Body::from(vec![7u8; 1 << 16]));
        let watch = watch(&mut req);
        drop(req);
        assert!(closes(watch, StatusCode::NOT_FOUND, (1 << 16) - 1).await);
    }

    #[tokio::test]
    async fn a_body_refused_for_its_size_is_not_read_further() {
        let mut req = request(Body::from(vec![7u8; 10]));
        let watch = watch(&mut req);
        drop(req);
        assert!(closes(watch, StatusCode::PAYLOAD_TOO_LARGE, 1 << 20).await);
    }

    #[tokio::test]
    async fn no_body_nothing_to_watch() {
        let mut req = request(Body::empty());
        assert!(watch(&mut req).is_none());
        assert!(!closes(None, StatusCode::OK, 0).await);
    }
}
