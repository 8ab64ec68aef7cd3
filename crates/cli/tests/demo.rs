//! `shoal demo` end to end: tracker process, DHT, seeder, leechers (some
//! from a bare magnet link), verification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

#[test]
fn demo_swarm_completes_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::run_ok(
        common::shoal()
            .args(["demo", "--size-mib", "8", "--leechers", "3", "--dir"])
            .arg(tmp.path()),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("every copy verified"), "{text}");
    // Leecher 3 had only a magnet link: it found peers through the DHT.
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("leecher3: magnet link, metadata from"),
        "{log}"
    );
    assert_eq!(text.matches(" verified\n").count(), 3, "{text}");
    // The leechers' copies are really on disk.
    for n in 1..=3 {
        let dir = tmp.path().join(format!("leecher{n}/demo-content"));
        let size: u64 = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert_eq!(size, 8 << 20);
    }
}
