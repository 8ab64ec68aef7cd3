//! Packet size: start at a size every path carries, then probe upward by
//! binary search toward the driver's ceiling. A probe is a DATA packet with
//! no payload, padded to the size tried (see `packet::EXT_PADDING`). An
//! acked probe raises the floor; a lost one lowers the ceiling and is not
//! taken as congestion; its retransmission goes without the padding.

/// Stop probing when floor and ceiling are this close.
const PROBE_STEP: usize = 64;

/// The packet size search (sizes are whole datagrams: header plus payload).
#[derive(Debug, Clone)]
pub(crate) struct Mtu {
    floor: usize,
    ceiling: usize,
    probe: Option<usize>,
}

impl Mtu {
    pub(crate) fn new(initial: usize, max: usize) -> Self {
        let ceiling = max.max(crate::packet::HEADER_LEN + 64);
        Self {
            floor: initial.clamp(crate::packet::HEADER_LEN + 64, ceiling),
            ceiling,
            probe: None,
        }
    }

    /// The size of ordinary packets.
    pub(crate) fn size(&self) -> usize {
        self.floor
    }

    /// The size of the next probe, when one should be sent.
    pub(crate) fn probe_size(&self) -> Option<usize> {
        if self.probe.is_some() || self.ceiling - self.floor < PROBE_STEP {
            return None;
        }
        Some(self.floor + (self.ceiling - self.floor).div_ceil(2))
    }

    /// A probe of `size` went out.
    pub(crate) fn probe_sent(&mut self, size: usize) {
        self.probe = Some(size);
    }

    /// The probe of `size` was acknowledged: that size gets through.
    pub(crate) fn probe_acked(&mut self, size: usize) {
        self.floor = self.floor.max(size.min(self.ceiling));
        if self.probe == Some(size) {
            self.probe = None;
        }
    }

    /// The outstanding probe's fate is unknown (a timeout resent it
    /// without its padding): allow a new one.
    pub(crate) fn probe_abandoned(&mut self) {
        self.probe = None;
    }

    /// The probe of `size` was lost: the path's limit is below it.
    pub(crate) fn probe_lost(&mut self, size: usize) {
        self.ceiling = self.ceiling.min(size.saturating_sub(1)).max(self.floor);
        if self.probe == Some(size) {
            self.probe = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_search_converges() {
        let path = 1500;
        let mut m = Mtu::new(1200, 64_000);
        let mut rounds = 0;
        while let Some(p) = m.probe_size() {
            m.probe_sent(p);
            if p <= path {
                m.probe_acked(p);
            } else {
                m.probe_lost(p);
            }
            rounds += 1;
            assert!(rounds < 20);
        }
        assert!(m.size() <= path && m.size() > path - PROBE_STEP);
    }
}
