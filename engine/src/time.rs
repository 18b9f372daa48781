//! Wall-clock time for the actor shell and handlers; core logic takes `now` as input.

use dispatch_protocol::Millis;
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix epoch milliseconds now.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
