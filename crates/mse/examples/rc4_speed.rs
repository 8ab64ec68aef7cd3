//! Prints how fast one core runs the established RC4 stream in place
//! (`cargo run --release -p shoal-mse --example rc4_speed`). A figure for
//! notes and benchmarks, not a test.

use std::time::{Duration, Instant};

use shoal_mse::{Event, Handshake, Policy, Req2Index, Secrets};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ih = [7u8; 20];
    let now = Duration::ZERO;
    let mut a = Handshake::outgoing(Policy::Require, ih, Vec::new(), Secrets::random()?, now)?;
    let index = std::sync::Arc::new(Req2Index::new([ih]));
    let mut b = Handshake::incoming(Policy::Require, index, Secrets::random()?, now);
    // Three round trips finish the handshake.
    for _ in 0..3 {
        while let Some(t) = a.poll_transmit() {
            b.handle_bytes(&t)?;
        }
        while let Some(t) = b.poll_transmit() {
            a.handle_bytes(&t)?;
        }
    }
    let (Some(Event::Established(_)), Some(Event::Established(_))) =
        (a.poll_event(), b.poll_event())
    else {
        return Err("handshake did not finish".into());
    };
    let (Some(mut ca), Some(mut cb)) = (a.into_ciphers(), b.into_ciphers()) else {
        return Err("no ciphers".into());
    };
    let mut buf = vec![0x5Au8; 256 * 1024];
    let rounds = 2048; // 512 MiB through each direction's cipher
    let start = Instant::now();
    for _ in 0..rounds {
        ca.send.apply(&mut buf);
        cb.recv.apply(&mut buf);
    }
    let secs = start.elapsed().as_secs_f64();
    let mib = (buf.len() * rounds * 2) as f64 / (1024.0 * 1024.0);
    println!("RC4 in place: {:.0} MiB/s on one core", mib / secs);
    if buf.iter().any(|b| *b != 0x5A) {
        return Err("round trip changed the data".into());
    }
    Ok(())
}
