//! The real-time dispatch engine: drivers stream positions over WebSockets into
//! region actors that hold them in R-trees; consoles and HTTP clients query and watch
//! the fleet; everything acknowledged is durable in sled.
//!
//! # Layout
//! - `config`: the TOML configuration, defaults and validation.
//! - `auth`: tokens (claims, signing secret, roles), the token registry and the audit
//!   log.
//! - `data_dir`: the store in the data dir: opened only after verification; check,
//!   backup and restore (`store_cli`: the `dispatch store` command line).
//! - `net`: the listener's HTTP routes, WebSocket upgrade and socket sessions.
//! - `app`: the shared state handed to every handler and session.
//! - `recovery`: drivers and open orders back from the store at start, in bulk;
//!   `readiness`: how far it got (`/readyz`), and the API's refusal until done.
//! - `router`: addressing of region and driver actors; nearest fan-out over regions.
//! - `actors`: the actix shell — `DriverActor`, `RegionActor`, the actor system.
//! - `core`: pure domain logic — the region grid and the spatial index.
//! - `dispatch`: orders and live dispatch — planning adapter, travel model, order
//!   directory, order operations.
//! - `persist`: the position batch writer in front of the store.
//! - `solve_coords`: `dispatch solve` for instances in coordinates (JSON, docs/solve.md)
//!   on great-circle or road travel, through the offline planner.
//! - `trackers`: phone tracker apps' requests decoded (OsmAnd, Traccar Client JSON).
//! - `trails`: the position history — downsampled, written in batches, trimmed.
//! - `telemetry`, `error`, `time`: metrics and logs, API errors, the clock.

pub mod actors;
pub mod app;
pub mod auth;
pub mod config;
pub mod core;
pub mod data_dir;
pub mod error;
pub mod net;
pub mod orders;
pub mod persist;
pub mod planning;
pub mod readiness;
pub mod recovery;
pub mod road_network;
pub mod router;
pub mod shared;
pub mod solve_coords;
pub mod store_cli;
pub mod telemetry;
pub mod time;
pub mod trackers;
pub mod trails;

use anyhow::Context as _;
use app::App;
use auth::{Auth, Principal};
use config::Config;
use dispatch_storage::{GroupCommit, Store};
use readiness::Readiness;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves the engine on `listener` until `shutdown` resolves, then stops accepting,
/// closes every socket with 1001, flushes storage and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve(listener, config, shutdown, true).await
}

/// [`run`], choosing whether a first start issues an admin token into
/// `<data_dir>/initial-admin.token` (the binary does; an engine embedded in tests or
/// the simulator needs none).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    first_token: bool,
) -> anyhow::Result<()> {
    let trackers = match config.trackers.listen {
        Some(addr) => Some(
            bind(addr, config.limits.tcp_send_buffer_bytes)
                .with_context(|| format!("bind the tracker listener trackers.listen = {addr}"))?,
        ),
        None => None,
    };
    serve_with(listener, trackers, config, shutdown, first_token).await
}

/// [`serve`] with the tracker listener (`trackers.listen`) already bound, or none.
pub async fn serve_with(
    listener: TcpListener,
    trackers: Option<TcpListener>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    first_token: bool,
) -> anyhow::Result<()> {
    let readiness = Arc::new(Readiness::default());
    serve_ready(listener, trackers, config, shutdown, first_token, readiness).await
}

