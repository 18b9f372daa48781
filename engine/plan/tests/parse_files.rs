//! Parser tests on the benchmark files and on malformed input (clear error, no panic).

mod common;

use std::path::Path;

use dispatch_plan::parse::{guess_format, parse_instance, Format};
use dispatch_plan::solve::{solve_file, SolveOptions};
use dispatch_plan::PlanError;

#[test]
fn all_benchmark_files_parse() {
    let Some(dir) = common::vrp_dir() else { return };
    for (sub, fmt, n) in [
        ("solomon", Format::Solomon, 56),
        ("li_lim_100", Format::LiLim, 29),
    ] {
        let mut count = 0;
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let f = e.unwrap().path();
            let text = std::fs::read_to_string(&f).unwrap();
            assert_eq!(guess_format(&text), Some(fmt), "{}", f.display());
            let p = parse_instance("x", &text, None).unwrap();
            assert!(p.requests.len() >= 50, "{}", f.display());
            assert_eq!(p.vehicles.len(), 25);
            count += 1;
        }
        assert_eq!(count, n, "{sub}");
    }
}

#[test]
fn malformed_files_give_clear_errors() {
    let Some(dir) = common::vrp_dir() else { return };
    let sol = std::fs::read_to_string(dir.join("solomon/C101.txt")).unwrap();
    let ll = std::fs::read_to_string(dir.join("li_lim_100/lc101.txt")).unwrap();
    let cases: Vec<(String, Option<Format>)> = vec![
        (sol.replace("   45         68", "   45         6x8"), None),
        (
            sol.lines().take(12).collect::<Vec<_>>().join("\n") + "\n 3 4\n",
            None,
        ),
        (
            sol.replace("  25         200", "  25"),
            Some(Format::Solomon),
        ),
        (
            sol.replace(
                "    1      45         68         10",
                "    1      45         68        -10",
            ),
            None,
        ),
        (ll.replacen("1\t45\t68\t-10", "1\t45\t68\t-11", 1), None),
        (ll.replacen("\t0\t75", "\t0\t76", 1), None),
        (ll.replacen("25\t200\t1", "25\t200", 1), Some(Format::LiLim)),
        (ll.lines().take(1).collect::<Vec<_>>().join("\n"), None),
        (ll.replacen("\n1\t", "\n7\t", 1), None),
        (String::new(), None),
        ("\u{0}\u{1}binary".to_string(), None),
        (sol.clone(), Some(Format::LiLim)),
        (ll.clone(), Some(Format::Solomon)),
    ];
    for (k, (text, fmt)) in cases.iter().enumerate() {
        match parse_instance("bad", text, *fmt) {
            Err(e @ (PlanError::Parse { .. } | PlanError::InvalidProblem(_))) => {
                assert!(!e.to_string().is_empty(), "case {k}")
            }
            other => panic!("case {k}: expected a parse error, got {other:?}"),
        }
    }
}

#[test]
fn missing_file_is_an_io_error() {
    let r = solve_file(
        Path::new("/nonexistent/x.txt"),
        None,
        &SolveOptions::default(),
    );
    assert!(matches!(r, Err(PlanError::Io { .. })));
}

#[test]
fn bks_csv_is_found_next_to_the_instance_folders() {
    let Some(dir) = common::vrp_dir() else { return };
    let f = dispatch_plan::solve::default_bks_csv(&dir.join("solomon"));
    assert!(f.ends_with("vrp/bks.csv") && f.is_file(), "{}", f.display());
}
