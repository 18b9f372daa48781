//! WebSocket plumbing: the HTTP upgrade (done here rather than through axum's wrapper,
//! so tungstenite's buffers and limits are ours to set), and `Conn`, a socket that
//! speaks protocol frames in the encoding the client last used.

use super::limits::{MessageRate, Verdict};
use crate::app::App;
use crate::auth::Refusal;
use crate::error::ApiError;
use crate::telemetry;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dispatch_protocol::{
    decode_raw, encode, ClientFrame, ConsoleMessage, DecodeError, DriverMessage, Encoded, Encoding,
    ErrorCode, ServerFrame, ServerMessage, Validate,
};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

pub type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(token))
}

/// Answers a WebSocket upgrade request with 101 and runs `session` on the socket, as a
/// task the engine's shutdown waits for. Not an upgrade request: 400.
pub fn upgrade<F, Fut>(app: &Arc<App>, mut req: Request, kind: &'static str, session: F) -> Response
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let headers = req.headers();
    let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned();
    let is_upgrade = header_has(headers, header::CONNECTION, "upgrade")
        && header_has(headers, header::UPGRADE, "websocket")
        && headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v == "13");
    let Some(key) = key.filter(|_| is_upgrade) else {
        return ApiError::invalid("expected a WebSocket upgrade (version 13)").into_response();
    };
    // Admission: sockets per token and in total (a socket without a token is counted
    // under the empty key; its session closes it with 1008 at once).
    let token = super::extract::token_of(req.headers(), req.uri()).unwrap_or_default();
    let slot = match app.guards.open_connection(&token) {
        Ok(slot) => slot,
        Err(e) => return e.into_response(),
    };
    let rate = app.guards.message_rate();
    let slow_send = std::time::Duration::from_millis(limits_slow_send(app));
    let on_upgrade = hyper::upgrade::on(&mut req);
    let limits = &app.config.limits;
    let config = WebSocketConfig::default()
        .read_buffer_size(limits.ws_read_buffer_bytes)
        .write_buffer_size(0)
        .max_write_buffer_size(limits.ws_max_write_buffer_bytes)
        .max_message_size(Some(limits.max_frame_bytes))
        .max_frame_size(Some(limits.max_frame_bytes));
    app.sessions.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                metrics::gauge!(telemetry::CONNECTIONS, "kind" => kind).increment(1.0);
                // Boxed: the task then holds a pointer rather than this block's
                // states side by side with the session's (~6 KiB per socket).
                Box::pin(session(Conn::new(socket, kind, rate, slow_send))).await;
                metrics::gauge!(telemetry::CONNECTIONS, "kind" => kind).decrement(1.0);
                drop(slot);
            }
            Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            derive_accept_key(key.as_bytes()),
        )
        .body(Body::empty())
        .expect("static response parts")
}

/// A socket's closing steps ([`Conn::fail`], [`Conn::close`]).
pub type Closing<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One inbound event of a socket.
pub enum Incoming {
    /// A data frame and the encoding it used.
    Frame(Encoding, Vec<u8>),
    /// Larger than `limits.max_frame_bytes`: the socket must close with 1009.
    TooLarge,
    /// The peer broke the WebSocket protocol (bad UTF-8 in a text frame, reserved bits
    /// or opcodes, a stray continuation): the socket must close with 1008.
    Violation,
    /// The peer closed or the connection broke.
    Closed,
    /// The socket's token was revoked or expired while it was open: the socket must
    /// close with 1008.
    Invalidated(Refusal),
}

/// Resolves when the token a socket was opened with stops being valid
/// (`Auth::invalidated`).
pub type TokenWatch = Pin<Box<dyn Future<Output = Refusal> + Send>>;

/// A protocol socket: per-connection `seq`, and replies in the encoding last used.
pub struct Conn {
    socket: Socket,
    /// The encoding of the client's last data frame; replies use it.
    pub encoding: Encoding,
    next_seq: u64,
    kind: &'static str,
    rate: MessageRate,
    slow_send: std::time::Duration,
    /// Watches the socket's token; `None` before authentication or once fired.
    token_watch: Option<TokenWatch>,
}

impl Conn {
    fn new(
        socket: Socket,
        kind: &'static str,
        rate: MessageRate,
        slow_send: std::time::Duration,
    ) -> Self {
        Self {
            socket,
            encoding: Encoding::Json,
            next_seq: 1,
            kind,
            rate,
            slow_send,
            token_watch: None,
        }
    }

    /// From now on `next` answers `Invalidated` once `watch` resolves.
    pub fn watch_token(&mut self, watch: TokenWatch) {
        self.token_watch = Some(watch);
    }

