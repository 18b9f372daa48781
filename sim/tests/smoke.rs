//! CI runs the smoke scenario: 50 driver bots against an embedded engine for 50
//! simulated minutes at 150x (about half a minute of wall time in a debug build). The
//! run must meet every budget of `sim/scenarios/smoke.toml` (the binary exits non-zero
//! otherwise) and write both reports.

mod support;

use std::path::Path;
use std::process::Command;

#[test]
fn smoke_scenario_meets_its_budgets() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml");
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dispatch-sim"));
    cmd.arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(out.path())
        .arg("--json");
    let ran = support::run_bounded(&mut cmd, out.path());
    let (stdout, stderr) = (&ran.stdout, &ran.stderr);
    assert!(
        ran.status.success(),
        "dispatch-sim run smoke failed ({}):\n{stderr}\n{stdout}",
        ran.status
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["passed"], true, "{report}");
    assert_eq!(report["scenario"], "smoke");
    assert_eq!(report["engine"], "embedded");
    let t = &report["totals"];
    assert!(t["created"].as_u64().unwrap() > 100, "{t}");
    assert!(t["delivered"].as_u64().unwrap() > 100, "{t}");
    assert!(t["positions_sent"].as_u64().unwrap() > 1000, "{t}");
    assert!(t["disconnects_injected"].as_u64().unwrap() > 0, "{t}");
    assert_eq!(t["disconnects_injected"], t["reconnects"], "{t}");
    assert!(report["latency"]["created_to_route"]["n"].as_u64().unwrap() > 100);
    assert!(!report["minutes"].as_array().unwrap().is_empty());
    assert!(!report["budgets"].as_array().unwrap().is_empty());
    // The same report printed on stdout with --json.
    let printed: serde_json::Value =
        serde_json::from_str(stdout).expect("--json prints the report");
    assert_eq!(printed["totals"], report["totals"]);
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("smoke"));
}

/// The smoke run inside the Helsinki test extract with an engine that plans on its
/// roads (`sim/configs/roads-helsinki.toml`, run from the repository root where its
/// extract path is relative to): every budget met, and the bots drove along the road
/// paths their routes carried rather than in straight lines.
#[test]
fn smoke_on_roads_drives_along_the_streets_and_meets_its_budgets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dispatch-sim"));
    cmd.current_dir(&root)
        .arg("run")
        .arg("sim/scenarios/smoke-roads.toml")
        .arg("--config")
        .arg("sim/configs/roads-helsinki.toml")
        .arg("--out")
        .arg(out.path())
        .arg("--json");
    let ran = support::run_bounded(&mut cmd, out.path());
    assert!(
        ran.status.success(),
        "dispatch-sim run smoke-roads failed ({}):\n{}\n{}",
        ran.status,
        ran.stderr,
        ran.stdout
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["passed"], true, "{report}");
    assert!(report["totals"]["delivered"].as_u64().unwrap() > 100);
    let m = &report["engine_metrics"];
    let on_roads = m["sim:legs_on_roads"].as_f64().unwrap();
    let straight = m["sim:legs_straight"].as_f64().unwrap();
    assert!(
        on_roads >= 9.0 * straight && on_roads > 100.0,
        "legs on roads {on_roads}, straight {straight}"
    );
}
