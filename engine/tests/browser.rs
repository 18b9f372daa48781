//! The web console end to end in a real browser: the engine on 127.0.0.1, three driver
//! bots online over real WebSockets, and `tests/browser/console_test.mjs` driving
//! Debian's headless Chromium through playwright-core: the drivers are drawn and listed
//! by name (search and status filter), an order created by clicking the map (with its
//! recipient) is assigned, its driver's stop list shows, that driver going silent with
//! work raises one alert, its trail replays, an engine error is shown, the order is
//! cancelled from its panel, a dropped connection comes back, a refused token stops
//! with one message; screenshots at desktop and phone widths into `docs/screenshots/`. This side then checks
//! the engine: the order was assigned to a bot, whose socket received the route
//! holding it and then one without it, and is cancelled.
//!
//! The driver app (`/driver`) the same way (`tests/browser/driver_test.mjs`): a
//! refused token, sign-in, position shared from a mocked geolocation, orders appearing
//! on the phone, a pickup, a delivery with a note and a photo, a stop marked during a
//! network loss arriving once, one whose order was cancelled meanwhile never sent,
//! the app opening offline; it saves the screenshots in
//! `docs/screenshots/`. This side then checks the orders and the proof.
//!
//! Needs `node`, `/usr/bin/chromium` (Debian's `chromium`) and
//! `npm ci --prefix engine/tests/browser`; `.ci/run` installs them and sets
//! `DISPATCH_BROWSER_TEST=required`, which turns a missing piece into a failure.
//! Elsewhere a missing piece skips the test with a message.

mod common;

use common::{send, Engine, WAIT};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::sync::mpsc;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether everything the browser test needs is here; a reason when not.
fn prerequisites(dir: &Path) -> Result<(), String> {
    if !Path::new(CHROMIUM).exists() {
        return Err(format!("{CHROMIUM} not found (apt-get install chromium)"));
    }
    if !dir.join("node_modules/playwright-core").exists() {
        return Err(format!(
            "playwright-core not installed (npm ci --prefix {})",
            dir.display()
        ));
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node not found".into());
    }
    Ok(())
}

/// `Some(dir)` when the browser tests can run here; `None` (with a message) when they
/// are skipped; panics when they are required but cannot run.
fn browser_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Err(why) = prerequisites(&dir) {
        if std::env::var("DISPATCH_BROWSER_TEST").as_deref() == Ok("required") {
            panic!("browser test required but cannot run: {why}");
        }
        eprintln!("skipping the browser test: {why}");
        return None;
    }
    Some(dir)
}

/// Runs a node script to its end (at most two minutes) and returns the JSON of its
/// last stdout line; its stderr is the test's log.
async fn run_node(script: &Path, envs: &[(&str, String)]) -> Value {
    // One browser at a time: the tests of this file run in parallel otherwise.
    static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_BROWSER.lock().await;
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(script)
        .env("CHROMIUM", CHROMIUM)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("node starts");
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the browser run ends within two minutes")
        .expect("node runs");
    assert!(
        out.status.success(),
        "the browser run failed (its log is above)"
    );
    serde_json::from_slice(
        out.stdout
            .split(|b| *b == b'\n')
            .rfind(|l| !l.is_empty())
            .expect("a result line"),
    )
    .expect("a JSON result line")
}

