//! Proof-of-delivery images on both stores: the same writes give the same reads on
//! `SledStore` and `MemStore` and byte-identical exports; a flushed proof survives a
//! crash of the in-memory model, an unflushed one does not; a sled store reopened (and
//! so verified: every proof decoded) keeps them, and a backup made from its export
//! carries them.

use dispatch_storage::{MemStore, ProofRecord, SledOptions, SledStore, Store};

fn proof(len: usize, by: &str) -> ProofRecord {
    ProofRecord {
        content_type: "image/jpeg".into(),
        stored_ms: 1_764_140_000_000 + len as u64,
        uploaded_by: by.into(),
        bytes: (0..len).map(|i| (i % 253) as u8).collect(),
    }
}

/// Runs the script on `store`; returns every answer as text.
fn script(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    store.put_proof("o1", &proof(10, "tok-a")).unwrap();
    // Larger than a record body may be (1 MiB): the image is stored raw.
    store.put_proof("o2", &proof(2 << 20, "tok-b")).unwrap();
    // A second upload replaces the first.
    store.put_proof("o1", &proof(3, "tok-c")).unwrap();
    for id in ["o1", "o2", "o10", "nobody"] {
        let got = store.get_proof(id).unwrap();
        out.push(format!(
            "{id}: {:?}",
            got.map(|p| (p.content_type, p.stored_ms, p.uploaded_by, p.bytes.len()))
        ));
    }
    out
}

#[test]
fn sled_and_memory_agree_and_reopen_and_backup_keep_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let sled = SledStore::open_with(dir.path(), &SledOptions::default()).unwrap();
    let mem = MemStore::new();
    let (a, b) = (script(&sled), script(&mem));
    assert_eq!(a, b);
    assert_eq!(
        a[0],
        r#"o1: Some(("image/jpeg", 1764140000003, "tok-c", 3))"#
    );
    assert_eq!(a[3], "nobody: None");
    assert_eq!(sled.export().unwrap(), mem.export().unwrap());
    let export = sled.export().unwrap();
    sled.close().unwrap();
    let sled = SledStore::open_with(dir.path(), &SledOptions::default()).unwrap();
    assert_eq!(sled.report().proofs, 2);
    assert_eq!(sled.get_proof("o2").unwrap(), Some(proof(2 << 20, "tok-b")));
    sled.close().unwrap();
    // A backup written from the export holds them too.
    let copy = tempfile::tempdir().unwrap();
    let report = SledStore::create_from(copy.path(), &export, &SledOptions::default()).unwrap();
    assert_eq!(report.proofs, 2);
}

#[test]
fn a_proof_is_durable_at_the_flush_not_before() {
    let mem = MemStore::new();
    mem.put_proof("o1", &proof(5, "tok-a")).unwrap();
    mem.flush().unwrap();
    mem.put_proof("o2", &proof(6, "tok-a")).unwrap();
    mem.crash();
    assert!(mem.get_proof("o1").unwrap().is_some());
    assert!(mem.get_proof("o2").unwrap().is_none());
}
