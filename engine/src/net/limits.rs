//! Admission control: request rates per token (HTTP), message rates per connection
//! (WebSocket), connections per token and in total, and the bound on order writes in
//! flight. Each limit is in `config::Limits`; each refusal is counted
//! (`dispatch_limited_total{limit}`) and answered as the contract says: 429
//! `rate_limited` with Retry-After, 503 `overloaded` with Retry-After, or on a socket an
//! error frame and, for a client that keeps going, close 1008.

use crate::auth::Principal;
use crate::config::Limits;
use crate::error::ApiError;
use crate::telemetry;
use dispatch_protocol::ErrorCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

fn quota(per_s: u32, burst: u32) -> Quota {
    let nz = |v: u32| NonZeroU32::new(v.max(1)).expect("at least 1");
    Quota::per_second(nz(per_s)).allow_burst(nz(burst.max(per_s)))
}

#[derive(Debug)]
pub struct Guards {
    drivers: DefaultKeyedRateLimiter<String>,
    consoles: DefaultKeyedRateLimiter<String>,
    per_token: Mutex<HashMap<String, usize>>,
    total: AtomicUsize,
    max_per_token: usize,
    max_total: usize,
    order_writes: Arc<Semaphore>,
    ws_quota: Quota,
    ws_strikes: u32,
}

impl Guards {
    pub fn new(l: &Limits) -> Arc<Self> {
        Arc::new(Self {
            drivers: RateLimiter::keyed(quota(l.driver_requests_per_s, l.driver_request_burst)),
            consoles: RateLimiter::keyed(quota(l.console_requests_per_s, l.console_request_burst)),
            per_token: Mutex::default(),
            total: AtomicUsize::new(0),
            max_per_token: l.max_connections_per_token,
            max_total: l.max_connections,
            order_writes: Arc::new(Semaphore::new(l.max_inflight_order_writes)),
            ws_quota: quota(l.ws_messages_per_s, l.ws_message_burst),
            ws_strikes: l.ws_rate_strikes,
        })
    }

    /// One HTTP request of `who` (holding `token`): 429 with Retry-After when over its
    /// token's rate.
    pub fn check_request(&self, who: &Principal, token: &str) -> Result<(), ApiError> {
        let limiter = match who {
            Principal::Driver(_) => &self.drivers,
            Principal::Console(_) => &self.consoles,
        };
        limiter.check_key(&token.to_string()).map_err(|not_until| {
            telemetry::limited("http_rate");
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            rate_limited(wait.as_secs_f64())
        })
    }

    /// Forgets idle tokens' rate state (call periodically; the keyed maps grow with
    /// the number of distinct tokens seen otherwise).
    pub fn housekeeping(&self) {
        self.drivers.retain_recent();
        self.consoles.retain_recent();
    }

    /// Admits one more socket for `token`: 429 over the per-token limit, 503 over the
    /// total. The connection counts until the returned guard drops.
    pub fn open_connection(self: &Arc<Self>, token: &str) -> Result<ConnGuard, ApiError> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= self.max_total {
            self.total.fetch_sub(1, Ordering::AcqRel);
            telemetry::limited("connections");
            return Err(overloaded("too many connections"));
        }
        let mut map = self.per_token.lock().expect("connection counts lock");
        let n = map.entry(token.to_string()).or_insert(0);
        if *n >= self.max_per_token {
            drop(map);
            self.total.fetch_sub(1, Ordering::AcqRel);
            telemetry::limited("connections_per_token");
            return Err(rate_limited(1.0).with_message(format!(
                "at most {} open sockets per token",
                self.max_per_token
            )));
        }
        *n += 1;
        Ok(ConnGuard {
            guards: self.clone(),
            token: token.to_string(),
        })
    }

    /// A slot for one order write waiting on its flush; 503 when all are taken.
    pub fn order_write(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.order_writes.clone().try_acquire_owned().map_err(|_| {
            telemetry::limited("order_writes");
            overloaded("too many order writes in flight")
        })
    }

    /// A per-connection message rate.
    pub fn message_rate(&self) -> MessageRate {
        MessageRate {
            limiter: RateLimiter::direct(self.ws_quota),
            strikes: 0,
            max_strikes: self.ws_strikes,
        }
    }

    pub fn open_connections(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }
}

pub fn rate_limited(wait_s: f64) -> ApiError {
    ApiError {
        retry_after_s: Some(wait_s.ceil().max(1.0) as u64),
        ..ApiError::new(ErrorCode::RateLimited, "rate limit exceeded; retry later")
    }
}

pub fn overloaded(why: &str) -> ApiError {
    ApiError {
        retry_after_s: Some(1),
        ..ApiError::new(ErrorCode::Overloaded, format!("{why}; retry later"))
    }
}

/// Holds one connection slot; releases it on drop.
#[derive(Debug)]
pub struct ConnGuard {
    guards: Arc<Guards>,
    token: String,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut map = self
            .guards
            .per_token
            .lock()
            .expect("connection counts lock");
        if let Some(n) = map.get_mut(&self.token) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.token);
            }
        }
        self.guards.total.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What to do with one incoming socket message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Refuse this message (error frame), keep the socket.
    Refuse,
    /// Refused too many times in a row: close with 1008.
    Close,
}

pub struct MessageRate {
    limiter: DefaultDirectRateLimiter,
    strikes: u32,
    max_strikes: u32,
}

impl MessageRate {
    pub fn check(&mut self) -> Verdict {
        if self.limiter.check().is_ok() {
            self.strikes = 0;
            return Verdict::Accept;
        }
        telemetry::limited("ws_rate");
        self.strikes += 1;
        if self.strikes >= self.max_strikes {
            Verdict::Close
        } else {
            Verdict::Refuse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_token_and_total_connections() {
        let l = Limits {
            max_connections_per_token: 2,
            max_connections: 3,
            ..Limits::default()
        };
        let g = Guards::new(&l);
        let a1 = g.open_connection("a").unwrap();
        let _a2 = g.open_connection("a").unwrap();
        assert_eq!(
            g.open_connection("a").unwrap_err().code,
            ErrorCode::RateLimited
        );
        let _b1 = g.open_connection("b").unwrap();
        assert_eq!(
            g.open_connection("c").unwrap_err().code,
            ErrorCode::Overloaded
        );
        drop(a1);
        assert_eq!(g.open_connections(), 2);
        let _c1 = g.open_connection("c").unwrap();
    }

    #[test]
    fn message_rate_refuses_then_closes() {
        let l = Limits {
            ws_messages_per_s: 1,
            ws_message_burst: 2,
            ws_rate_strikes: 3,
            ..Limits::default()
        };
        let g = Guards::new(&l);
        let mut r = g.message_rate();
        assert_eq!(r.check(), Verdict::Accept);
        assert_eq!(r.check(), Verdict::Accept);
        assert_eq!(r.check(), Verdict::Refuse);
        assert_eq!(r.check(), Verdict::Refuse);
        assert_eq!(r.check(), Verdict::Close);
    }

    #[test]
    fn order_writes_are_bounded() {
        let l = Limits {
            max_inflight_order_writes: 1,
            ..Limits::default()
        };
        let g = Guards::new(&l);
        let p = g.order_write().unwrap();
        let e = g.order_write().unwrap_err();
        assert_eq!((e.code, e.retry_after_s), (ErrorCode::Overloaded, Some(1)));
        drop(p);
        assert!(g.order_write().is_ok());
    }
}
