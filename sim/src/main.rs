//! `dispatch-sim`: load tools that drive the engine only through its public HTTP and
//! WebSocket interfaces. `ingest` opens N real driver sockets (bincode) that stream
//! positions and measures accepted positions/s and position→visible-in-nearest latency.
//! `orders` posts orders at a fixed rate to a fleet of driver bots that serve their
//! routes, and measures order created → route pushed to a driver. `create` measures
//! durable order creations per second. `flood` holds misbehaving connections open and
//! checks that honest clients are still served. `restart` writes a large store and
//! times the engine's restart on it, to ready, to `nearest` and to order creates.

mod client;
mod common;
mod create;
mod flood;
mod ingest;
mod orders;
mod replay;
mod report;
mod restart;
mod run;
mod scenario;
mod storm;
mod target;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "dispatch-sim",
    version,
    about = "Load tools for the dispatch engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stream positions from N driver WebSockets and measure the engine.
    Ingest(ingest::Args),
    /// Post orders at R/s to D driver bots that serve their routes; measure order
    /// created → route pushed to a driver socket.
    Orders(orders::Args),
    /// Post orders as fast as C concurrent clients can; measure durable orders/s.
    Create(create::Args),
    /// Run a peak-load scenario (sim/scenarios/*.toml): driver bots serving their routes,
    /// orders along a demand curve, injected trouble; report and budgets.
    Run(run::Args),
    /// Reveal a benchmark instance's orders over time to the live engine and compare the
    /// distance driven with the best-known static solution (the price of dynamic dispatch).
    Replay(replay::Args),
    /// Reconnect storm: N drivers holding routes drop and reconnect at once; each must
    /// resume its current route.
    Storm(storm::Args),
    /// Hostile connections: N half-sent or silent connections held open while honest
    /// clients keep asking; are they served?
    Flood(flood::Args),
    /// Restart after a crash: write N orders and M drivers to a data dir, then time
    /// `dispatch serve` from process start to ready, to `nearest` and to order creates.
    Restart(restart::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Every bot holds a socket: start from the hard open-file limit, not the soft one.
    target::raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Ingest(args) => runtime.block_on(ingest::run(args)),
        Command::Orders(args) => runtime.block_on(orders::run(args)),
        Command::Create(args) => runtime.block_on(create::run(args)),
        Command::Run(args) => runtime.block_on(run::run(args)),
        Command::Replay(args) => runtime.block_on(replay::run(args)),
        Command::Storm(args) => runtime.block_on(storm::run(args)),
        Command::Flood(args) => runtime.block_on(flood::run(args)),
        Command::Restart(args) => runtime.block_on(restart::run(args)),
    }
}
