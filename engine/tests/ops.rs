//! What operators scrape: every metric family has HELP text, counters exist from zero,
//! process metrics and the build info are there, and the alert rules and dashboard in
//! docs/ops only name metrics the engine exports.

mod common;

use common::Engine;
use dispatch_engine::telemetry::{Kind, FAMILIES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_have_help_counters_start_at_zero_and_process_figures_are_there() {
    let e = Engine::start(|_| {}).await;
    let text = e.metrics_text().await;
    let mut exported = 0;
    for (name, kind, _) in FAMILIES {
        let has_samples = text
            .lines()
            .any(|l| !l.starts_with('#') && l.starts_with(name));
        if has_samples {
            exported += 1;
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "no HELP for {name}"
            );
        }
        // Counters without labels exist from the start, at zero.
        if *kind == Kind::Counter && !help_says_labelled(name) {
            assert!(
                text.contains(&format!("\n{name} ")),
                "{name} not exported at start"
            );
        }
    }
    assert!(exported >= 15, "only {exported} families exported at start");
    for series in [
        "dispatch_orders_created_total 0",
        "dispatch_limited_total{limit=\"regions\"} 0",
        "dispatch_http_timeouts_total{phase=\"head\"}",
        "dispatch_build_info{version=",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_max_fds ",
    ] {
        assert!(text.contains(series), "{series} missing");
    }
    e.spawned.stop().await.unwrap();
}

/// Labelled families say "by <label>" in their HELP (the engine's own convention).
fn help_says_labelled(name: &str) -> bool {
    FAMILIES
        .iter()
        .any(|(n, _, help)| *n == name && help.contains(", by "))
}

/// Every `dispatch_*` or `process_*` metric the ops files use is one the engine exports
/// (a renamed metric must not leave an alert that can never fire).
#[test]
fn ops_files_name_only_exported_metrics() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ops/");
    let known: Vec<String> = FAMILIES
        .iter()
        .map(|(n, _, _)| n.to_string())
        .chain(
            [
                "dispatch_build_info",
                "process_cpu_seconds_total",
                "process_resident_memory_bytes",
                "process_open_fds",
                "process_max_fds",
            ]
            .map(String::from),
        )
        .collect();
    for file in ["alerts.yml", "grafana-dashboard.json"] {
        let text = std::fs::read_to_string(format!("{root}{file}")).expect(file);
        let mut used = 0;
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if !(word.starts_with("dispatch_") || word.starts_with("process_")) {
                continue;
            }
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| word.strip_suffix(s))
                .unwrap_or(word);
            assert!(
                known.iter().any(|k| k == family),
                "{file}: unknown metric {word}"
            );
            used += 1;
        }
        assert!(used > 5, "{file} names almost no metrics");
    }
}