/// The next route a bot reported (by `deadline`): the bot, and how many of the route's
/// stops belong to `order_id`.
async fn next_route(
    rx: &mut mpsc::UnboundedReceiver<(String, Value)>,
    deadline: tokio::time::Instant,
    order_id: &str,
    what: &str,
) -> (String, usize) {
    let (bot, route) = tokio::time::timeout_at(deadline, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
        .expect("bots are running");
    let stops = route["route"]["stops"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mine = stops.iter().filter(|s| s["order_id"] == order_id).count();
    (bot, mine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_chromium_draws_drivers_creates_an_order_and_sees_it_assigned() {
    let Some(dir) = browser_dir() else {
        return;
    };

    let engine = Engine::start(|_| {}).await;
    // Three named drivers a few hundred metres apart in central Helsinki.
    let spots = [
        ("d1", "Aino Lahti", 60.1699, 24.9384),
        ("d2", "Bertil Ek", 60.1725, 24.9450),
        ("d3", "Chen Wu", 60.1660, 24.9300),
    ];
    let (routes_tx, mut routes_rx) = mpsc::unbounded_channel::<(String, Value)>();
    let mut bots = Vec::new();
    for (id, name, lat, lon) in spots {
        let (status, body) = common::post(
            &engine,
            "/v1/drivers",
            json!({"id": id, "name": name, "capacity": 4}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let token = body["token"].as_str().unwrap().to_string();
        let mut ws = engine.driver(id, &token).await;
        send(&mut ws, json!({"type": "status", "status": "available"})).await;
        send(
            &mut ws,
            json!({"type": "position", "lat": lat, "lon": lon, "ts_ms": dispatch_engine::time::now_ms()}),
        )
        .await;
        // The bot keeps its socket open and reports every route it is sent.
        let tx = routes_tx.clone();
        bots.push(tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(Ok(msg)) = ws.next().await {
                if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    if v["type"] == "route" {
                        let _ = tx.send((id.to_string(), v));
                    }
                }
            }
        }));
    }
    engine
        .wait_nearest(60.17, 24.94, 10, "available", |d| d.len() == 3)
        .await;

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console.png");
    let _ = std::fs::remove_file(&shot);
    let drivers: Vec<Value> = spots
        .iter()
        .map(|(id, name, lat, lon)| json!({"id": id, "name": name, "lat": lat, "lon": lon}))
        .collect();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let result = run_node(
        &dir.join("console_test.mjs"),
        &[
            // A driver that holds work and sent no position for 2 s is an alert.
            (
                "CONSOLE_URL",
                format!("{}/?token={}&silent_s=2", engine.base, engine.console),
            ),
            ("DRIVERS", serde_json::to_string(&drivers).unwrap()),
            ("SCREENSHOT", shot.display().to_string()),
            ("SCREENSHOTS", shots.display().to_string()),
        ],
    )
    .await;
    let order_id = result["order_id"].as_str().expect("order_id").to_string();
    let driver_id = result["driver_id"].as_str().expect("driver_id").to_string();
    assert!(shot.exists(), "no screenshot at {}", shot.display());
    for name in ["console-desktop.png", "console-phone.png"] {
        assert!(shots.join(name).exists(), "no screenshot {name}");
    }
    println!("console screenshot: {}", shot.display());

    // The engine's side: the order the page created went to that bot and was then
    // cancelled from the page...
    let order = engine.get_json(&format!("/v1/orders/{order_id}")).await;
    assert_eq!(order["status"], "cancelled", "{order}");
    let history: Vec<&str> = order["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["pending", "assigned", "cancelled"], "{order}");
    // ...and that bot's socket received a route holding its two stops, then one
    // without them.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (bot, mine) = next_route(
            &mut routes_rx,
            deadline,
            &order_id,
            "the assigned bot receives the route",
        )
        .await;
        if mine == 2 {
            assert_eq!(bot, driver_id, "the route went to another driver");
            break;
        }
    }
    loop {
        let (bot, mine) = next_route(
            &mut routes_rx,
            deadline,
            &order_id,
            "the bot is told the order is gone",
        )
        .await;
        if bot == driver_id && mine == 0 {
            break;
        }
    }
    // The refused order (size 999) left nothing behind: only one order exists.
    let list = engine.get_json("/v1/orders").await;
    assert_eq!(list["orders"].as_array().map(Vec::len), Some(1), "{list}");
    for b in bots {
        b.abort();
    }
}

/// Follow the fleet: a console opened on an empty fleet fits the map to the first
/// driver that comes online (`tests/browser/console_follow.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_chromium_follows_the_first_drivers_that_appear() {
    let Some(dir) = browser_dir() else {
        return;
    };
    let engine = Engine::start(|_| {}).await;
    let result = run_node(
        &dir.join("console_follow.mjs"),
        &[
            ("BASE", engine.base.clone()),
            ("CONSOLE", engine.console.clone()),
        ],
    )
    .await;
    assert_eq!(result["ok"], true, "{result}");
    engine.spawned.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_app_in_chromium_shares_position_works_the_route_and_survives_a_network_loss() {
    let Some(dir) = browser_dir() else {
        return;
    };
    let engine = Engine::start(|_| {}).await;
    let token = engine.register("van7").await;
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let result = run_node(
        &dir.join("driver_test.mjs"),
        &[
            ("BASE", engine.base.clone()),
            ("CONSOLE", engine.console.clone()),
            ("DRIVER_ID", "van7".into()),
            ("DRIVER_TOKEN", token),
            ("LAT", "60.1699".into()),
            ("LON", "24.9384".into()),
            ("SCREENSHOTS", shots.display().to_string()),
        ],
    )
    .await;
    assert_eq!(result["ok"], true, "{result}");
    // The engine's side: o1 went pending → assigned → picked_up → delivered on van7,
    // o2 was picked up once, and the photo is o1's proof.
    let o1 = engine.get_json("/v1/orders/o1").await;
    let history: Vec<&str> = o1["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        ["pending", "assigned", "picked_up", "delivered"],
        "{o1}"
    );
    assert_eq!(o1["driver_id"], "van7");
    assert_eq!(o1["history"][3]["note"], "left with the neighbour", "{o1}");
    let o2 = engine.get_json("/v1/orders/o2").await;
    assert_eq!(o2["status"], "picked_up", "{o2}");
    let o3 = engine.get_json("/v1/orders/o3").await;
    assert_eq!(o3["status"], "cancelled", "{o3}");
    let proof = engine
        .http
        .get(engine.url("/v1/orders/o1/proof"))
        .bearer_auth(&engine.console)
        .send()
        .await
        .unwrap();
    assert_eq!(proof.status().as_u16(), 200);
    assert_eq!(proof.headers()["content-type"], "image/png");
    for name in ["driver-phone.png", "driver-desktop.png"] {
        assert!(shots.join(name).exists(), "no screenshot {name}");
    }
    engine.spawned.stop().await.unwrap();
}
