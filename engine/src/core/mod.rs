//! Pure domain logic: no actors, no async, time passed in. The actors own values of
//! these types and call them.

pub mod geo_util;
pub mod grid;
pub mod nearest;
pub mod order_queue;
pub mod region_index;
pub mod route;
