//! The engine as a child `dispatch serve`: what `dispatch-sim run` falls back to when
//! the fleet needs more open files than one process may hold with both ends of every
//! socket. Run under a hard limit of 350 descriptors, the smoke scenario (50 drivers:
//! about 356 embedded, 306 per process) must choose it by itself, meet its budgets, say
//! which process used how much CPU and leave the engine's log in the output dir; a
//! missing engine binary must be a clear error rather than a hang.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{run_bounded, Ran};

/// The `dispatch` binary beside `dispatch-sim`, built when this package is tested alone.
fn engine_binary() -> PathBuf {
    let sim = Path::new(env!("CARGO_BIN_EXE_dispatch-sim"));
    let engine = sim.with_file_name(format!("dispatch{}", std::env::consts::EXE_SUFFIX));
    if !engine.is_file() {
        let release = sim
            .parent()
            .is_some_and(|d| d.file_name().is_some_and(|n| n == "release"));
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "-p", "dispatch-engine", "--bin", "dispatch"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            build.arg("--release");
        }
        assert!(
            build.status().unwrap().success(),
            "cargo build --bin dispatch"
        );
    }
    assert!(engine.is_file(), "{} missing", engine.display());
    engine
}

/// Runs dispatch-sim with `args` under an open-file limit of `fds` (soft and hard).
fn run_sim(fds: u32, dir: &Path, args: &[&std::ffi::OsStr]) -> Ran {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {fds} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_dispatch-sim"))
        .args(args)
        .env_remove("DISPATCH_BIN");
    run_bounded(&mut cmd, dir)
}

#[test]
fn too_few_open_files_for_an_embedded_smoke_run_start_the_engine_as_a_process() {
    let engine = engine_binary();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml");
    let out = tempfile::tempdir().unwrap();
    let output = run_sim(
        350,
        out.path(),
        &[
            "run".as_ref(),
            scenario.as_os_str(),
            "--engine-bin".as_ref(),
            engine.as_os_str(),
            "--out".as_ref(),
            out.path().as_os_str(),
            "--json".as_ref(),
        ],
    );
    let stderr = &output.stderr;
    assert!(
        output.status.success(),
        "dispatch-sim run smoke under 350 open files failed ({}):\n{stderr}",
        output.status
    );
    assert!(
        stderr.contains("starting the engine as its own process"),
        "{stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["passed"], true, "{report}");
    assert_eq!(report["engine"], "process");
    let printed: serde_json::Value =
        serde_json::from_str(&output.stdout).expect("--json prints the report");
    assert_eq!(printed["cpu"], report["cpu"]);
    let t = &report["totals"];
    assert!(t["delivered"].as_u64().unwrap() > 100, "{t}");
    assert_eq!(t["disconnects_injected"], t["reconnects"], "{t}");
    // Both sides did work, measured separately.
    let cpu = &report["cpu"];
    assert!(cpu["engine_s"].as_f64().unwrap() > 0.0, "{cpu}");
    assert!(cpu["simulator_s"].as_f64().unwrap() > 0.0, "{cpu}");
    assert!(cpu["cores"].as_u64().unwrap() >= 1, "{cpu}");
    // The engine's metrics were scraped from the child over HTTP.
    assert!(
        !report["engine_metrics"].as_object().unwrap().is_empty(),
        "{report}"
    );
    let log = std::fs::read_to_string(out.path().join("engine.log")).unwrap();
    assert!(log.contains("dispatch engine listening"), "{log}");
}

#[test]
fn a_missing_engine_binary_is_a_clear_error() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml");
    let out = tempfile::tempdir().unwrap();
    let missing = out.path().join("no-such-dispatch");
    let output = run_sim(
        1024,
        out.path(),
        &[
            "run".as_ref(),
            scenario.as_os_str(),
            "--engine".as_ref(),
            "process".as_ref(),
            "--engine-bin".as_ref(),
            missing.as_os_str(),
            "--out".as_ref(),
            out.path().as_os_str(),
        ],
    );
    assert!(!output.status.success());
    let stderr = &output.stderr;
    assert!(stderr.contains("no-such-dispatch"), "{stderr}");
}
