//! A damaged sled database is refused at open instead of served with acknowledged
//! records missing: sled recovers flipped bytes or a truncated file by cutting its log,
//! which only the witness file outside the database can notice. Backups copy a
//! consistent state that opens as a verified database.

use dispatch_storage::{
    Changes, OrderRecord, OrderStatusRecord, SledOptions, SledStore, StopRecord, Store, StoreError,
};
use std::path::Path;

fn order(id: &str) -> OrderRecord {
    let stop = StopRecord {
        lat: 1.0,
        lon: 2.0,
        ready_ms: None,
        due_ms: None,
        service_s: 60,
    };
    OrderRecord {
        id: id.into(),
        pickup: stop,
        dropoff: stop,
        size: 1,
        priority: 0,
        status: OrderStatusRecord::Pending,
        driver_id: None,
        pickup_eta_ms: None,
        dropoff_eta_ms: None,
        created_ms: 5,
        history: vec![],
        details: Default::default(),
    }
}

fn opts(data: &Path) -> SledOptions {
    SledOptions {
        witness: Some(data.join("store.witness")),
        ..SledOptions::default()
    }
}

/// 300 orders, each made durable as the engine does before acknowledging.
fn filled(data: &Path) {
    let store = SledStore::open_with(&data.join("db"), &opts(data)).unwrap();
    for i in 0..300 {
        let changes = Changes {
            orders: vec![order(&format!("o{i:03}"))],
            routes: vec![],
        };
        store.apply(&changes).unwrap();
        store.flush().unwrap();
    }
    store.close().unwrap();
}

fn damaged(data: &Path) -> String {
    match SledStore::open_with(&data.join("db"), &opts(data)) {
        Err(e @ StoreError::Damaged { .. }) => e.to_string(),
        Err(e) => panic!("{e}"),
        Ok(s) => panic!("opened with {} orders", s.report().counts.orders),
    }
}

#[test]
fn a_truncated_database_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    filled(tmp.path());
    let file = tmp.path().join("db").join("db");
    let len = std::fs::metadata(&file).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let err = damaged(tmp.path());
    assert!(err.contains("acknowledged writes are missing"), "{err}");
}

#[test]
fn flipped_bytes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    filled(tmp.path());
    let file = tmp.path().join("db").join("db");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() * 3 / 4;
    bytes[at..at + 8].iter_mut().for_each(|b| *b ^= 0x5a);
    std::fs::write(&file, bytes).unwrap();
    let err = damaged(tmp.path());
    assert!(err.contains("acknowledged writes are missing"), "{err}");
}

#[test]
fn a_deleted_database_is_refused_not_recreated() {
    let tmp = tempfile::tempdir().unwrap();
    filled(tmp.path());
    std::fs::remove_dir_all(tmp.path().join("db")).unwrap();
    let err = damaged(tmp.path());
    assert!(err.contains("database directory is missing"), "{err}");
    assert!(!tmp.path().join("db").exists());
}

#[test]
fn a_sound_database_checks_and_its_export_restores_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    filled(&data);
    let report = SledStore::check(&data.join("db"), &opts(&data)).unwrap();
    assert_eq!(report.counts.orders, 300);

    let store = SledStore::open_with(&data.join("db"), &opts(&data)).unwrap();
    let export = store.export().unwrap();
    let copy = tmp.path().join("copy");
    let made = SledStore::create_from(&copy.join("db"), &export, &opts(&copy)).unwrap();
    assert_eq!(made.counts, report.counts);
    let again = SledStore::check(&copy.join("db"), &opts(&copy)).unwrap();
    assert_eq!(again.counts, report.counts);
    // The source is untouched and still in use; the target must have been empty.
    assert_eq!(store.list_orders(None, 1000, None).unwrap().len(), 300);
    assert!(SledStore::create_from(&copy.join("db"), &export, &opts(&copy)).is_err());
}
