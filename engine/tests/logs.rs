//! What `dispatch serve` writes when its output is not a terminal: no token (the
//! first-start admin token goes to a 0600 file), no colour codes, and with
//! `--log-format json` one JSON object a line.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dispatch");

/// Starts `dispatch serve` on port 0 with stdout and stderr redirected to files; waits
/// (bounded) until it answers on the address its address file names.
async fn start(dir: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = spawn(dir, extra);
    match serving(dir).await {
        Some(addr) => (child, addr),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("engine did not answer /readyz");
        }
    }
}

fn spawn(dir: &Path, extra: &[&str]) -> Child {
    let out = std::fs::File::create(dir.join("stdout")).unwrap();
    let err = std::fs::File::create(dir.join("stderr")).unwrap();
    Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--addr-file")
        .arg(dir.join("addr"))
        .args(extra)
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "debug")
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start dispatch serve")
}

/// The engine's address once it is ready (after the first-start token file is
/// written and recovery is done), not merely once it is bound; `None` after 20 s.
async fn serving(dir: &Path) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    while Instant::now() < deadline {
        tick.tick().await;
        let Ok(addr) = std::fs::read_to_string(dir.join("addr")) else {
            continue;
        };
        let addr = addr.trim().to_string();
        let health = reqwest::get(format!("http://{addr}/readyz")).await;
        if health.is_ok_and(|r| r.status() == 200) {
            return Some(addr);
        }
    }
    None
}

/// Stops the engine (SIGTERM, so it logs its shutdown) and returns stdout + stderr.
async fn stop(mut child: Child, dir: &Path) -> String {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "engine did not stop");
        tick.tick().await;
    }
    ["stdout", "stderr"]
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
        .join("")
}

async fn exercise(addr: &str, token: &str) {
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    for url in [
        format!("{base}/v1/orders?token={token}"),
        format!("{base}/v1/orders?token={token}x"),
        format!("{base}/healthz"),
    ] {
        let _ = http.get(url).send().await.unwrap();
    }
    let r = http
        .post(format!("{base}/v1/drivers"))
        .bearer_auth(token)
        .json(&serde_json::json!({"id": "d1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_token_and_no_colour_when_redirected() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr) = start(dir.path(), &[]).await;
    let file = dir.path().join("data/initial-admin.token");
    let token =
        std::fs::read_to_string(&file).expect("first start writes the admin token to a file");
    let token = token.trim();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    exercise(&addr, token).await;
    let logs = stop(child, dir.path()).await;
    assert!(logs.contains("dispatch engine listening"), "{logs}");
    assert!(
        logs.contains("initial-admin.token"),
        "the log names the file: {logs}"
    );
    assert!(!logs.contains(token), "a token in the logs:\n{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in redirected logs:\n{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr) = start(dir.path(), &["--log-format", "json"]).await;
    let token = std::fs::read_to_string(dir.path().join("data/initial-admin.token")).unwrap();
    exercise(&addr, token.trim()).await;
    let logs = stop(child, dir.path()).await;
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 2, "{logs}");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    assert!(!logs.contains(token.trim()) && !logs.contains('\u{1b}'));
}
