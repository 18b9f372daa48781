//! The simulator's own dispatch console: one `/ws/console` socket subscribed to the
//! service area (bincode), reading the `order` messages to see when each order was
//! assigned (created → assigned latency) or declared unassignable. Driver batches are
//! read and dropped. Also the progress display.

use super::clock::Clock;
use super::metrics::Stats;
use crate::client::{decode, open_socket, ws_message, Ws};
use crate::scenario::clock_label;
use anyhow::{bail, Context};
use dispatch_protocol::{
    encode, ClientFrame, ConsoleMessage, Encoding, OrderStatus, ServerMessage,
};
use futures_util::{SinkExt, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Connects and subscribes; returns once the snapshot arrived (so no order created
/// afterwards can be missed).
pub async fn subscribe(ws_base: &str, token: &str, bbox: [f64; 4]) -> anyhow::Result<Ws> {
    let url = format!("{ws_base}/ws/console?token={token}");
    let mut ws = open_socket(&url).await.context("console connect")?;
    let msg = ClientFrame {
        seq: None,
        msg: ConsoleMessage::Subscribe { bbox: Some(bbox) },
    };
    ws.send(ws_message(encode(Encoding::Bincode, &msg))).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next())
            .await
            .context("no console snapshot")?
            .context("console closed before its snapshot")??;
        match decode(&m).map(|f| f.msg) {
            Some(ServerMessage::Snapshot { .. }) => return Ok(ws),
            Some(ServerMessage::Error { code, message, .. }) => {
                bail!("console subscribe refused: {} {message}", code.as_str())
            }
            _ => {}
        }
    }
}

/// Reads order changes until `stop`; resubscribes if the socket drops.
pub async fn watch_orders(
    mut ws: Ws,
    reconnect: (String, String, [f64; 4]),
    stats: Arc<Stats>,
    clock: Clock,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let msg = tokio::select! {
            _ = stop.changed() => break,
            m = ws.next() => m,
        };
        match msg {
            Some(Ok(m)) => {
                let Some(f) = decode(&m) else { continue };
                match f.msg {
                    ServerMessage::Order { order } => {
                        let Some(n) = stats.index(&order.id) else {
                            continue;
                        };
                        match order.status {
                            OrderStatus::Assigned => stats.saw_assigned(n, &clock),
                            OrderStatus::Unassignable => stats.saw_unassignable(n, &clock),
                            _ => {}
                        }
                    }
                    ServerMessage::Drivers { dropped, .. } if dropped > 0 => {
                        stats.console_dropped.fetch_add(dropped, Relaxed);
                    }
                    _ => {}
                }
            }
            _ => {
                stats.error("console_socket_lost", &clock);
                let (base, token, bbox) = &reconnect;
                loop {
                    tokio::select! {
                        _ = stop.changed() => return,
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                    if let Ok(w) = subscribe(base, token, *bbox).await {
                        ws = w;
                        break;
                    }
                }
            }
        }
    }
    let _ = ws.close(None).await;
}

/// A progress bar (simulated clock, orders, deliveries, p99 so far) on a terminal; a
/// line every 10 s otherwise. Runs until `stop`.
pub async fn progress(
    stats: Arc<Stats>,
    clock: Clock,
    start_s: f64,
    total_s: f64,
    mut stop: watch::Receiver<bool>,
) {
    let tty = std::io::stderr().is_terminal();
    let bar = if tty {
        let bar = ProgressBar::with_draw_target(
            Some(total_s.ceil() as u64),
            ProgressDrawTarget::stderr_with_hz(4),
        );
        if let Ok(style) =
            ProgressStyle::with_template("{prefix} [{bar:30}] {elapsed_precise} {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Some(bar)
    } else {
        None
    };
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut last_line = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        let now = clock.now_s();
        let (created, delivered, open) = stats.counts();
        let msg = format!(
            "created {created} delivered {delivered} open {open} p99 route {:.0} ms online {} positions {} errors {}",
            stats.route_p99_ms(),
            stats.drivers_online.load(Relaxed),
            stats.positions.load(Relaxed),
            stats.error_count(),
        );
        let label = clock_label(start_s + now);
        match &bar {
            Some(bar) => {
                bar.set_prefix(label);
                bar.set_position(now.min(total_s) as u64);
                bar.set_message(msg);
            }
            None => {
                if last_line.elapsed() >= Duration::from_secs(10) {
                    last_line = std::time::Instant::now();
                    eprintln!("[{label}] wall {:.0} s {msg}", clock.wall_s());
                }
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
