//! The actor shell (the only place that imports actix): a system thread with arbiters,
//! one `RegionActor` per grid cell and one `DriverActor` per registered driver. Each
//! owns a core value and calls it; all domain logic lives in `crate::core`.

pub mod background;
pub mod driver;
pub mod inbox;
pub mod mailbox;
pub mod region;
pub mod system;

pub use driver::{DriverActor, DriverHandle, DriverView};
pub use region::{RegionActor, RegionHandle};
pub use system::ActorSystem;

use crate::core::grid::{Grid, RegionKey};

/// What a region actor needs of the fleet around it: the grid, the other regions (their
/// published snapshots) and the drivers (their route snapshots, to propose to them).
/// The router implements it and regions hold it as a trait object, so the actors do not
/// depend on the router that addresses them.
pub trait Fleet: Send + Sync {
    fn grid(&self) -> &Grid;
    fn region(&self, key: RegionKey) -> Option<RegionHandle>;
    fn driver(&self, id: &str) -> Option<DriverHandle>;
    /// Whether driver `id` exists and `test` holds for it (a matcher's filter: no clone).
    fn driver_holds(&self, id: &str, test: &dyn Fn(&DriverHandle) -> bool) -> bool;
}
