//! Trails on both stores: the same writes, reads and trims give the same answers on
//! `SledStore` and `MemStore`, byte-identical exports, and a sled store reopened (and
//! so verified: every trail record decoded against its key) keeps them.

use dispatch_storage::{MemStore, SledOptions, SledStore, Store, TrailPointRecord};

fn p(ts_ms: u64, lat: f64) -> TrailPointRecord {
    TrailPointRecord {
        ts_ms,
        lat,
        lon: 24.9,
    }
}

/// Runs the script on `store`; returns every answer as text.
fn script(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    // "d1" is a prefix of "d1x" and "d10": their trails must stay apart.
    let ids = ["d1", "d1x", "d10", "a", "é"];
    let mut batch = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        for i in 0..20_u64 {
            // Times past one byte, so big-endian order matters (256 < 1,000 < 70,000).
            batch.push((id.to_string(), p(i * 3_700 + k as u64, 60.0 + i as f64)));
        }
    }
    store.put_trail_points(&batch).unwrap();
    // The same driver and time again replaces the point.
    store.put_trail_points(&[("d1".into(), p(0, 1.0))]).unwrap();
    out.push(format!("{:?}", store.trail_drivers().unwrap()));
    for id in ids {
        out.push(format!("{id} len {}", store.trail_len(id).unwrap()));
        out.push(format!(
            "{:?}",
            store.trail_points(id, 256, 40_000, 5).unwrap()
        ));
        out.push(format!(
            "{:?}",
            store.trail_points(id, 40_000, 256, 5).unwrap()
        ));
        out.push(format!(
            "{:?}",
            store.trail_points(id, 0, u64::MAX, 0).unwrap()
        ));
    }
    out.push(format!(
        "trim {}",
        store.trim_trail("d1", 11_100, 0).unwrap()
    ));
    out.push(format!("trim {}", store.trim_trail("d1x", 0, 7).unwrap()));
    out.push(format!(
        "trim {}",
        store.trim_trail("d10", 7_400, 5).unwrap()
    ));
    out.push(format!(
        "trim {}",
        store.trim_trail("a", u64::MAX, 0).unwrap()
    ));
    out.push(format!(
        "trim {}",
        store.trim_trail("nobody", u64::MAX, 9).unwrap()
    ));
    for id in ids {
        out.push(format!(
            "{:?}",
            store.trail_points(id, 0, u64::MAX, 100).unwrap()
        ));
    }
    out.push(format!("{:?}", store.trail_drivers().unwrap()));
    out
}

#[test]
fn sled_and_memory_agree_and_reopen_keeps_trails() {
    let dir = tempfile::tempdir().unwrap();
    let sled = SledStore::open_with(dir.path(), &SledOptions::default()).unwrap();
    let mem = MemStore::new();
    let (a, b) = (script(&sled), script(&mem));
    assert_eq!(a, b);
    // Byte order of keys: d1's trail holds only its own 20 points, oldest first.
    assert!(a[2].contains("ts_ms: 3700"), "{}", a[2]);
    assert_eq!(a.last().unwrap(), r#"["d1", "d10", "d1x", "é"]"#);
    assert_eq!(sled.export().unwrap(), mem.export().unwrap());
    let report_before = sled.report().clone();
    sled.close().unwrap();
    let sled = SledStore::open_with(dir.path(), &SledOptions::default()).unwrap();
    assert_eq!(
        sled.report().trail_points,
        mem.export()
            .unwrap()
            .trees
            .iter()
            .find(|(t, _)| *t == "trails")
            .map_or(0, |(_, pairs)| pairs.len() as u64)
    );
    assert_eq!(sled.report().counts, report_before.counts);
    assert_eq!(sled.export().unwrap(), mem.export().unwrap());
}
