//! The actor shell (the only place that imports actix): a system thread with arbiters,
//! one `RegionActor` per grid cell and one `DriverActor` per registered driver. Each
//! owns a core value and calls it; all domain logic lives in `crate::core`.

pub mod driver;
pub mod inbox;
pub mod mailbox;
pub mod region;
pub mod system;

pub use driver::{DriverActor, DriverHandle, DriverView};
pub use region::{RegionActor, RegionHandle};
pub use system::ActorSystem;
