//! Durable storage of the dispatch engine.
//!
//! # Layout
//! - `store`: the [`Store`] trait, the engine's only door to durable state.
//! - `commit`: [`GroupCommit`], one flusher thread that lets many writers share a flush.
//! - `records`: persisted, versioned record types (separate from wire types) and their
//!   `[version][bincode]` encoding.
//! - `keys`: big-endian / byte-ordered key encodings, so scans come back in order.
//! - `sled_store`: [`SledStore`], the `Store` on sled (the only file that imports sled).
//! - `mem_store`: [`MemStore`], the `BTreeMap` twin with crash semantics, for tests.
//! - `error`: [`StoreError`], the one error type of this crate.
//!
//! # Guarantees
//! - A write followed by a resolved [`GroupCommit::durable`] survives a crash.
//! - [`Store::put_driver_states`] is atomic: after a crash the whole batch or none of it.
//! - Event sequence numbers rise by one per append, also across reopens.
//! - [`Store::load_drivers`] and [`Store::events_from`] return rows in key order.
//!
//! # Use
//! ```
//! use std::sync::Arc;
//! use dispatch_storage::{DriverRecord, GroupCommit, MemStore, Store};
//!
//! let store = Arc::new(MemStore::new()); // `SledStore::open(dir)?` in production
//! let commit = GroupCommit::start(store.clone());
//! let rec = DriverRecord { id: "d1".into(), name: None, capacity: 4, created_ms: 0 };
//! store.put_driver(&rec)?;          // 1. write
//! commit.durable_blocking()?;       // 2. wait for a shared flush (`durable().await` in async code)
//! // 3. only now acknowledge (HTTP 201)
//! commit.shutdown()?;
//! # Ok::<(), dispatch_storage::StoreError>(())
//! ```

mod commit;
mod error;
mod keys;
mod mem_store;
mod records;
mod sled_store;
mod store;

pub use commit::{Durable, GroupCommit};
pub use error::StoreError;
pub use mem_store::MemStore;
pub use records::{
    DriverRecord, DriverSnapshot, DriverStateRecord, DriverStatusRecord, EventKind, EventRecord,
    Versioned,
};
pub use sled_store::{SledOptions, SledStore};
pub use store::Store;
