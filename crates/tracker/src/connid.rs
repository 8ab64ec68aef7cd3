//! Stateless BEP 15 connection ids.
//!
//! A connection id is a keyed MAC (SipHash-1-3 under a random per-process key)
//! of the client's address and the current time slot, so the tracker keeps no
//! per-client state and a spoofed source cannot obtain a valid id. An id is
//! accepted during its own slot and the next one: between [`SLOT_SECS`] and
//! twice that after it was issued (BEP 15 asks for at least one minute; we give
//! at least two).

use std::hash::Hasher;
use std::net::{IpAddr, SocketAddr};

use siphasher::sip::SipHasher13;

/// Length of one time slot in seconds.
pub const SLOT_SECS: u32 = 120;

/// The MAC key.
#[derive(Clone)]
pub struct ConnIds {
    k0: u64,
    k1: u64,
}

impl std::fmt::Debug for ConnIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnIds(..)") // never log the key
    }
}

/// Compares without an early exit, so timing does not reveal how close a guess was.
fn ct_eq(a: u64, b: u64) -> bool {
    std::hint::black_box(a ^ b) == 0
}

impl ConnIds {
    /// A key from the OS random source.
    pub fn random() -> std::io::Result<ConnIds> {
        let mut k = [0u8; 16];
        getrandom::fill(&mut k).map_err(|e| std::io::Error::other(e.to_string()))?;
        let (a, b) = k.split_at(8);
        let word = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap_or([0; 8]));
        Ok(ConnIds {
            k0: word(a),
            k1: word(b),
        })
    }

    fn mac(&self, addr: &SocketAddr, slot: u32) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        match addr.ip().to_canonical() {
            IpAddr::V4(ip) => h.write(&ip.octets()),
            IpAddr::V6(ip) => h.write(&ip.octets()),
        }
        h.write_u16(addr.port());
        h.write_u32(slot);
        h.finish()
    }

    /// The id to hand to `addr` at second `now`.
    pub fn issue(&self, addr: &SocketAddr, now: u32) -> u64 {
        self.mac(addr, now / SLOT_SECS)
    }

    /// Whether `id` was issued to `addr` in this slot or the previous one.
    /// The previous slot is only computed when the current one fails: that
    /// reveals which slot matched, which the client knows anyway, and saves
    /// one MAC on most requests.
    pub fn check(&self, addr: &SocketAddr, id: u64, now: u32) -> bool {
        let slot = now / SLOT_SECS;
        ct_eq(self.mac(addr, slot), id) || ct_eq(self.mac(addr, slot.wrapping_sub(1)), id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_for_at_least_two_minutes_then_expires() {
        let ids = ConnIds::random().unwrap();
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        for issued in [0, 1, 119, 120, 1000] {
            let id = ids.issue(&a, issued);
            assert!(ids.check(&a, id, issued));
            assert!(ids.check(&a, id, issued + SLOT_SECS), "issued {issued}");
            assert!(!ids.check(&a, id, issued + 2 * SLOT_SECS + 1));
        }
        let id = ids.issue(&a, 0);
        assert!(!ids.check(&"127.0.0.1:5001".parse().unwrap(), id, 0));
        assert!(!ids.check(&"127.0.0.2:5000".parse().unwrap(), id, 0));
        assert!(!ids.check(&a, id ^ 1, 0));
        let other = ConnIds::random().unwrap();
        assert!(!other.check(&a, id, 0));
    }
}
