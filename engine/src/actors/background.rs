//! Background CPU work — re-optimisation searches — on threads the kernel runs only when
//! a core would otherwise idle (Linux `SCHED_IDLE`): positions, matching rounds and
//! sockets always come first, and a search on a busy machine does fewer iterations
//! within its wall-clock budget instead of delaying routes. Elsewhere (or if the kernel
//! refuses) the thread runs at normal priority.

use std::sync::atomic::{AtomicBool, Ordering};
use thread_priority::{ThreadPriority, ThreadSchedulePolicy};
use tokio::sync::oneshot;

/// Runs `work` on a new idle-priority thread named `name`; the receiver gets its result
/// (an error if it panicked).
pub fn spawn<T, F>(name: &str, work: F) -> oneshot::Receiver<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            lower_priority();
            let _ = tx.send(work());
        });
    if let Err(e) = spawned {
        // The sender went with the closure: the receiver reports the failure.
        tracing::error!(error = %e, "background thread not started");
    }
    rx
}

/// Whether this thread now runs at idle priority.
fn lower_priority() -> bool {
    static WARNED: AtomicBool = AtomicBool::new(false);
    let set = set_idle();
    if !set && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::info!(
            "idle thread priority unavailable: background searches run at normal priority"
        );
    }
    set
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_idle() -> bool {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
    };
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
    )
    .is_ok()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_idle() -> bool {
    thread_priority::set_current_thread_priority(ThreadPriority::Min).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_an_idle_priority_thread_and_answers() {
        let rx = spawn("bg-test", || {
            let name = std::thread::current().name().map(str::to_string);
            (name, policy_is_idle())
        });
        let (name, idle) = rx.await.expect("answered");
        assert_eq!(name.as_deref(), Some("bg-test"));
        assert!(idle, "the thread runs under SCHED_IDLE");
    }

    #[tokio::test]
    async fn a_panic_is_an_error_not_a_hang() {
        let rx = spawn("bg-panic", || -> u32 { panic!("search failed") });
        assert!(rx.await.is_err());
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn policy_is_idle() -> bool {
        use thread_priority::unix::{thread_schedule_policy, NormalThreadSchedulePolicy};
        matches!(
            thread_schedule_policy(),
            Ok(ThreadSchedulePolicy::Normal(
                NormalThreadSchedulePolicy::Idle
            ))
        )
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn policy_is_idle() -> bool {
        true
    }
}
