//! Parameter experiments: tune FILE... with env T0, T1, FLEET, MS, SEED, CBAR, LMAX.

use std::time::Duration;

use dispatch_plan::search::{search, Budget, SearchParams};
use dispatch_plan::solve::load_problem;

fn env(k: &str, d: f64) -> f64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn main() {
    for f in std::env::args().skip(1) {
        let p = load_problem(std::path::Path::new(&f), None).expect("instance");
        let mut prm = SearchParams::new(
            Budget::Time(Duration::from_millis(env("MS", 1000.0) as u64)),
            env("SEED", 1.0) as u64,
        );
        prm.t_start = env("T0", prm.t_start);
        prm.t_end = env("T1", prm.t_end);
        prm.fleet_share = env("FLEET", prm.fleet_share);

        prm.ruin.avg_removed = env("CBAR", prm.ruin.avg_removed);
        prm.ruin.max_string = env("LMAX", prm.ruin.max_string);
        let (s, st) = search(&p, &prm);
        println!(
            "{} {} {:.2} iters {} fleet {} incomplete {} accepted {}",
            p.name,
            s.vehicles(),
            s.distance(),
            st.iterations,
            st.fleet_iterations,
            st.incomplete,
            st.accepted
        );
    }
}
