//! Running the `dispatch-sim` binary from a test: bounded in time, output in files.

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// Far above the expected ~30 s of a smoke run, so a slow CI machine passes, but bounded.
pub const LIMIT: Duration = Duration::from_secs(240);

/// What a finished run left behind.
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to its end (killed and failed after `LIMIT`). Its stdout and stderr go to
/// files in `dir`: a pipe nobody reads while waiting could fill up and stall the run.
pub fn run_bounded(cmd: &mut Command, dir: &Path) -> Ran {
    let (out_path, err_path) = (dir.join("sim.stdout"), dir.join("sim.stderr"));
    let mut child = cmd
        .env_remove("DISPATCH_CONSOLE_TOKEN")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start dispatch-sim");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dispatch-sim took longer than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Ran {
        status,
        stdout: std::fs::read_to_string(out_path).unwrap(),
        stderr: std::fs::read_to_string(err_path).unwrap(),
    }
}
