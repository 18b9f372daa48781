//! The replay's fleet: the instance's vehicles registered as drivers, one bot each on
//! its driver socket, all online and available at the depot before the clock starts.

use super::bot::{self, BotResult, Shared};
use super::instance::Clock;
use super::LilimArgs;
use crate::client::DriverClient;
use crate::common::register_drivers;
use crate::target::Target;
use anyhow::{bail, Context};
use dispatch_protocol::Encoding;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

type Bots = JoinSet<(usize, anyhow::Result<BotResult>)>;

pub struct Fleet {
    bots: Bots,
    go: watch::Sender<Option<Clock>>,
    stop: watch::Sender<bool>,
}

impl Fleet {
    /// Registers the vehicles as drivers `<prefix>v<i>`, connects their bots and waits
    /// (bounded) until every bot is online and the engine shows them at the depot.
    pub async fn start(
        a: &LilimArgs,
        shared: &Arc<Shared>,
        engine: &Target,
        http: &reqwest::Client,
        prefix: &str,
    ) -> anyhow::Result<Self> {
        let inst = &shared.inst;
        let ids: Vec<String> = (0..inst.vehicles)
            .map(|i| format!("{prefix}v{i}"))
            .collect();
        let capacity = u32::try_from(inst.capacity).context("vehicle capacity")?;
        let target = (engine.base.as_str(), engine.console.as_str());
        let tokens = register_drivers(http, target, &ids, Some(capacity)).await?;
        let encoding = if a.json_frames {
            Encoding::Json
        } else {
            Encoding::Bincode
        };
        // Bots: connect, go available at the depot, then wait for the clock.
        let (go, go_rx) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = tokio::sync::mpsc::channel::<()>(inst.vehicles);
        let mut bots = JoinSet::new();
        for (i, token) in tokens.iter().enumerate() {
            let client = DriverClient::new(&engine.ws_base(), token, encoding);
            // Evenly spread, seed-shuffled report phases.
            let phase =
                ((i as u64).wrapping_mul(0x9E37_79B9).wrapping_add(a.seed) % 1000) as f64 / 1000.0;
            let fut = bot::run(
                client,
                inst.depot(),
                (shared.clone(), phase),
                ready_tx.clone(),
                go_rx.clone(),
                stop_rx.clone(),
            );
            bots.spawn(async move { (i, fut.await) });
        }
        drop(ready_tx);
        let mut fleet = Self { bots, go, stop };
        fleet.wait_online(inst.vehicles, ready_rx).await?;
        wait_at_depot(shared, engine, http, prefix).await?;
        Ok(fleet)
    }

    /// Waits (30 s at most) for every bot's `ready`; names why bots failed otherwise.
    async fn wait_online(
        &mut self,
        vehicles: usize,
        mut ready: tokio::sync::mpsc::Receiver<()>,
    ) -> anyhow::Result<()> {
        let mut online = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while online < vehicles {
            match tokio::time::timeout_at(deadline, ready.recv()).await {
                Ok(Some(())) => online += 1,
                Ok(None) | Err(_) => break,
            }
        }
        if online == vehicles {
            return Ok(());
        }
        let _ = self.stop.send(true);
        let mut why = Vec::new();
        while let Ok(Some(r)) =
            tokio::time::timeout(Duration::from_secs(2), self.bots.join_next()).await
        {
            if let Ok((i, Err(e))) = r {
                why.push(format!("bot {i}: {e:#}"));
            }
        }
        self.bots.abort_all();
        bail!("only {online} of {vehicles} driver bots came online: {why:?}")
    }

    /// Starts the bots' clock.
    pub fn go(&self, clock: Clock) {
        let _ = self.go.send(Some(clock));
    }

    /// Stops every bot and collects what each drove (10 s at most per bot to answer);
    /// a bot that ended early is an error and a note.
    pub async fn stop(mut self, shared: &Shared, notes: &mut Vec<String>) -> Vec<BotResult> {
        let _ = self.stop.send(true);
        let mut results = Vec::new();
        while let Ok(Some(r)) =
            tokio::time::timeout(Duration::from_secs(10), self.bots.join_next()).await
        {
            match r {
                Ok((_, Ok(b))) => results.push(b),
                Ok((i, Err(e))) => {
                    shared.bump_error("bot_ended");
                    notes.push(format!("bot {i} ended early: {e:#}"));
                }
                Err(e) => notes.push(format!("bot task failed: {e}")),
            }
        }
        self.bots.abort_all();
        results
    }
}

/// Bounded wait until the engine answers with the whole fleet available at the depot.
async fn wait_at_depot(
    shared: &Shared,
    engine: &Target,
    http: &reqwest::Client,
    prefix: &str,
) -> anyhow::Result<()> {
    let (dlat, dlon) = shared.world.latlon(shared.inst.depot());
    let k = shared.inst.vehicles.min(100);
    let url = format!(
        "{}/v1/drivers/nearest?lat={dlat}&lon={dlon}&k={k}",
        engine.base
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got: Value = http
            .get(&url)
            .bearer_auth(&engine.console)
            .send()
            .await?
            .json()
            .await
            .unwrap_or(Value::Null);
        let n = got["drivers"].as_array().map_or(0, |d| {
            d.iter()
                .filter(|x| x["id"].as_str().is_some_and(|id| id.starts_with(prefix)))
                .count()
        });
        if n >= k {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the engine shows {n} of {k} drivers available at the depot after 10 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
