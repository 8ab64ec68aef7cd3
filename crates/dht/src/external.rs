//! Our external address, learned by vote (BEP 42 needs it for our node id).
//!
//! Nodes answering our queries say where they see us (`ip` in KRPC
//! replies), peers do in their extension handshake (`yourip`), and a
//! gateway that mapped our port names its external address. Any one of
//! them may lie or sit behind another NAT, so an address is adopted only
//! when enough distinct sources agree: each source (a host; an IPv6 /64)
//! holds one vote, the latest; the most recent [`MAX_VOTERS`] sources
//! count; the gateway, which knows its own address, weighs as much as
//! [`ExternalIp::new`]'s quorum. A new address replaces the one adopted
//! only when it holds the quorum and strictly more votes, so a minority
//! of liars cannot make our id flap. Addresses BEP 42 exempts (loopback,
//! private ranges) say nothing about the outside and are not counted.

use std::collections::VecDeque;
use std::net::IpAddr;

use crate::id::is_local;

/// Sources remembered per family; older votes are forgotten, so a changed
/// address (a new lease) wins once enough sources have seen it.
pub const MAX_VOTERS: usize = 64;

/// Who says where we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voter {
    /// A DHT node that answered our query (its `ip`), at this address.
    Node(IpAddr),
    /// A peer's extension handshake (its `yourip`), at this address.
    Peer(IpAddr),
    /// Our gateway, which mapped our port (PCP, NAT-PMP, UPnP).
    Gateway,
}

/// One source's key: a host (IPv6: its /64, which one host commonly holds
/// whole), or the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    V4([u8; 4]),
    V6([u8; 8]),
    Gateway,
}

impl Key {
    fn of(voter: Voter) -> Key {
        match voter {
            Voter::Node(ip) | Voter::Peer(ip) => match ip.to_canonical() {
                IpAddr::V4(v4) => Key::V4(v4.octets()),
                IpAddr::V6(v6) => {
                    let mut prefix = [0u8; 8];
                    prefix.copy_from_slice(&v6.octets()[..8]);
                    Key::V6(prefix)
                }
            },
            Voter::Gateway => Key::Gateway,
        }
    }
}

/// The vote of one address family.
#[derive(Debug, Clone)]
pub struct ExternalIp {
    /// Votes by source, oldest first.
    votes: VecDeque<(Key, IpAddr)>,
    adopted: Option<IpAddr>,
    quorum: usize,
}

impl ExternalIp {
    /// An empty vote that adopts an address once `quorum` sources agree.
    pub fn new(quorum: usize) -> ExternalIp {
        ExternalIp {
            votes: VecDeque::new(),
            adopted: None,
            quorum: quorum.max(1),
        }
    }

    /// The address adopted, if any.
    pub fn get(&self) -> Option<IpAddr> {
        self.adopted
    }

    /// Counts `voter`'s claim that we are at `ip`; returns the newly
    /// adopted address when the vote changed it.
    pub fn vote(&mut self, voter: Voter, ip: IpAddr) -> Option<IpAddr> {
        let ip = ip.to_canonical();
        if is_local(ip) || ip.is_multicast() {
            return None;
        }
        if let Voter::Node(from) | Voter::Peer(from) = voter {
            // A source tells where it sees us on the path it used: only
            // an answer over the same family says anything about it.
            if from.to_canonical().is_ipv4() != ip.is_ipv4() {
                return None;
            }
        }
        let key = Key::of(voter);
        self.votes.retain(|(k, _)| *k != key);
        if self.votes.len() >= MAX_VOTERS {
            self.votes.pop_front();
        }
        self.votes.push_back((key, ip));
        let leader = self.leader()?;
        let count = |ip: IpAddr| self.tally(ip);
        let beats_adopted = self.adopted.is_none_or(|a| count(leader) > count(a));
        if Some(leader) != self.adopted && count(leader) >= self.quorum && beats_adopted {
            self.adopted = Some(leader);
            return Some(leader);
        }
        None
    }

