//! A magnet flash crowd in the simulator: the shipped scenario runs the
//! connection core's handshake and BEP 9 metadata exchange between real
//! engines, with liars serving a dictionary that fails the hash check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use shoal_sim::{Scenario, run};

const SCENARIO: &str = include_str!("../scenarios/magnet_flash_crowd.toml");

#[test]
fn a_magnet_flash_crowd_fetches_the_metadata_past_liars_and_completes() {
    let scenario = Scenario::from_toml(SCENARIO).unwrap();
    let report = run(&scenario).unwrap();
    let text = report.to_text();
    assert_eq!(report.completed, 60, "{text}");
    assert!(!report.stalled, "{text}");
    let magnets: Vec<_> = report
        .peers
        .iter()
        .filter(|p| p.group == "magnet")
        .collect();
    assert_eq!(magnets.len(), 60);
    for p in &magnets {
        let fetched = p
            .metadata_s
            .expect("a magnet peer completed without metadata");
        // The download could only start once the dictionary was in.
        assert!(fetched < p.completed_s.unwrap(), "{}: {text}", p.name);
        // A handshake and an exchange: at least two round trips (20 ms links).
        assert!(fetched >= 0.08, "{}: metadata at {fetched}", p.name);
    }
    // Liars were asked, and every copy they sent was refused.
    let refused: u32 = magnets.iter().map(|p| p.bad_metadata).sum();
    assert!(refused > 0, "no liar was ever asked: {text}");
    // Peers that had the metadata from the start fetch nothing.
    for p in report.peers.iter().filter(|p| p.seeder) {
        assert_eq!((p.metadata_s, p.bad_metadata), (None, 0));
    }
}

#[test]
fn without_an_honest_peer_nobody_gets_the_metadata() {
    let mut scenario = Scenario::from_toml(SCENARIO).unwrap();
    scenario.groups[0].liar = true;
    scenario.groups[2].count = 5;
    scenario.time_limit = 20.0;
    let report = run(&scenario).unwrap();
    assert_eq!(report.completed, 0, "{}", report.to_text());
    for p in report.peers.iter().filter(|p| p.group == "magnet") {
        assert_eq!(p.metadata_s, None);
        assert!(p.bad_metadata >= 4, "{}: {}", p.name, p.bad_metadata);
    }
}
