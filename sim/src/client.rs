//! The simulator's one driver client: a real `/ws/driver` WebSocket with its token,
//! speaking JSON text or bincode binary frames. It connects with a small socket
//! buffer, says `hello` (with `resume_seq` when it comes back) and waits a bounded time
//! for the `welcome`, sends positions, statuses and `stop_done`s, and hands the bot
//! every server message it can decode. What a bot does with its route (stream
//! positions, serve stops, reconnect in a storm) is the bot's business, built on this.

use crate::common::now_ms;
use anyhow::{bail, Context};
use dispatch_protocol::{
    decode_raw, encode, ClientFrame, DriverMessage, DriverStatus, Encoded, Encoding, Route,
    ServerFrame, ServerMessage, StopOutcome,
};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a connect, or the `welcome` after `hello`, may take before it has failed.
const HANDSHAKE: Duration = Duration::from_secs(20);

/// A WebSocket message of an encoded frame.
pub fn ws_message(encoded: Encoded) -> Message {
    match encoded {
        Encoded::Binary(b) => Message::Binary(b.into()),
        Encoded::Text(t) => Message::Text(t.into()),
    }
}

/// One driver frame (client `seq` for messages that want an ack) as a message.
pub fn frame(enc: Encoding, seq: Option<u64>, msg: DriverMessage) -> Message {
    ws_message(encode(enc, &ClientFrame { seq, msg }))
}

/// A position report stamped now.
pub fn position((lat, lon): (f64, f64)) -> DriverMessage {
    DriverMessage::Position {
        lat,
        lon,
        ts_ms: now_ms(),
        speed_mps: None,
        heading_deg: None,
    }
}

/// A stop served now.
pub fn stop_done(stop_id: &str, outcome: StopOutcome) -> DriverMessage {
    DriverMessage::StopDone {
        stop_id: stop_id.to_string(),
        outcome,
        ts_ms: now_ms(),
        note: None,
    }
}

/// A server frame, in whichever encoding it came (`None`: not a frame).
pub fn decode(msg: &Message) -> Option<ServerFrame> {
    match msg {
        Message::Binary(b) => decode_raw(Encoding::Bincode, b, usize::MAX).ok(),
        Message::Text(t) => decode_raw(Encoding::Json, t.as_bytes(), usize::MAX).ok(),
        _ => None,
    }
}

/// Opens a WebSocket (bounded). A small read buffer per socket: 10,000 bots with
/// tungstenite's 128 KiB default would hold 1.3 GB of buffers.
pub async fn open_socket(url: &str) -> anyhow::Result<Ws> {
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (ws, _) = tokio::time::timeout(
        HANDSHAKE,
        tokio_tungstenite::connect_async_with_config(url, Some(config), true),
    )
    .await
    .context("connect timed out")?
    .context("connect")?;
    Ok(ws)
}

/// What the socket brought.
// Matched as soon as it is received, never stored: boxing the message would only add
// an allocation per frame.
#[allow(clippy::large_enum_variant)]
pub enum Incoming {
    Message(ServerMessage),
    /// A frame this client does not read (ping, pong, undecodable).
    Other,
    /// The socket is gone (the client is disconnected now); `code` of a close frame.
    Closed {
        code: Option<u16>,
        why: String,
    },
}

/// One driver's connection.
pub struct DriverClient {
    url: String,
    enc: Encoding,
    ws: Option<Ws>,
    /// Server seq last seen (for `resume_seq`).
    last_seq: u64,
}

impl DriverClient {
    pub fn new(ws_base: &str, token: &str, enc: Encoding) -> Self {
        Self {
            url: format!("{ws_base}/ws/driver?token={token}"),
            enc,
            ws: None,
            last_seq: 0,
        }
    }

    pub fn is_connected(&self) -> bool {
        self.ws.is_some()
    }

