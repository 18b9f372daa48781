//! A region's regular timers (the matching tick and the publish) run only while it has
//! something to do: a region with no driver, no order waiting to be matched and
//! nothing left to publish rests, and the messages that bring work wake it. Without
//! this, every region a past order or driver ever created would wake its arbiter
//! thread several times a second for nothing (66 idle regions holding 50,000
//! unassignable orders cost 2.7 % of a core in timer wake-ups alone).

use super::RegionActor;
use actix::prelude::*;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The handles of a working region's timers.
pub(super) struct Timers {
    publish: SpawnHandle,
    tick: SpawnHandle,
}

impl RegionActor {
    /// Starts the tick and publish timers unless they run.
    pub(super) fn wake(&mut self, ctx: &mut Context<Self>) {
        if self.timers.is_some() {
            return;
        }
        let publish = ctx.run_interval(self.publish_every, |act, ctx| {
            act.publish();
            act.rest_if_idle(ctx);
        });
        let tick = Duration::from_millis(self.shared.config.tick_ms);
        let tick = ctx.run_interval(tick, |act, ctx| act.tick(ctx));
        self.timers = Some(Timers { publish, tick });
    }

    /// Stops the timers once there is nothing to match, publish or tell: no driver in
    /// the index (its last publish left an empty snapshot), no order waiting, no supply
    /// change to act on, and the parked orders' backstop pointless (no driver
    /// connected anywhere) or idle (none parked).
    fn rest_if_idle(&mut self, ctx: &mut Context<Self>) {
        let nobody = self.shared.connected_drivers.load(Ordering::Relaxed) == 0;
        let idle = self.index().is_empty()
            && self.dirty.is_empty()
            && self.supply.is_empty()
            && self.tell_neighbours.is_empty()
            && self.pending.waiting() == 0
            && (self.pending.parked() == 0 || nobody)
            && !self.match_scheduled;
        if !idle {
            return;
        }
        if let Some(t) = self.timers.take() {
            ctx.cancel_future(t.publish);
            ctx.cancel_future(t.tick);
        }
    }
}