    /// The weight of the votes for `ip`.
    fn tally(&self, ip: IpAddr) -> usize {
        self.votes
            .iter()
            .filter(|(_, v)| *v == ip)
            .map(|(k, _)| if *k == Key::Gateway { self.quorum } else { 1 })
            .sum()
    }

    /// The address with the most weight (at most [`MAX_VOTERS`] votes:
    /// quadratic is cheap); ties go to the one adopted.
    fn leader(&self) -> Option<IpAddr> {
        let mut best: Option<(usize, IpAddr)> = None;
        for &(_, ip) in &self.votes {
            let n = self.tally(ip);
            let better = match best {
                None => true,
                Some((m, b)) => n > m || (n == m && Some(ip) == self.adopted && b != ip),
            };
            if better {
                best = Some((n, ip));
            }
        }
        best.map(|(_, ip)| ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_needs_a_quorum_of_distinct_sources() {
        let mut v = ExternalIp::new(3);
        let us = ip("5.5.5.1");
        assert_eq!(v.vote(Voter::Node(ip("8.8.8.1")), us), None);
        // The same source again is still one vote, as is a peer there.
        assert_eq!(v.vote(Voter::Node(ip("8.8.8.1")), us), None);
        assert_eq!(v.vote(Voter::Peer(ip("8.8.8.1")), us), None);
        assert_eq!(v.vote(Voter::Node(ip("8.8.8.2")), us), None);
        assert_eq!(v.vote(Voter::Peer(ip("9.9.9.9")), us), Some(us));
        assert_eq!(v.get(), Some(us));
        assert_eq!(v.vote(Voter::Node(ip("8.8.8.3")), us), None, "no change");
    }

    #[test]
    fn a_minority_of_liars_does_not_move_it_but_a_majority_does() {
        let mut v = ExternalIp::new(2);
        let us = ip("5.5.5.1");
        let lie = ip("6.6.6.6");
        for i in 1..=3u8 {
            v.vote(Voter::Node(IpAddr::from([8, 8, 8, i])), us);
        }
        assert_eq!(v.get(), Some(us));
        for i in 1..=3u8 {
            assert_eq!(v.vote(Voter::Node(IpAddr::from([7, 7, 7, i])), lie), None);
        }
        assert_eq!(v.get(), Some(us), "a tie keeps what was adopted");
        assert_eq!(v.vote(Voter::Node(ip("7.7.7.4")), lie), Some(lie));
    }

    #[test]
    fn the_gateway_alone_is_enough_and_local_addresses_never_count() {
        let mut v = ExternalIp::new(3);
        assert_eq!(v.vote(Voter::Gateway, ip("192.168.1.1")), None);
        assert_eq!(v.vote(Voter::Node(ip("8.8.8.8")), ip("127.0.0.1")), None);
        assert_eq!(v.vote(Voter::Node(ip("8.8.8.8")), ip("2001:db8::1")), None);
        assert_eq!(v.vote(Voter::Gateway, ip("5.5.5.1")), Some(ip("5.5.5.1")));
    }

    #[test]
    fn ipv6_sources_count_once_per_slash_64_and_old_votes_are_forgotten() {
        let mut v = ExternalIp::new(2);
        let us = ip("2a01::1");
        v.vote(Voter::Node(ip("2a02::1")), us);
        assert_eq!(v.vote(Voter::Node(ip("2a02::2")), us), None, "same /64");
        assert_eq!(v.vote(Voter::Node(ip("2a03::1")), us), Some(us));
        let mut w = ExternalIp::new(1);
        for i in 0..MAX_VOTERS as u32 {
            w.vote(
                Voter::Node(IpAddr::from(std::net::Ipv4Addr::from((8u32 << 24) + i))),
                ip("5.5.5.1"),
            );
        }
        for i in 0..MAX_VOTERS as u32 / 2 + 1 {
            w.vote(
                Voter::Node(IpAddr::from(std::net::Ipv4Addr::from((9u32 << 24) + i))),
                ip("5.5.5.2"),
            );
        }
        assert_eq!(w.get(), Some(ip("5.5.5.2")), "a new lease wins in time");
    }
}
