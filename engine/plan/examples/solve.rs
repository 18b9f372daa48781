//! Runs the planner without the CLI.
//!
//! cargo run --release -p dispatch-plan --example solve -- FILE [time_ms] [seed]
//! cargo run --release -p dispatch-plan --example solve -- --bench DIR BKS_CSV [time_ms] [seed]

use std::path::Path;

use dispatch_plan::solve::{bench_dir, solve_file, SolveOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: u64| args.get(i).and_then(|x| x.parse().ok()).unwrap_or(d);
    let res = if args.first().map(String::as_str) == Some("--bench") {
        let opts = SolveOptions {
            time_limit_ms: num(3, 1000),
            seed: num(4, 1),
        };
        bench_dir(Path::new(&args[1]), Path::new(&args[2]), &opts)
            .map(|t| print!("{}", t.to_markdown()))
    } else {
        let opts = SolveOptions {
            time_limit_ms: num(1, 1000),
            seed: num(2, 1),
        };
        solve_file(Path::new(&args[0]), None, &opts).map(|r| {
            eprint!("{}", r.to_text());
            println!("{}", r.to_json());
        })
    };
    if let Err(e) = res {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
