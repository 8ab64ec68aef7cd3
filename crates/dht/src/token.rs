//! Write tokens: a hash of the querier's IP with a secret that rotates; the
//! previous secret is still accepted, so a token lives 1–2 rotation periods.
//! The secrets come from the node's [`Secret`] (the OS's randomness), not
//! the seeded PRNG, so no output of the node predicts them.

use std::net::IpAddr;
use std::time::Duration;

use sha1::{Digest, Sha1};

use crate::secret::Secret;

/// Bytes in a token we hand out.
pub const TOKEN_LEN: usize = 8;

/// Issues and checks tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    secret: Secret,
    /// Rotations so far: the current secret is block `round` of the stream.
    round: u64,
    current: [u8; 16],
    previous: [u8; 16],
    rotated_at: Duration,
    period: Duration,
}

impl Tokens {
    /// Fresh secrets; they rotate every `period`.
    pub fn new(secret: Secret, period: Duration, now: Duration) -> Tokens {
        let previous = token_secret(&secret, 0);
        let current = token_secret(&secret, 1);
        Tokens {
            secret,
            round: 1,
            current,
            previous,
            rotated_at: now,
            period,
        }
    }

    /// Rotates the secret if its period is over.
    pub fn tick(&mut self, now: Duration) {
        if now.saturating_sub(self.rotated_at) >= self.period {
            self.previous = self.current;
            self.round = self.round.wrapping_add(1);
            self.current = token_secret(&self.secret, self.round);
            self.rotated_at = now;
        }
    }

    /// The token for `ip` now.
    pub fn issue(&self, ip: IpAddr) -> Vec<u8> {
        token(&self.current, ip)
    }

    /// Whether `token` was issued to `ip` under the current or previous secret.
    pub fn check(&self, ip: IpAddr, token: &[u8]) -> bool {
        token == token_of(&self.current, ip) || token == token_of(&self.previous, ip)
    }
}

/// The token secret of rotation `round`.
fn token_secret(secret: &Secret, round: u64) -> [u8; 16] {
    let mut out = [0; 16];
    for (o, b) in out.iter_mut().zip(secret.block(b"token", round)) {
        *o = b;
    }
    out
}

fn token_of(secret: &[u8; 16], ip: IpAddr) -> [u8; TOKEN_LEN] {
    let mut h = Sha1::new();
    h.update(secret);
    match ip {
        IpAddr::V4(v4) => h.update(v4.octets()),
        IpAddr::V6(v6) => h.update(v6.octets()),
    }
    let digest = h.finalize();
    let mut out = [0; TOKEN_LEN];
    for (o, d) in out.iter_mut().zip(digest) {
        *o = d;
    }
    out
}

fn token(secret: &[u8; 16], ip: IpAddr) -> Vec<u8> {
    token_of(secret, ip).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_secret_accepted_then_expires() {
        let period = Duration::from_secs(300);
        let mut t = Tokens::new(Secret::from_bytes([3; 32]), period, Duration::ZERO);
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let other: IpAddr = "10.1.2.4".parse().unwrap();
        let tok = t.issue(ip);
        assert!(t.check(ip, &tok));
        assert!(!t.check(other, &tok));
        t.tick(period);
        assert!(t.check(ip, &tok), "previous secret still accepted");
        t.tick(period * 2);
        assert!(!t.check(ip, &tok), "two rotations later it is gone");
        assert!(!t.check(ip, b""));
    }
}
