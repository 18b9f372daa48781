//! HTTP connections: the accept loop and what every TCP connection is held to.
//!
//! `axum::serve` runs hyper without a timer and waits for every connection at shutdown,
//! so a client that sends half a request head holds its connection (and a SIGTERM)
//! forever. Here each connection carries a deadline for its current phase, kept by a
//! wrapper around its socket:
//! - `Head`: from accept, or from the first byte of a keep-alive connection's next
//!   request, until the head is parsed: `limits.http_header_timeout_ms`;
//! - `Idle`: from the end of a request's handling (the response being written) until
//!   the next request's first byte: `limits.http_idle_timeout_ms`;
//! - `Busy`: inside a handler, which bounds its own body read
//!   (`limits.http_body_timeout_ms`); `Upgraded`: a WebSocket with its own limits.
//!
//! Connections that have not presented a valid token are capped
//! (`limits.max_unauthenticated_connections`): at the cap the oldest one not inside a
//! handler is closed to admit the new one, so a flood of idle or half-sent connections
//! cycles through the cap while an honest client, which sends its request at once, is
//! served. All connections together are capped by `limits.max_tcp_connections` (by
//! default the open-file limit less a reserve), above which a new one is closed at once.
//! At shutdown a connection inside a handler gets the grace period to finish; the rest
//! are closed.

use crate::app::App;
use crate::telemetry;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

/// Where a connection is in its request cycle; each phase has its own deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Head = 0,
    Idle = 1,
    Busy = 2,
    Upgraded = 3,
}

impl Phase {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Head,
            1 => Self::Idle,
            2 => Self::Busy,
            _ => Self::Upgraded,
        }
    }
}

/// The timeouts and caps of [`serve`], from `config::Limits`.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header: Duration,
    pub idle: Duration,
    pub max_unauthenticated: usize,
    pub max_open: usize,
}

/// One connection's state, shared by its socket wrapper, its request service and the
/// registry of unauthenticated connections. Handlers find it in the request's
/// extensions (`admit` marks the connection authenticated).
#[derive(Debug)]
pub struct ConnState {
    id: u64,
    phase: AtomicU8,
    /// Bumped on every phase change, so the socket wrapper knows to re-arm.
    epoch: AtomicU32,
    authenticated: AtomicBool,
    /// Cancelled to close the connection (evicted at the cap).
    evict: CancellationToken,
    registry: Arc<Registry>,
}

impl ConnState {
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if phase == Phase::Upgraded {
            // A WebSocket is counted and capped by the socket guards from here on.
            self.registry.release(self.id);
        }
    }

    /// A request on this connection carried a valid token: it no longer counts
    /// against the unauthenticated cap.
    pub fn authenticated(&self) {
        if !self.authenticated.swap(true, Ordering::AcqRel) {
            self.registry.release(self.id);
        }
    }
}

/// Every open connection (counted) and the unauthenticated ones in accept order.
#[derive(Debug)]
struct Registry {
    open: AtomicUsize,
    unauthenticated: Mutex<BTreeMap<u64, Arc<ConnState>>>,
    limits: ConnLimits,
}

impl Registry {
    /// Admits a new unauthenticated connection, closing the oldest one not inside a
    /// handler when at the cap; `false` when every one is inside a handler.
    fn admit(&self, conn: &Arc<ConnState>) -> bool {
        let mut map = self
            .unauthenticated
            .lock()
            .expect("connection registry lock");
        if map.len() >= self.limits.max_unauthenticated {
            let victim = map
                .iter()
                .find(|(_, c)| c.phase() != Phase::Busy)
                .map(|(id, _)| *id);
            telemetry::limited("unauthenticated_connections");
            let Some(victim) = victim else {
                return false;
            };
            if let Some(c) = map.remove(&victim) {
                c.evict.cancel();
            }
        }
        map.insert(conn.id, conn.clone());
        true
    }

    fn release(&self, id: u64) {
        self.unauthenticated
            .lock()
            .expect("connection registry lock")
            .remove(&id);
    }
}

/// TCP connections open at once: `limits.max_tcp_connections`, or when it is 0 the
/// open-file soft limit less what the store, logs, listener and runtime need (an
/// eighth of it, between 32 and 256 descriptors).
pub fn max_open(limits: &crate::config::Limits) -> usize {
    if limits.max_tcp_connections > 0 {
        return limits.max_tcp_connections;
    }
    match rlimit::Resource::NOFILE.get() {
        Ok((soft, _)) => {
            let reserve = (soft / 8).clamp(32, 256);
            usize::try_from(soft.saturating_sub(reserve).max(16)).unwrap_or(usize::MAX)
        }
        Err(_) => 1024,
    }
}

