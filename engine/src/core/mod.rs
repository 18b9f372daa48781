//! Pure domain logic: no actors, no async, time passed in. The actors own values of
//! these types and call them.

pub mod geo_util;
pub mod grid;
pub mod nearest;
pub mod order_queue;
pub mod region_index;
pub mod route;

/// A hash map for the position path's per-driver lookups: foldhash is several times
/// cheaper than std's SipHash on short ids and still seeded per process, so ids a
/// client chooses cannot be aimed at one bucket.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
