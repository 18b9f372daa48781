//! The actix `System` on its own thread with a fixed set of arbiters. Network I/O runs
//! on the tokio runtime that called `ActorSystem::start`; it reaches actors through
//! `Addr`s, whose replies come back on channels that any runtime can await.

use actix::{Arbiter, ArbiterHandle, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;

pub struct ActorSystem {
    system: System,
    arbiters: Vec<ArbiterHandle>,
    /// Round-robin cursor for placing new actors.
    next: AtomicUsize,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl ActorSystem {
    /// Starts the system thread with `arbiters` worker threads (at least one).
    pub fn start(arbiters: usize) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("actix-system".into())
            .spawn(move || {
                let runner = System::new();
                let workers: Vec<Arbiter> = runner
                    .block_on(async { (0..arbiters.max(1)).map(|_| Arbiter::new()).collect() });
                let handles = workers.iter().map(Arbiter::handle).collect::<Vec<_>>();
                // The receiver waits for exactly this message; it cannot be gone.
                let _ = tx.send((System::current(), handles));
                let _ = runner.run();
                for worker in workers {
                    worker.stop();
                    let _ = worker.join();
                }
            })
            .expect("spawn the actor system thread");
        let (system, arbiters) = rx.recv().expect("actor system started");
        Self {
            system,
            arbiters,
            next: AtomicUsize::new(0),
            thread: Mutex::new(Some(thread)),
        }
    }

    /// The arbiter for the next actor, round robin.
    pub fn arbiter(&self) -> &ArbiterHandle {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        &self.arbiters[i]
    }

    /// Stops every arbiter and the system thread, and waits for them.
    pub fn stop(&self) {
        self.system.stop();
        let thread = self.thread.lock().expect("system thread lock").take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for ActorSystem {
    fn drop(&mut self) {
        self.stop();
    }
}
