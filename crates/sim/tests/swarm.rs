//! The simulator on small swarms: completion, churn, tit-for-tat, endgame,
//! determinism and the report's JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use shoal_sim::{Report, Scenario, run};

/// 8 MiB in 64 KiB pieces, one seeder at 2 MiB/s, `leechers` at 1 MiB/s,
/// plus whatever `extra` TOML adds.
fn scenario(leechers: usize, seeder_extra: &str, extra: &str) -> Scenario {
    let text = format!(
        r#"
content_size = 8388608
piece_size = 65536
seed = 42
latency = 0.01
step = 0.01
time_limit = 600

[[group]]
name = "seeder"
seeder = true
upload = 2097152
{seeder_extra}

[[group]]
name = "leechers"
count = {leechers}
upload = 1048576
download = 8388608
{extra}
"#
    );
    Scenario::from_toml(&text).unwrap()
}

fn leechers(report: &Report, group: &str) -> Vec<f64> {
    report
        .peers
        .iter()
        .filter(|p| p.group == group)
        .map(|p| p.completed_s.unwrap_or(f64::INFINITY))
        .collect()
}

#[test]
fn a_flash_crowd_completes_near_the_bound() {
    let report = run(&scenario(12, "", "")).unwrap();
    assert_eq!(report.completed, 12, "{}", report.to_text());
    let t = report.swarm_time_s.unwrap();
    // T* = max(8/2, 12·8/(2 + 12)) = 6.86 s.
    assert!((report.lower_bound_s - 96.0 / 14.0).abs() < 1e-9);
    assert!(t >= report.lower_bound_s, "faster than physics: {t}");
    assert!(t < 3.0 * report.lower_bound_s, "{}", report.to_text());
    // Leechers served each other: the seeder sent far fewer than 12 copies.
    assert!(report.seeder_copies < 6.0, "{}", report.to_text());
}

#[test]
fn the_only_seeder_may_leave_once_a_copy_is_out() {
    let report = run(&scenario(16, "leave_after_copy = true", "")).unwrap();
    let seeder = &report.peers[0];
    let left = seeder.left_s.expect("the seeder never left");
    assert_eq!(report.completed, 16, "{}", report.to_text());
    // It left before the swarm was done: the rest came from leechers alone.
    assert!(left < report.swarm_time_s.unwrap(), "{}", report.to_text());
    // Roughly one copy went out before it left, not one per leecher.
    assert!(
        seeder.uploaded < 4 * report.content_size,
        "{}",
        report.to_text()
    );
}

#[test]
fn peers_that_found_everyone_full_dial_again_when_a_slot_frees() {
    // One connection per peer: the second leecher finds both peers full on
    // arrival, and only the dial policy's redial (after its back-off, once
    // the first leecher left the seeder) lets it finish.
    let text = r#"
content_size = 1048576
piece_size = 65536
seed = 9
latency = 0.01
step = 0.01
time_limit = 600
max_peers = 1

[[group]]
name = "seeder"
seeder = true
upload = 1048576

[[group]]
name = "leechers"
count = 2
arrive_every = 0.5
upload = 1048576
leave_when_done = true
"#;
    let report = run(&Scenario::from_toml(text).unwrap()).unwrap();
    assert_eq!(report.completed, 2, "{}", report.to_text());
    assert!(!report.stalled);
    let done = leechers(&report, "leechers");
    // The second waited at least one back-off (5 s) for a slot.
    assert!(done.iter().any(|&t| t > 5.0), "{done:?}");
}

#[test]
fn free_riders_finish_after_contributors() {
    let text = scenario(12, "", "").clone();
    let mut s = text;
    let mut riders = s.groups[1].clone();
    riders.name = "riders".into();
    riders.count = 4;
    riders.free_rider = true;
    s.groups.push(riders);
    let report = run(&s).unwrap();
    assert_eq!(report.completed, 16, "{}", report.to_text());
    let mut contrib = leechers(&report, "leechers");
    let mut free = leechers(&report, "riders");
    contrib.sort_by(f64::total_cmp);
    free.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v[v.len() / 2];
    assert!(
        median(&free) > median(&contrib),
        "free riders {free:?} vs contributors {contrib:?}"
    );
    for p in report.peers.iter().filter(|p| p.free_rider) {
        assert_eq!(p.uploaded, 0, "a free rider uploaded");
    }
}

#[test]
fn the_endgame_does_not_stall_with_a_slow_peer() {
    // One leecher can only upload a trickle; the last blocks that others
    // asked of it must be fetched elsewhere instead of waiting on it.
    let mut s = scenario(6, "", "");
    let mut slow = s.groups[1].clone();
    slow.name = "slow".into();
    slow.count = 1;
    slow.upload = Some(16 * 1024);
    s.groups.push(slow);
    let report = run(&s).unwrap();
    assert_eq!(report.completed, 7, "{}", report.to_text());
    assert!(!report.stalled);
    let last = report.swarm_time_s.unwrap();
    assert!(
        last < 4.0 * report.lower_bound_s.max(4.0),
        "{}",
        report.to_text()
    );
}

#[test]
fn same_seed_same_report_and_another_seed_differs() {
    let mut s = scenario(8, "", "");
    s.loss = 0.01;
    let a = serde_json::to_string(&run(&s).unwrap()).unwrap();
    let b = serde_json::to_string(&run(&s).unwrap()).unwrap();
    assert_eq!(a, b);
    s.seed = 43;
    let c = serde_json::to_string(&run(&s).unwrap()).unwrap();
    assert_ne!(a, c);
}

#[test]
fn steady_arrivals_and_departures_complete() {
    let report = run(&scenario(
        10,
        "",
        "arrive_every = 0.5\nleave_when_done = true",
    ))
    .unwrap();
    assert_eq!(report.completed, 10, "{}", report.to_text());
    for p in report.peers.iter().filter(|p| !p.seeder) {
        // It leaves at the next step (10 ms).
        // The run ends when the last one completes, before it could leave.
        let stayed = p.left_s.unwrap_or(report.end_s) - p.completed_s.unwrap();
        assert!(
            (0.0..0.0101).contains(&stayed),
            "{} stayed {stayed} s",
            p.name
        );
    }
}

#[test]
fn the_json_has_the_documented_fields() {
    let report = run(&scenario(3, "", "")).unwrap();
    let v: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert!(v["swarm_time_s"].as_f64().unwrap() > 0.0);
    assert!(v["lower_bound_s"].as_f64().unwrap() > 0.0);
    let peers = v["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 4);
    for p in peers {
        assert!(p["uploaded"].is_u64());
        assert!(p["downloaded"].is_u64());
        assert!(p.get("completed_s").is_some());
    }
    assert!(peers[1]["completed_s"].as_f64().unwrap() > 0.0);
    // At least the content; endgame duplicates may add a little.
    assert!(peers[1]["downloaded"].as_u64().unwrap() >= 8 << 20);
}

#[test]
fn the_plot_is_an_svg_with_a_line_per_group() {
    let report = run(&scenario(3, "", "")).unwrap();
    let svg = shoal_sim::plot::svg(&report);
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("stroke-width=\"2\"").count(), 1);
}

#[test]
fn shipped_scenarios_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        Scenario::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        n += 1;
    }
    assert!(n >= 5);
}