/// Accepts connections on `listener` and serves `router` on each until
/// `app.shutdown` is cancelled; then stops accepting and returns. The returned
/// tracker holds the connection tasks still finishing (each within the grace period).
pub async fn serve(listener: TcpListener, app: Arc<App>, router: Router) -> TaskTracker {
    let limits = conn_limits(&app);
    let registry = Arc::new(Registry {
        open: AtomicUsize::new(0),
        unauthenticated: Mutex::default(),
        limits,
    });
    let tasks = TaskTracker::new();
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            biased;
            _ = app.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors or a connection reset before accept: back off
                // briefly rather than spin (what axum::serve does, shorter).
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if registry.open.load(Ordering::Acquire) >= limits.max_open {
            telemetry::limited("tcp_connections");
            drop(stream);
            continue;
        }
        next_id += 1;
        let state = Arc::new(ConnState {
            id: next_id,
            phase: AtomicU8::new(Phase::Head as u8),
            epoch: AtomicU32::new(0),
            authenticated: AtomicBool::new(false),
            evict: CancellationToken::new(),
            registry: registry.clone(),
        });
        if !registry.admit(&state) {
            drop(stream);
            continue;
        }
        registry.open.fetch_add(1, Ordering::AcqRel);
        let io = TimedIo::new(stream, state.clone(), limits);
        tasks.spawn(connection(io, state, router.clone(), app.clone()));
    }
    tasks.close();
    tasks
}

fn conn_limits(app: &App) -> ConnLimits {
    let l = &app.config.limits;
    ConnLimits {
        header: Duration::from_millis(l.http_header_timeout_ms),
        idle: Duration::from_millis(l.http_idle_timeout_ms),
        max_unauthenticated: l.max_unauthenticated_connections,
        max_open: max_open(l),
    }
}

/// Serves one connection until it ends, is evicted, or shutdown's grace runs out.
async fn connection(io: TimedIo, state: Arc<ConnState>, router: Router, app: Arc<App>) {
    let service_state = state.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let state = service_state.clone();
        state.set_phase(Phase::Busy);
        req.extensions_mut().insert(state.clone());
        let answer = router.clone().call(req.map(Body::new));
        async move {
            let Ok(resp) = answer.await;
            state.set_phase(if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
                Phase::Upgraded
            } else {
                Phase::Idle
            });
            Ok::<_, Infallible>(resp)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "http connection ended with an error");
            }
            return;
        }
        _ = state.evict.cancelled() => return,
        _ = app.shutdown.cancelled() => {}
    }
    // Shutting down: a request inside a handler may finish within the grace period;
    // a connection waiting for a head (or idle) has nothing to finish.
    if state.phase() == Phase::Busy {
        conn.as_mut().graceful_shutdown();
        let grace = Duration::from_millis(app.config.shutdown_grace_ms);
        let _ = tokio::time::timeout(grace, conn).await;
    }
}

/// A connection's socket with the deadline of its current phase: once it has passed,
/// reads and writes fail with `TimedOut`, which ends the connection.
pub struct TimedIo {
    io: TcpStream,
    state: Arc<ConnState>,
    limits: ConnLimits,
    sleep: Pin<Box<Sleep>>,
    armed: bool,
    seen_epoch: u32,
}

impl TimedIo {
    fn new(io: TcpStream, state: Arc<ConnState>, limits: ConnLimits) -> Self {
        Self {
            io,
            limits,
            sleep: Box::pin(tokio::time::sleep_until(Instant::now() + limits.header)),
            armed: true,
            seen_epoch: state.epoch.load(Ordering::Acquire),
            state,
        }
    }

    /// Re-arms the deadline when the phase changed since the last look.
    fn rearm(&mut self) {
        let epoch = self.state.epoch.load(Ordering::Acquire);
        if epoch == self.seen_epoch {
            return;
        }
        self.seen_epoch = epoch;
        let timeout = match self.state.phase() {
            Phase::Head => Some(self.limits.header),
            Phase::Idle => Some(self.limits.idle),
            Phase::Busy | Phase::Upgraded => None,
        };
        self.armed = timeout.is_some();
        if let Some(t) = timeout {
            self.sleep.as_mut().reset(Instant::now() + t);
        }
    }

    /// Re-arms when the phase changed, then looks at the deadline: the timeout error
    /// once it has passed, else `None` with the deadline's waker set to this task's.
    /// Checked on every read and write (not only when one would wait): a phase set by
    /// the request service after the socket's last wait is watched from the next write
    /// on, which always follows (the response).
    fn overdue(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.rearm();
        if !self.armed || self.sleep.as_mut().poll(cx).is_pending() {
            return None;
        }
        self.armed = false;
        let phase = match self.state.phase() {
            Phase::Idle => "idle",
            _ => "head",
        };
        metrics::counter!(telemetry::HTTP_TIMEOUTS, "phase" => phase).increment(1);
        Some(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("http {phase} timeout"),
        ))
    }
}

impl Drop for TimedIo {
    fn drop(&mut self) {
        self.state.registry.open.fetch_sub(1, Ordering::AcqRel);
        self.state.registry.release(self.state.id);
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.overdue(cx) {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                // The first byte of a keep-alive connection's next request starts the
                // head's clock.
                if buf.filled().len() > before && this.state.phase() == Phase::Idle {
                    this.state.set_phase(Phase::Head);
                }
                Poll::Ready(Ok(()))
            }
            ready => ready,
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.overdue(cx) {
            Some(e) => Poll::Ready(Err(e)),
            None => Pin::new(&mut this.io).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.overdue(cx) {
            Some(e) => Poll::Ready(Err(e)),
            None => Pin::new(&mut this.io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