    /// The next data frame. Pings and pongs are answered by tungstenite but count
    /// against the message rate like data frames: a ping flood is refused, then closed
    /// with 1008 (`Closed` is returned after the close frame). Cancel-safe: the token
    /// watch lives in the `Conn`, and a read of the socket loses nothing when dropped.
    pub async fn next(&mut self) -> Incoming {
        loop {
            let read = tokio::select! {
                biased;
                why = fired(&mut self.token_watch) => return Incoming::Invalidated(why),
                read = self.socket.next() => read,
            };
            match read {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => match self.rate.check() {
                    Verdict::Accept => continue,
                    // Boxed, as the closing paths are: this future is what an idle
                    // socket waits in, so its size is memory per connected client.
                    Verdict::Refuse => {
                        if Box::pin(self.refuse_over_rate()).await.is_err() {
                            return Incoming::Closed;
                        }
                    }
                    Verdict::Close => {
                        self.close_over_rate().await;
                        return Incoming::Closed;
                    }
                },
                Some(Ok(Message::Text(t))) => {
                    return Incoming::Frame(Encoding::Json, t.as_bytes().to_vec())
                }
                Some(Ok(Message::Binary(b))) => {
                    return Incoming::Frame(Encoding::Bincode, b.to_vec())
                }
                Some(Ok(Message::Frame(_))) => continue,
                Some(Ok(Message::Close(_))) | None => return Incoming::Closed,
                Some(Err(WsError::Capacity(
                    CapacityError::MessageTooLong { .. } | CapacityError::TooManyHeaders,
                ))) => return Incoming::TooLarge,
                // A peer that vanished (network loss, a killed app) is a disconnect, not
                // a protocol error: no error frame, no error metric.
                Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                    tracing::debug!(kind = self.kind, "peer left without a close frame");
                    return Incoming::Closed;
                }
                Some(Err(WsError::Protocol(_) | WsError::Utf8(_))) => return Incoming::Violation,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, kind = self.kind, "socket read failed");
                    return Incoming::Closed;
                }
            }
        }
    }

    pub async fn send(&mut self, msg: ServerMessage) -> Result<(), WsError> {
        let kind = msg.kind();
        let frame = ServerFrame {
            seq: self.next_seq,
            msg,
        };
        self.next_seq += 1;
        let message = match encode(self.encoding, &frame) {
            Encoded::Text(t) => Message::Text(t.into()),
            Encoded::Binary(b) => Message::Binary(b.into()),
        };
        metrics::counter!(telemetry::MESSAGES_OUT, "kind" => self.kind, "type" => kind)
            .increment(1);
        // A client that stopped reading blocks the write once the buffers are full: it
        // is dropped after the timeout instead of holding this session (and the memory
        // of everything queued for it) forever.
        match tokio::time::timeout(self.slow_send, self.socket.send(message)).await {
            Ok(result) => result,
            Err(_) => {
                metrics::counter!(telemetry::SLOW_CONSUMERS, "kind" => self.kind).increment(1);
                tracing::info!(kind = self.kind, "slow consumer dropped: not reading");
                Err(WsError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "client stopped reading",
                )))
            }
        }
    }

    /// Decodes and validates one client frame. A bad frame is answered with an error
    /// frame (echoing the client's `seq` when it could be read) and yields `None`; the
    /// connection stays open. Over the message rate the frame is refused the same way;
    /// a client refused `ws_rate_strikes` times in a row is closed with 1008 (`Err`).
    pub async fn decode<M>(
        &mut self,
        bytes: &[u8],
        max: usize,
    ) -> Result<Option<ClientFrame<M>>, WsError>
    where
        M: Tagged + DeserializeOwned + bincode::Decode<()> + Validate,
    {
        match self.rate.check() {
            Verdict::Accept => {}
            Verdict::Refuse => {
                self.refuse_over_rate().await?;
                return Ok(None);
            }
            Verdict::Close => {
                self.close_over_rate().await;
                return Err(WsError::ConnectionClosed);
            }
        }
        let frame: ClientFrame<M> = match decode_raw(self.encoding, bytes, max) {
            Ok(f) => f,
            Err(e) => {
                let code = match e {
                    DecodeError::TooLarge { .. } => ErrorCode::TooLarge,
                    _ => ErrorCode::InvalidArgument,
                };
                metrics::counter!(telemetry::MESSAGES_IN, "kind" => self.kind, "type" => "invalid")
                    .increment(1);
                self.error(code, e.to_string(), None).await?;
                return Ok(None);
            }
        };
        metrics::counter!(telemetry::MESSAGES_IN, "kind" => self.kind, "type" => frame.msg.kind())
            .increment(1);
        if let Err(e) = frame.validate() {
            self.error(ErrorCode::InvalidArgument, e.to_string(), frame.seq)
                .await?;
            return Ok(None);
        }
        Ok(Some(frame))
    }

    async fn refuse_over_rate(&mut self) -> Result<(), WsError> {
        self.error(
            ErrorCode::RateLimited,
            "message rate exceeded; slow down",
            None,
        )
        .await
    }

    async fn close_over_rate(&mut self) {
        self.fail(
            ErrorCode::RateLimited,
            "message rate exceeded repeatedly",
            CloseCode::Policy,
        )
        .await;
    }

    /// Sends an error frame; the connection stays open.
    pub async fn error(
        &mut self,
        code: ErrorCode,
        message: impl Into<String>,
        reference: Option<u64>,
    ) -> Result<(), WsError> {
        metrics::counter!(telemetry::WS_ERRORS, "code" => code.as_str()).increment(1);
        self.send(ServerMessage::error(code, message, reference))
            .await
    }

    /// Sends a close frame with a code and reason, then waits briefly for the peer's
    /// close (bounded by the socket's own shutdown). Boxed, as [`fail`](Self::fail).
    pub fn close<'a>(&'a mut self, code: CloseCode, reason: &'a str) -> Closing<'a> {
        Box::pin(async move {
            // A close reason is at most 123 bytes on the wire.
            let mut end = reason.len().min(120);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            let frame = CloseFrame {
                code,
                reason: reason[..end].to_string().into(),
            };
            // Bounded: a client that stopped reading cannot take the close frame either.
            let _ = tokio::time::timeout(self.slow_send, self.socket.close(Some(frame))).await;
        })
    }

    /// Closes the socket as an event other than a frame requires: 1009 for an
    /// oversized frame, 1008 for a protocol violation or a token that stopped being
    /// valid (after an error frame saying why); nothing more once the peer closed.
    pub async fn end(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::TooLarge => {
                self.fail(
                    ErrorCode::TooLarge,
                    "frame exceeds the size limit",
                    CloseCode::Size,
                )
                .await
            }
            Incoming::Violation => {
                let why = "WebSocket protocol violation";
                self.fail(ErrorCode::InvalidArgument, why, CloseCode::Policy)
                    .await
            }
            Incoming::Invalidated(why) => {
                self.fail(ErrorCode::Unauthenticated, why.message(), CloseCode::Policy)
                    .await
            }
            Incoming::Frame(..) | Incoming::Closed => {}
        }
    }

    /// Sends an error frame, then closes the socket with `close_code`. Boxed: a
    /// session awaits it once, at its end, and a future of several KiB inline in the
    /// session's state would be memory every idle socket holds for its whole life.
    pub fn fail<'a>(
        &'a mut self,
        code: ErrorCode,
        message: &'a str,
        close_code: CloseCode,
    ) -> Closing<'a> {
        Box::pin(async move {
            let _ = self.error(code, message, None).await;
            self.close(close_code, message).await;
            match close_code {
                CloseCode::Size => self.discard_unread().await,
                CloseCode::Policy => self.drain_until_closed().await,
                _ => {}
            }
        })
    }

    /// A client closed for flooding may have more frames in flight; closing the TCP
    /// socket with them unread sends a reset that can destroy the close frame in
    /// flight. Read and drop frames until the peer's close answers ours, for at most
    /// one second.
    async fn drain_until_closed(&mut self) {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            while let Some(Ok(m)) = self.socket.next().await {
                if m.is_close() {
                    break;
                }
            }
        })
        .await;
    }

    /// After an oversized frame its unread payload is still in the kernel's buffer;
    /// closing the TCP socket with unread data sends a reset that can destroy the close
    /// frame in flight. Read and discard until the peer closes, for at most one second.
    async fn discard_unread(&mut self) {
        use tokio::io::AsyncReadExt;
        let io = self.socket.get_mut();
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            while matches!(io.read(&mut buf).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}

/// The watch's outcome once it resolves (then it is dropped); never without one.
async fn fired(watch: &mut Option<TokenWatch>) -> Refusal {
    let Some(w) = watch.as_mut() else {
        return std::future::pending().await;
    };
    let why = w.await;
    *watch = None;
    why
}

fn limits_slow_send(app: &App) -> u64 {
    app.config.limits.slow_send_timeout_ms
}

/// Client message types, by their `type` tag (for metrics labels).
pub trait Tagged {
    fn kind(&self) -> &'static str;
}

impl Tagged for DriverMessage {
    fn kind(&self) -> &'static str {
        DriverMessage::kind(self)
    }
}

impl Tagged for ConsoleMessage {
    fn kind(&self) -> &'static str {
        ConsoleMessage::kind(self)
    }
}
