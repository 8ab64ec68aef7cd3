//! Round-trip time and the retransmission timeout, per RFC 6298: SRTT and
//! RTTVAR with gains 1/8 and 1/4, RTO = SRTT + 4·RTTVAR, exponential backoff
//! on expiry, samples only from packets sent once (Karn's rule, enforced by
//! the caller).

use std::time::Duration;

/// BEP 29 keeps the timeout at 500 ms or more (RFC 6298 says 1 s; uTP's
/// fast retransmit covers the common case, so the lower floor only speeds up
/// recovery from a lost tail).
pub(crate) const MIN_RTO: Duration = Duration::from_millis(500);
/// RFC 6298 2.5: an upper bound of at least 60 s.
pub(crate) const MAX_RTO: Duration = Duration::from_secs(60);
/// RFC 6298 2.1: before the first sample.
pub(crate) const INITIAL_RTO: Duration = Duration::from_secs(1);
/// Clock granularity term G in RTO = SRTT + max(G, 4·RTTVAR).
const GRANULARITY: Duration = Duration::from_millis(1);

/// The RFC 6298 estimator.
#[derive(Debug, Clone)]
pub(crate) struct Rtt {
    srtt: Duration,
    rttvar: Duration,
    rto: Duration,
    min_rtt: Option<Duration>,
    backoff: u32,
}

impl Rtt {
    pub(crate) fn new() -> Self {
        Self {
            srtt: Duration::ZERO,
            rttvar: Duration::ZERO,
            rto: INITIAL_RTO,
            min_rtt: None,
            backoff: 0,
        }
    }

    /// Takes one measurement from a packet transmitted exactly once.
    pub(crate) fn sample(&mut self, r: Duration) {
        if self.min_rtt.is_none() {
            self.srtt = r;
            self.rttvar = r / 2;
        } else {
            let err = self.srtt.abs_diff(r);
            self.rttvar = (self.rttvar * 3 + err) / 4;
            self.srtt = (self.srtt * 7 + r) / 8;
        }
        self.min_rtt = Some(self.min_rtt.map_or(r, |m| m.min(r)));
        self.rto = (self.srtt + GRANULARITY.max(self.rttvar * 4)).clamp(MIN_RTO, MAX_RTO);
        // 5.7: a new sample after backoff restarts from the computed RTO.
        self.backoff = 0;
    }

    /// The timeout to arm now, backoff included.
    pub(crate) fn rto(&self) -> Duration {
        self.rto
            .saturating_mul(1 << self.backoff.min(16))
            .min(MAX_RTO)
    }

    /// RFC 6298 5.5: the timer expired, double the timeout.
    pub(crate) fn back_off(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
    }

    /// Smoothed RTT (zero before the first sample).
    pub(crate) fn srtt(&self) -> Duration {
        self.srtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_rfc6298() {
        let mut r = Rtt::new();
        assert_eq!(r.rto(), INITIAL_RTO);
        r.sample(Duration::from_millis(200));
        // SRTT 200, RTTVAR 100: 200 + 400.
        assert_eq!(r.rto(), Duration::from_millis(600));
        r.back_off();
        assert_eq!(r.rto(), Duration::from_millis(1200));
        r.sample(Duration::from_millis(200));
        assert_eq!(r.srtt(), Duration::from_millis(200));
        // RTTVAR 75: 200 + 300 is under the floor.
        assert_eq!(r.rto(), MIN_RTO);
        for _ in 0..40 {
            r.back_off();
        }
        assert_eq!(r.rto(), MAX_RTO);
    }
}
