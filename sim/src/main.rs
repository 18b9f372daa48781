//! `dispatch-sim`: load tools that drive the engine only through its public HTTP and
//! WebSocket interfaces. `ingest` opens N real driver sockets (bincode) that stream
//! positions and measures accepted positions/s and position→visible-in-nearest latency.

mod ingest;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Ingest(args) => runtime.block_on(ingest::run(args)),
    }
}