    /// Opens the socket and says `hello` (resuming from the last server seq seen when
    /// `resume`); answers the `welcome`'s route.
    pub async fn connect(&mut self, resume: bool) -> anyhow::Result<Route> {
        let mut ws = open_socket(&self.url).await?;
        let resume_seq = resume.then_some(self.last_seq);
        ws.send(frame(self.enc, None, DriverMessage::Hello { resume_seq }))
            .await?;
        // A new connection numbers its messages from 1 again.
        self.last_seq = 0;
        let deadline = tokio::time::Instant::now() + HANDSHAKE;
        loop {
            let msg = tokio::time::timeout_at(deadline, ws.next())
                .await
                .context("no welcome")?
                .context("closed before welcome")??;
            let Some(f) = decode(&msg) else { continue };
            self.last_seq = f.seq;
            match f.msg {
                ServerMessage::Welcome { route, .. } => {
                    self.ws = Some(ws);
                    return Ok(route);
                }
                ServerMessage::Error { code, message, .. } => {
                    bail!("hello refused: {} {message}", code.as_str())
                }
                _ => {}
            }
        }
    }

    /// [`connect`](Self::connect), tried up to `tries` times while the socket cannot be
    /// opened (refused, reset, dropped mid-handshake: an engine at its cap of connections
    /// still in their handshake turns the oldest away) with a jittered back-off from
    /// 100 ms doubling, as a driver app does after a reconnect storm. A `hello` the engine
    /// refuses is not retried. Answers the route and the retries it took.
    pub async fn connect_retrying(
        &mut self,
        resume: bool,
        tries: u32,
        rng: &mut impl rand::Rng,
    ) -> anyhow::Result<(Route, u32)> {
        let mut retries = 0;
        loop {
            match self.connect(resume).await {
                Ok(route) => return Ok((route, retries)),
                Err(e) if retries + 1 >= tries || e.to_string().starts_with("hello refused") => {
                    return Err(e)
                }
                Err(_) => {
                    let base = 100u64 << retries.min(6);
                    let wait = base + rng.random_range(0..base);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    retries += 1;
                }
            }
        }
    }

    /// Loses the socket abruptly: no close frame, as when a phone loses its network.
    pub fn drop_socket(&mut self) {
        self.ws = None;
    }

    /// Sends one message. Without a socket it is dropped (the app is offline); a failed
    /// send loses the socket.
    pub async fn send(&mut self, seq: Option<u64>, msg: DriverMessage) -> anyhow::Result<()> {
        let Some(ws) = self.ws.as_mut() else {
            return Ok(());
        };
        if let Err(e) = ws.send(frame(self.enc, seq, msg)).await {
            self.ws = None;
            bail!("send: {e}");
        }
        Ok(())
    }

    pub async fn send_position(&mut self, at: (f64, f64)) -> anyhow::Result<()> {
        self.send(None, position(at)).await
    }

    pub async fn send_status(&mut self, status: DriverStatus) -> anyhow::Result<()> {
        self.send(None, DriverMessage::Status { status }).await
    }

    /// Reports a stop done under client `seq` (its ack or error echoes it).
    pub async fn send_stop_done(
        &mut self,
        seq: u64,
        stop_id: &str,
        outcome: StopOutcome,
    ) -> anyhow::Result<()> {
        self.send(Some(seq), stop_done(stop_id, outcome)).await
    }

    /// The next thing the socket brings; never resolves without a socket.
    pub async fn recv(&mut self) -> Incoming {
        let Some(ws) = self.ws.as_mut() else {
            return std::future::pending().await;
        };
        let (code, why) = match ws.next().await {
            Some(Ok(Message::Close(f))) => (
                f.as_ref().map(|f| u16::from(f.code)),
                format!(
                    "closed by the server: {}",
                    f.map_or("no code".to_string(), |f| format!(
                        "{} {}",
                        u16::from(f.code),
                        f.reason
                    ))
                ),
            ),
            Some(Ok(m)) => {
                return match decode(&m) {
                    Some(f) => {
                        self.last_seq = f.seq;
                        Incoming::Message(f.msg)
                    }
                    None => Incoming::Other,
                }
            }
            Some(Err(e)) => (None, format!("socket error: {e}")),
            None => (None, "socket ended by the server".to_string()),
        };
        self.ws = None;
        Incoming::Closed { code, why }
    }

    /// Closes the socket politely, waiting at most two seconds for the server.
    pub async fn close(&mut self) {
        if let Some(mut ws) = self.ws.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
        }
    }
}
