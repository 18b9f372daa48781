//! Storage you can trust: the real `dispatch` binary refuses a damaged store (flipped
//! bytes, truncation, deleted `db/`) with the reason instead of serving with
//! acknowledged orders missing; `dispatch store check`, an online backup while orders
//! keep coming, a restore that serves every order acknowledged before the backup; a
//! second engine on the same data dir is refused.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dispatch");
const ORDERS: usize = 120;

/// A running `dispatch serve`, killed on drop so a failed assertion leaves none behind.
struct Proc {
    child: Child,
    base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// SIGTERM, then waits (bounded) for a clean exit.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status =
            wait_exit(&mut self.child, Duration::from_secs(10)).expect("exit after SIGTERM");
        assert!(status.success(), "{status:?}");
    }
}

/// Polls `child` until it exits or `limit` passes.
fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::park_timeout(Duration::from_millis(20));
    }
    None
}

fn serve_cmd(dir: &Path, addr_file: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("FAILPOINTS")
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .arg("--addr-file")
        .arg(addr_file);
    cmd
}

/// Starts the engine on `dir` and waits (bounded) until it is ready (`/readyz`).
async fn start(dir: &Path) -> Proc {
    let addr_file = dir.with_extension("addr");
    let _ = std::fs::remove_file(&addr_file);
    let child = serve_cmd(dir, &addr_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dispatch serve");
    let mut proc = Proc {
        child,
        base: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tick.tick().await;
        assert!(Instant::now() < deadline, "engine did not start");
        assert!(
            proc.child.try_wait().unwrap().is_none(),
            "engine exited at start"
        );
        let Ok(addr) = std::fs::read_to_string(&addr_file) else {
            continue;
        };
        proc.base = format!("http://{}", addr.trim());
        if let Ok(r) = reqwest::get(format!("{}/readyz", proc.base)).await {
            if r.status() == 200 {
                return proc;
            }
        }
    }
}

/// Runs `dispatch serve` on a store it must refuse: it has to exit non-zero before it
/// ever listens. Returns its output (stdout and stderr).
fn refused(dir: &Path) -> String {
    let addr_file = dir.with_extension("addr");
    let _ = std::fs::remove_file(&addr_file);
    let log = dir.with_extension("log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = serve_cmd(dir, &addr_file)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if answers_healthz(&addr_file) || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the engine started on {}", dir.display());
        }
        std::thread::park_timeout(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    eprintln!("refused as it should be:\n{text}");
    assert!(!status.success(), "{text}");
    text
}

/// Whether an engine listens at the address in `addr_file` and answers `/healthz`
/// (the address is written at bind, before the store is opened).
fn answers_healthz(addr_file: &Path) -> bool {
    use std::io::{Read, Write};
    let Ok(addr) = std::fs::read_to_string(addr_file) else {
        return false;
    };
    let Ok(mut conn) = std::net::TcpStream::connect(addr.trim()) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let mut answer = String::new();
    let asked = conn.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").is_ok();
    asked && conn.read_to_string(&mut answer).is_ok() && answer.contains(" 200 ")
}

fn dispatch(args: &[&str], dirs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for (flag, dir) in dirs {
        cmd.arg(flag).arg(dir);
    }
    cmd.output().expect("run dispatch")
}

fn console_token(dir: &Path) -> String {
    let out = dispatch(&["token", "console"], &[("--data-dir", dir)]);
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn create(base: &str, token: &str, id: &str) -> bool {
    let body = json!({"id": id, "pickup": {"lat": 60.1702, "lon": 24.9390},
                      "dropoff": {"lat": 60.1650, "lon": 24.9300}});
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/orders"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await;
    r.is_ok_and(|r| r.status() == 201)
}

async fn order_status(base: &str, token: &str, id: &str) -> u16 {
    let r = reqwest::Client::new()
        .get(format!("{base}/v1/orders/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

/// A data dir whose engine acknowledged `ORDERS` orders and stopped cleanly.
async fn filled() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let token = console_token(&dir);
    let p = start(&dir).await;
    for i in 0..ORDERS {
        assert!(
            create(&p.base, &token, &format!("o{i}")).await,
            "order o{i}"
        );
    }
    p.stop();
    (tmp, dir)
}

fn check(dir: &Path) -> Output {
    dispatch(&["store", "check"], &[("--data-dir", dir)])
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The sled data file, damaged in place by `damage`.
fn damage_db_file(dir: &Path, damage: impl FnOnce(&mut Vec<u8>)) {
    let file = dir.join("db").join("db");
    let mut bytes = std::fs::read(&file).unwrap();
    damage(&mut bytes);
    std::fs::write(&file, bytes).unwrap();
}

#[tokio::test]
async fn flipped_bytes_refuse_start_with_the_reason() {
    let (_tmp, dir) = filled().await;
    damage_db_file(&dir, |b| {
        let at = b.len() / 2;
        b[at..at + 16].iter_mut().for_each(|x| *x ^= 0xff);
    });
    let log = refused(&dir);
    assert!(
        log.contains("damaged") && log.contains("acknowledged writes are missing"),
        "{log}"
    );
    assert!(!check(&dir).status.success());
}

#[tokio::test]
async fn truncated_store_refuses_start_with_the_reason() {
    let (_tmp, dir) = filled().await;
    damage_db_file(&dir, |b| b.truncate(b.len() / 2));
    let log = refused(&dir);
    assert!(log.contains("damaged"), "{log}");
    assert!(!check(&dir).status.success());
}

#[tokio::test]
async fn deleted_db_refuses_start_with_the_reason() {
    let (_tmp, dir) = filled().await;
    std::fs::remove_dir_all(dir.join("db")).unwrap();
    let log = refused(&dir);
    assert!(log.contains("database directory is missing"), "{log}");
    assert!(!dir.join("db").exists(), "no empty database was created");
}

#[tokio::test]
async fn check_passes_on_a_sound_store() {
    let (_tmp, dir) = filled().await;
    let out = check(&dir);
    assert!(out.status.success(), "{}", text(&out));
    let report = text(&out);
    assert!(
        report.contains(&format!("orders        {ORDERS}")),
        "{report}"
    );
    assert!(report.contains("result: ok"), "{report}");
}

#[tokio::test]
async fn second_engine_on_the_same_data_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let first = start(&dir).await;
    let log = refused(&dir);
    assert!(log.contains("in use by another engine"), "{log}");
    assert!(log.contains(&dir.display().to_string()), "{log}");
    first.stop();
}

/// Orders keep coming while the engine copies its store; the restored copy serves
/// every order acknowledged before the backup started, and passes `check`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_backup_restores_every_acknowledged_order() {
    let (tmp, dir) = filled().await;
    let token = console_token(&dir);
    let p = start(&dir).await;
    let (base, t) = (p.base.clone(), token.clone());
    let writer = tokio::spawn(async move {
        let mut acked = 0;
        for i in 0.. {
            if create(&base, &t, &format!("late{i}")).await {
                acked += 1;
            }
            if acked >= 200 {
                break;
            }
        }
    });
    let backup = tmp.path().join("backup");
    let out = dispatch(
        &["store", "backup", "--url", &p.base, "--token", &token],
        &[("--out", &backup)],
    );
    assert!(out.status.success(), "{}", text(&out));
    writer.await.unwrap();
    p.stop();

    let restored = tmp.path().join("restored");
    let out = dispatch(
        &["store", "restore"],
        &[("--from", &backup), ("--data-dir", &restored)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = check(&restored);
    assert!(out.status.success(), "{}", text(&out));
    let p = start(&restored).await;
    for i in 0..ORDERS {
        assert_eq!(
            order_status(&p.base, &token, &format!("o{i}")).await,
            200,
            "o{i}"
        );
    }
    p.stop();
}
