//! The checker against every published best-known route file: each must be feasible and
//! reproduce its distance within 1e-3.

mod common;

use dispatch_plan::check::{check_solution, RoutePlan};
use dispatch_plan::parse::{parse_bks_csv, parse_instance, parse_routes, Format};

#[test]
fn every_published_bks_route_is_feasible_and_reproduces_its_distance() {
    let Some(dir) = common::vrp_dir() else { return };
    let bks = parse_bks_csv(
        "bks.csv",
        &std::fs::read_to_string(dir.join("bks.csv")).unwrap(),
    )
    .unwrap();
    let sol_dir = dir.join("bks_solutions/li_lim_100");
    let mut files: Vec<_> = std::fs::read_dir(&sol_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in &files {
        let fname = f.file_name().unwrap().to_string_lossy().into_owned();
        // lc101.10_828.9369.txt
        let (inst, rest) = fname.split_once('.').unwrap();
        let (veh, dist) = rest.trim_end_matches(".txt").split_once('_').unwrap();
        let (veh, dist): (usize, f64) = (veh.parse().unwrap(), dist.parse().unwrap());
        let text = std::fs::read_to_string(dir.join(format!("li_lim_100/{inst}.txt"))).unwrap();
        let p = parse_instance(inst, &text, Some(Format::LiLim)).unwrap();
        let routes = parse_routes(&fname, &std::fs::read_to_string(f).unwrap()).unwrap();
        let plans: Vec<RoutePlan> = routes
            .into_iter()
            .enumerate()
            .map(|(v, ids)| RoutePlan {
                vehicle: v,
                stops: ids,
            })
            .collect();
        let stats = check_solution(&p, &plans, true)
            .unwrap_or_else(|e| panic!("{fname}: published route infeasible: {e}"));
        assert_eq!(stats.vehicles, veh, "{fname}");
        assert!(
            (stats.distance - dist).abs() < 1e-3,
            "{fname}: {} vs {dist}",
            stats.distance
        );
        let b = bks.iter().find(|b| b.instance == inst).expect("in bks.csv");
        assert_eq!(b.vehicles, veh, "{fname}");
        assert!((b.distance - stats.distance).abs() < 1e-3, "{fname}");
    }
}

#[test]
fn checker_rejects_broken_routes() {
    let Some(dir) = common::vrp_dir() else { return };
    let text = std::fs::read_to_string(dir.join("li_lim_100/lc101.txt")).unwrap();
    let p = parse_instance("lc101", &text, None).unwrap();
    let sol = std::fs::read_dir(dir.join("bks_solutions/li_lim_100"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| {
            f.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("lc101.")
        })
        .unwrap();
    let routes = parse_routes("lc101", &std::fs::read_to_string(sol).unwrap()).unwrap();
    let plans = |routes: &Vec<Vec<usize>>| -> Vec<RoutePlan> {
        routes
            .iter()
            .enumerate()
            .map(|(v, r)| RoutePlan {
                vehicle: v,
                stops: r.clone(),
            })
            .collect()
    };
    assert!(check_solution(&p, &plans(&routes), true).is_ok());
    // reversed route: precedence or windows break
    let mut r = routes.clone();
    r[0].reverse();
    assert!(check_solution(&p, &plans(&r), true).is_err());
    // a stop missing
    let mut r = routes.clone();
    r[0].pop();
    assert!(check_solution(&p, &plans(&r), true).is_err());
    assert!(check_solution(&p, &plans(&r), false).is_err(), "pair split");
    // pickup and delivery on different vehicles
    let mut r = routes.clone();
    let x = r[0].remove(0);
    r[1].push(x);
    assert!(check_solution(&p, &plans(&r), true).is_err());
    // duplicate
    let mut r = routes.clone();
    let x = r[0][0];
    r[1].push(x);
    assert!(check_solution(&p, &plans(&r), true).is_err());
}
