//! Durable storage of the dispatch engine.
//!
//! # Layout
//! - `store`: the [`Store`] trait, the engine's only door to durable state, and
//!   [`Recovery`], what the engine reads back at start.
//! - `commit`: [`GroupCommit`], one flusher thread that lets many writers share a flush.
//! - `records`: persisted, versioned record types (drivers, driver states, events,
//!   orders, routes, trail points; separate from wire types), their `[version][bincode]` encoding, and
//!   [`Changes`], the unit of one atomic order/route write.
//! - `proof`: [`ProofRecord`], proof-of-delivery images (their own encoding: the image
//!   may exceed a record body's limit).
//! - `keys`: big-endian / byte-ordered key encodings, so scans come back in order.
//! - `integrity`: the manifest kept in the store and the witness file beside it, and
//!   the judgement of what verification found against them.
//! - `verify`: the scan that decodes every record and checks the open-order index.
//! - `export`: [`Export`], a consistent raw copy of every tree (backups).
//! - `sled_store`: [`SledStore`], the `Store` on sled (the only file that imports sled);
//!   its module docs list the trees.
//! - `mem_store`: [`MemStore`], the `BTreeMap` twin with crash semantics, for tests.
//! - `error`: [`StoreError`], the one error type of this crate.
//!
//! # Guarantees
//! - A write followed by a resolved [`GroupCommit::durable`] survives a crash.
//! - [`Store::put_driver_states`] is atomic: after a crash the whole batch or none of it.
//! - [`Store::apply`] is atomic across orders, the open-order index and routes: after a
//!   crash the whole [`Changes`] or none of it. (Scans running concurrently with it are
//!   not snapshots.)
//! - The open-order index holds exactly the stored orders whose status is not
//!   terminal, so [`Store::load_open_orders`] never scans finished orders.
//! - Event sequence numbers rise by one per append, also across reopens.
//! - [`SledStore::open_with`] opens only a store whose every record decodes and whose
//!   counts agree with its manifest and its witness file: never one that lost writes
//!   made durable before its last completed flush ([`StoreError::Damaged`]).
//! - [`Store::export`] is one consistent state holding every write that returned
//!   before it.
//! - [`Store::load_drivers`], [`Store::events_from`], [`Store::list_orders`],
//!   [`Store::load_open_orders`] and [`Store::load_routes`] return rows in key order.
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
mod export;
mod integrity;
mod keys;
mod mem_store;
mod proof;
mod records;
mod sled_store;
mod store;
mod verify;

pub use commit::{Durable, GroupCommit};
pub use error::StoreError;
pub use export::Export;
pub use integrity::{Counts, Report};
pub use mem_store::MemStore;
pub use proof::ProofRecord;
pub use records::{
    Changes, DriverRecord, DriverSnapshot, DriverStateRecord, DriverStatusRecord, EventKind,
    EventRecord, OrderDetailsRecord, OrderRecord, OrderRecordV1, OrderStatusRecord, RouteRecord,
    RouteStopRecord, StatusChangeRecord, StatusChangeRecordV1, StopKindRecord, StopRecord,
    TrailPointRecord, Versioned,
};
pub use sled_store::{SledOptions, SledStore};
pub use store::{Recovery, Store};
