//! [`DriverInit`]: where a driver actor starts, new (registered now) or recovered
//! (its stored state and route).

use super::PositionReport;
use crate::planning::LiveStop;
use dispatch_protocol::{DriverStatus, Millis, Order};
use dispatch_storage::DriverRecord;
use std::sync::Arc;

/// Where a recovered or new driver starts.
#[derive(Debug, Clone)]
pub struct DriverInit {
    pub record: DriverRecord,
    pub status: DriverStatus,
    pub position: Option<PositionReport>,
    pub updated_ms: Millis,
    /// Stored route version and stops (recovery).
    pub route_version: u64,
    pub stops: Vec<LiveStop>,
    /// The orders on those stops.
    pub orders: Vec<Order>,
    /// Recovery: gets one permit once the actor exists and has offered its position to
    /// its region (so recovery knows when every driver is back).
    pub started: Option<Arc<tokio::sync::Semaphore>>,
}

impl DriverInit {
    pub fn new(record: DriverRecord, status: DriverStatus, updated_ms: Millis) -> Self {
        Self {
            record,
            status,
            position: None,
            updated_ms,
            route_version: 0,
            stops: Vec::new(),
            orders: Vec::new(),
            started: None,
        }
    }
}
