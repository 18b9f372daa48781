//! `dispatch-sim replay lilim` end to end: the binary replays a whole Li & Lim instance
//! (lr108: 50 requests, 25 vehicles, horizon 230 units = 23 s of wall clock at the
//! default 100×) against an embedded engine, with real driver sockets. Every request
//! must be delivered, and the distance driven (plus the returns to the depot) cannot
//! beat the best-known static solution by more than rounding.
//!
//! Bounded by the replay's own `--time-limit-s`; it ends as soon as the last delivery is
//! acknowledged (about 20 s of wall clock, in debug builds too: the engine is idle most
//! of the time).

use std::path::PathBuf;
use std::process::Command;

fn vrp_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/vrp");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!("SKIPPED: benchmark data not found at {}", d.display());
        None
    }
}

#[test]
fn lr108_is_delivered_in_full_and_no_shorter_than_the_best_known() {
    let Some(dir) = vrp_dir() else { return };
    let file = dir.join("li_lim_100/lr108.txt");
    let out = Command::new(env!("CARGO_BIN_EXE_dispatch-sim"))
        .args(["replay", "lilim"])
        .arg(&file)
        .args([
            "--json",
            "--speedup",
            "100",
            // Requests that must be revealed before their ready time get 1 s of wall
            // clock of head start, so a slow test machine cannot make one infeasible.
            "--reaction-s",
            "1",
            "--time-limit-s",
            "60",
        ])
        .output()
        .expect("run dispatch-sim");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stderr}", out.status);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let requests = r["requests"].as_u64().unwrap();
    assert_eq!(requests, 50);
    assert_eq!(r["timed_out"], false, "{r:#}");
    assert_eq!(r["delivered"].as_u64(), Some(requests), "{r:#}");
    assert_eq!(
        r["final_status"]["delivered"].as_u64(),
        Some(requests),
        "{r:#}"
    );
    let distance = r["distance"].as_f64().unwrap();
    let bks = r["bks_distance"].as_f64().expect("lr108 is in bks.csv");
    assert!((bks - 968.966).abs() < 0.01, "{bks}");
    assert!(distance.is_finite(), "{r:#}");
    assert!(
        distance >= bks * 0.99,
        "dynamic beat the best known: {distance} < {bks}"
    );
    let price = r["price_of_dynamism_pct"].as_f64().unwrap();
    assert!((price - (distance / bks - 1.0) * 100.0).abs() < 1e-6);
    let used = r["vehicles_used"].as_u64().unwrap();
    assert!((1..=25).contains(&used), "{used}");
    assert!(r["positions_sent"].as_u64().unwrap() > 0);
    assert!(r["errors"].as_object().unwrap().is_empty(), "{r:#}");
    assert!(r["driven"].as_f64().unwrap() > 0.0);
}