/// [`serve_with`], reporting recovery on `readiness` (what `/readyz` answers from).
///
/// Start-up order: the store is opened and verified (a damaged one is refused before
/// anything is served), then the listener serves — `/healthz` 200 at once, `/readyz`
/// 503 and the API 503 `overloaded` until recovery (a task of its own) has restored
/// every driver and open order; then ready. A failed recovery stops the engine with
/// its error.
pub async fn serve_ready(
    listener: TcpListener,
    trackers: Option<TcpListener>,
    mut config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    first_token: bool,
    readiness: Arc<Readiness>,
) -> anyhow::Result<()> {
    config.validate()?;
    fit_connections_to_open_files(&mut config);
    let _ = telemetry::prometheus();
    let (auth, created) = Auth::open(&config.data_dir)?;
    if created && first_token {
        auth::cli::write_initial_token(&auth)?;
    }
    let (dir, cache_mb) = (config.data_dir.clone(), config.storage.cache_mb);
    let opened = tokio::task::spawn_blocking(move || data_dir::open_store(&dir, cache_mb))
        .await?
        .inspect_err(|e| {
            tracing::error!("{e:#}");
            readiness.set_failed(format!("{e:#}"));
        })?;
    let sled = Arc::new(opened);
    let store: Arc<dyn Store> = sled.clone();
    let commit = GroupCommit::start(store.clone());
    let (roads, dir) = (config.roads.clone(), config.data_dir.clone());
    let network = tokio::task::spawn_blocking(move || road_network::open(&roads, &dir)).await??;
    let roads = network.map(Arc::new);
    let app = App::new(config, auth, store, commit, readiness, roads);
    let local: SocketAddr = listener.local_addr()?;
    tracing::info!(%local, "dispatch engine listening; recovering");
    let recovery = spawn_recovery(&app);

    let upkeep = spawn_upkeep(&app);
    let revocations = app.auth.revocations.spawn_poll();
    let stop = app.shutdown.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop.cancel();
    });
    let tracker_conns = trackers.map(|l| {
        tracing::info!(local = ?l.local_addr().ok(), "tracker listener (OsmAnd, Traccar Client) open");
        tokio::spawn(net::conns::serve(l, app.clone(), net::trackers::router(app.clone())))
    });
    let connections =
        net::conns::serve(listener, app.clone(), net::http::router(app.clone())).await;
    let tracker_conns = match tracker_conns {
        Some(task) => Some(task.await?),
        None => None,
    };
    // Shutdown began. Sockets get a close frame (1001) and requests inside a handler
    // may finish, both within one grace period; then storage is flushed.
    tracing::info!("shutting down: closing sockets");
    app.sessions.close();
    let grace = Duration::from_millis(app.config.shutdown_grace_ms);
    let closed = tokio::time::timeout(grace, async {
        tokio::join!(connections.wait(), app.sessions.wait(), async {
            if let Some(t) = &tracker_conns {
                t.wait().await;
            }
        });
    })
    .await;
    if closed.is_err() {
        tracing::warn!("some connections did not close within the grace period");
    }
    upkeep.abort();
    revocations.abort();
    recovery.abort();
    flush_and_stop(&app).await?;
    tracing::info!("storage flushed; bye");
    match app.readiness.view().error {
        Some(e) => Err(anyhow::anyhow!(e)),
        None => Ok(()),
    }
}

/// The end of a shutdown, once sockets are closed: the audit log synced, the last
/// position batch and trail points written, the final flush, the actors stopped.
async fn flush_and_stop(app: &Arc<App>) -> anyhow::Result<()> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        app.auth.audit.sync();
        app.writer.shutdown()?;
        app.shared.trails.shutdown()?;
        app.commit.shutdown()?;
        app.system.stop();
        Ok(())
    })
    .await?
}

/// Recovery as a task: ready when it succeeds; a failure is logged, reported on
/// `/readyz`, and stops the engine (which then exits with it).
fn spawn_recovery(app: &Arc<App>) -> tokio::task::JoinHandle<()> {
    let app = app.clone();
    app.readiness.begin();
    tokio::spawn(async move {
        match recovery::recover(&app).await {
            Ok(r) => {
                app.readiness.set_ready();
                let took_ms = app.readiness.view().elapsed_ms;
                tracing::info!(
                    drivers = r.drivers,
                    open_orders = r.open_orders,
                    took_ms,
                    "recovered: ready"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "recovery failed: stopping");
                app.readiness
                    .set_failed(format!("recover drivers and orders: {e}"));
                app.shutdown.cancel();
            }
        }
    })
}

/// Every 5 s: the metrics recorder's upkeep, forgetting idle tokens' rate state,
/// trimming the event log to `storage.max_events`, syncing the audit log.
fn spawn_upkeep(app: &Arc<App>) -> tokio::task::JoinHandle<()> {
    let guards = app.guards.clone();
    let app_audit = app.clone();
    let (events, keep_events) = (app.store.clone(), app.config.storage.max_events);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            telemetry::prometheus().run_upkeep();
            guards.housekeeping();
            let store = events.clone();
            let audited = app_audit.clone();
            let _ = tokio::task::spawn_blocking(move || audited.auth.audit.sync()).await;
            match tokio::task::spawn_blocking(move || store.trim_events(keep_events)).await {
                Ok(Err(e)) => tracing::warn!(error = %e, "trimming the event log failed"),
                Ok(Ok(n)) if n > 0 => tracing::debug!(dropped = n, "event log trimmed"),
                _ => {}
            }
        }
    })
}

