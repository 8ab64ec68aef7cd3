use super::*;
use std::collections::VecDeque;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn block(i: u32) -> BlockRequest {
    BlockRequest {
        piece: i / 64,
        offset: (i % 64) * BLOCK_SIZE,
        length: BLOCK_SIZE,
    }
}

#[test]
fn formula_gives_hundreds_on_fast_links() {
    let config = PipelineConfig {
        max_depth: 100_000,
        ..PipelineConfig::default()
    };
    let d = depth_for(1e9, ms(1), &config);
    assert!((200..10_000).contains(&d), "{d}");
    // Clamped by default, and never below the minimum.
    assert_eq!(depth_for(1e9, ms(1), &PipelineConfig::default()), 256);
    assert_eq!(depth_for(10_000.0, ms(100), &PipelineConfig::default()), 2);
    assert_eq!(depth_for(f64::NAN, ms(1), &PipelineConfig::default()), 2);
}

/// A FIFO link: the sender serves requests at `rate` bytes/s, each way
/// takes `latency / 2`. Returns (achieved bytes/s over the second half,
/// final depth).
fn drive(rate: f64, latency: Duration, run: Duration, reqq: Option<u32>) -> (f64, u32) {
    let mut p = Pipeline::new(PipelineConfig::default(), Duration::ZERO);
    if let Some(q) = reqq {
        p.set_reqq(q);
    }
    let half = latency / 2;
    let service = Duration::from_secs_f64(f64::from(BLOCK_SIZE) / rate);
    let mut busy_until = Duration::ZERO;
    let mut in_flight: VecDeque<(Duration, BlockRequest)> = VecDeque::new();
    let mut now = Duration::ZERO;
    let mut next = 0u32;
    let mut bytes_late = 0u64;
    while now < run {
        for _ in 0..p.room() {
            let b = block(next);
            next += 1;
            p.request_sent(b, now);
            let start = (now + half).max(busy_until);
            busy_until = start + service;
            in_flight.push_back((busy_until + half, b));
        }
        let Some((t, b)) = in_flight.pop_front() else {
            break;
        };
        now = t;
        assert!(p.block_received(b, now).is_some());
        if now >= run / 2 {
            bytes_late += u64::from(b.length);
        }
    }
    (bytes_late as f64 / (run / 2).as_secs_f64(), p.depth())
}

#[test]
fn fast_loopback_reaches_line_rate() {
    let (rate, depth) = drive(1e9, ms(1), ms(400), None);
    assert!(rate > 0.95e9, "{rate}");
    assert!(depth >= 100, "{depth}");
}

#[test]
fn slow_link_keeps_a_short_queue() {
    let (rate, depth) = drive(1e6, ms(50), Duration::from_secs(20), None);
    assert!(rate > 0.95e6, "{rate}");
    // 1 MB/s × (50 ms + 100 ms slack) ≈ 10 blocks.
    assert!((8..=20).contains(&depth), "{depth}");
}

#[test]
fn reqq_caps_depth() {
    let (_, depth) = drive(1e9, ms(1), ms(200), Some(64));
    assert_eq!(depth, 64);
    // Why the depth must adapt: 4 requests in flight cap a 1 GB/s, 1 ms
    // link at about 4 × 16 KiB / 1 ms ≈ 65 MB/s.
    let (rate, _) = drive(1e9, ms(1), ms(200), Some(4));
    assert!(rate < 0.1e9, "{rate}");
}

#[test]
fn slow_start_grows_then_stops() {
    let mut p = Pipeline::new(PipelineConfig::default(), Duration::ZERO);
    assert!(p.in_slow_start());
    assert_eq!(p.depth(), 4);
    p.record_block(BLOCK_SIZE, Some(ms(10)), ms(10));
    assert_eq!(p.depth(), 5);
    // Flat rate samples end slow start.
    let mut t = ms(10);
    for _ in 0..40 {
        t += ms(50);
        p.record_block(BLOCK_SIZE, Some(ms(10)), t);
    }
    assert!(!p.in_slow_start());
}

#[test]
fn timeouts_expire_and_halve() {
    let mut p = Pipeline::new(PipelineConfig::default(), Duration::ZERO);
    for i in 0..4 {
        p.request_sent(block(i), Duration::ZERO);
    }
    assert_eq!(p.room(), 0);
    assert_eq!(p.poll_timeout(), Some(Duration::from_secs(15)));
    assert!(p.timed_out(Duration::from_secs(14)).is_empty());
    p.request_sent(block(9), Duration::from_secs(10));
    let expired = p.timed_out(Duration::from_secs(15));
    assert_eq!(expired, (0..4).map(block).collect::<Vec<_>>());
    assert_eq!(p.outstanding(), 1);
    assert_eq!(p.depth(), 2);
    assert!(!p.in_slow_start());
    assert!(p.request_cancelled(block(9)));
    assert!(!p.request_cancelled(block(9)));
    // An unmatched block still counts toward the rate but has no RTT.
    assert_eq!(p.block_received(block(50), Duration::from_secs(16)), None);
}

#[test]
fn timeouts_are_found_even_when_the_clock_went_back() {
    let cfg = PipelineConfig::default();
    let mut p = Pipeline::new(cfg.clone(), Duration::ZERO);
    let block = |i: u32| BlockRequest {
        piece: i,
        offset: 0,
        length: 16384,
    };
    let t = |ms: u64| Duration::from_millis(ms);
    let timeout = p.timeout();
    // Sent in order: the oldest times out first, the others later.
    p.request_sent(block(0), t(0));
    p.request_sent(block(1), t(1000));
    assert!(p.timed_out(t(500)).is_empty());
    assert_eq!(p.timed_out(timeout), vec![block(0)]);
    // A request stamped earlier than the one before it still times out.
    let mut q = Pipeline::new(cfg, Duration::ZERO);
    q.request_sent(block(2), t(5000));
    q.request_sent(block(3), t(0));
    assert_eq!(q.timed_out(timeout), vec![block(3)]);
}