/// `limits.max_connections` (WebSockets) above what the process may hold open is a
/// promise it cannot keep: lower it to the TCP connection cap, and say so.
fn fit_connections_to_open_files(config: &mut Config) {
    let l = &mut config.limits;
    let budget = net::conns::max_open(l);
    if l.max_connections > budget {
        // Info, not a warning: the default (60,000) is above most hosts' open-file
        // limit on purpose, so a raised limit is used without a config change.
        tracing::info!(
            configured = l.max_connections,
            budget,
            "limits.max_connections is above the connections this process can hold open; using the open-file budget"
        );
        l.max_connections = budget;
    }
}

/// Binds the listener with a deep accept backlog (`LISTEN_BACKLOG`, capped by the
/// kernel's somaxconn): a reconnect storm of thousands of drivers would otherwise see
/// SYNs dropped and retried a second later. A non-zero `send_buffer` (bytes,
/// `limits.tcp_send_buffer_bytes`) fixes SO_SNDBUF, which accepted sockets inherit.
/// Must be called on a tokio runtime.
pub fn bind(addr: SocketAddr, send_buffer: usize) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if send_buffer > 0 {
        socket.set_send_buffer_size(u32::try_from(send_buffer).unwrap_or(u32::MAX))?;
    }
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Raises this process's soft open-file limit to its hard limit (every driver holds a
/// socket; many systems start processes at a soft 1,024) and returns the limit now in
/// force, `None` where it cannot be read.
pub fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
        }
    }
}

/// Pending connections the kernel may queue before `accept`.
pub const LISTEN_BACKLOG: u32 = 8192;

/// A running engine on an ephemeral port, for tests, the simulator and benches.
pub struct Spawned {
    pub addr: SocketAddr,
    /// The tracker listener's address, when `trackers.listen` is set.
    pub trackers_addr: Option<SocketAddr>,
    readiness: Arc<Readiness>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Spawned {
    /// Binds `config.listen` (use port 0), serves on the current runtime, and returns
    /// once the engine is ready (recovery done); if it fails first, with its error.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let spawned = Self::start_recovering(config).await?;
        match spawned.readiness.wait().await {
            Ok(()) => Ok(spawned),
            Err(why) => match spawned.stop().await {
                Err(e) => Err(e),
                Ok(()) => Err(anyhow::anyhow!(why)),
            },
        }
    }

    /// [`Spawned::start`] without waiting for recovery: the listener serves
    /// (`/healthz`) while `/readyz` and the API may still answer 503.
    pub async fn start_recovering(config: Config) -> anyhow::Result<Self> {
        let listener = bind(config.listen, config.limits.tcp_send_buffer_bytes)?;
        let addr = listener.local_addr()?;
        let trackers = match config.trackers.listen {
            Some(at) => Some(bind(at, config.limits.tcp_send_buffer_bytes)?),
            None => None,
        };
        let trackers_addr = trackers.as_ref().map(|l| l.local_addr()).transpose()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let readiness = Arc::new(Readiness::default());
        let watched = readiness.clone();
        let handle = tokio::spawn(async move {
            let stop = async {
                let _ = rx.await;
            };
            let served =
                serve_ready(listener, trackers, config, stop, false, watched.clone()).await;
            if !watched.is_ready() {
                // Whoever waits for readiness learns that it will not come.
                watched.set_failed(match &served {
                    Err(e) => format!("{e:#}"),
                    Ok(()) => "the engine stopped before it was ready".into(),
                });
            }
            served
        });
        Ok(Self {
            addr,
            trackers_addr,
            readiness,
            stop: Some(tx),
            handle,
        })
    }

    /// Recovery's progress (what `/readyz` answers).
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Graceful stop: waits until storage is flushed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.handle).await?
    }
}

/// A registered token without expiry for the data dir's secret (creating it when
/// absent), as `dispatch token` prints; named after the principal.
pub fn token(data_dir: &std::path::Path, who: &Principal) -> anyhow::Result<String> {
    let (signer, _) = auth::Signer::load_or_create(data_dir)?;
    let name = match who {
        Principal::Console(role) => format!("console-{role}"),
        Principal::Driver(id) => id.clone(),
    };
    let request = auth::Request {
        principal: who.clone(),
        name,
        ttl_ms: None,
    };
    let (_, token) = auth::issue(data_dir, &signer, &request, &auth::registry::cli_actor())?;
    Ok(token)
}
