//! The opening of a connection: the BEP 3 handshake, both directions.

use std::time::Duration;

use shoal_wire::{DecodeError, HANDSHAKE_LEN, Handshake, Reserved};

/// Why a connection ends before (or as) the handshake completes. Each
/// reason is its own variant: a driver logs, counts and backs off on
/// them differently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// The bytes are not a BitTorrent handshake.
    #[error("bad handshake: {0}")]
    Protocol(#[from] DecodeError),
    /// A peer we dialed answered for another torrent.
    #[error("peer is serving another torrent")]
    WrongTorrent,
    /// An incoming peer asked for a torrent we do not serve.
    #[error("peer asked for a torrent we do not serve")]
    UnknownTorrent,
    /// The torrent has no room for another peer.
    #[error("no room for another peer")]
    Full,
    /// The peer id is ours: we reached ourselves.
    #[error("connected to ourselves")]
    Ourselves,
    /// The driver's book bans this address.
    #[error("peer is banned")]
    Banned,
    /// The handshake did not complete by its deadline.
    #[error("handshake timed out")]
    TimedOut,
}

/// What the handshake needs next, after [`PeerHandshake::handle_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More bytes.
    More,
    /// An incoming peer named its torrent: answer with
    /// [`PeerHandshake::serve`] before feeding more bytes.
    Torrent([u8; 20]),
    /// The handshake is complete: their side of it. Bytes after it belong
    /// to the engine (`Engine::add_peer`, then `Engine::handle_bytes`).
    Done(Handshake),
}

/// The handshake of one connection, sans-IO (see the module docs of
/// `conn` for the call order).
#[derive(Debug, Clone)]
pub struct PeerHandshake {
    /// Our handshake: known from the start when dialing, once the torrent
    /// is known when accepting.
    ours: Option<Handshake>,
    /// Our peer id, to spot a connection to ourselves.
    own_id: [u8; 20],
    /// The head arrived and the driver was asked which torrent it is.
    asked: bool,
    /// Bytes to write.
    out: Vec<u8>,
    deadline: Duration,
    done: bool,
}

impl PeerHandshake {
    /// A connection we opened: our handshake goes out at once, and the
    /// answer must name the same torrent. It must complete by `deadline`.
    pub fn dial(ours: Handshake, deadline: Duration) -> PeerHandshake {
        PeerHandshake {
            out: ours.to_bytes().to_vec(),
            own_id: ours.peer_id,
            ours: Some(ours),
            asked: false,
            deadline,
            done: false,
        }
    }

    /// A connection a peer opened: we answer once its first 48 bytes name
    /// a torrent we serve (some peers send their id only after ours).
    pub fn accept(own_id: [u8; 20], deadline: Duration) -> PeerHandshake {
        PeerHandshake {
            ours: None,
            own_id,
            asked: false,
            out: Vec::new(),
            deadline,
            done: false,
        }
    }

    /// Looks at what arrived so far (`input` starts at the connection's
    /// first byte; the driver keeps bytes until they are consumed). Returns
    /// the bytes consumed, which are the whole handshake once it is done
    /// and nothing before.
    pub fn handle_bytes(&mut self, input: &[u8]) -> Result<(usize, Progress), Refused> {
        if self.done {
            return Ok((0, Progress::More));
        }
        let ours = match self.ours {
            Some(ours) => ours,
            None if self.asked => return Ok((0, Progress::More)),
            None => {
                let info_hash = match Handshake::decode_head(input) {
                    Ok((_, info_hash)) => info_hash,
                    // A wrong protocol string is refused without waiting.
                    Err(DecodeError::Incomplete { .. }) => return Ok((0, Progress::More)),
                    Err(e) => return Err(e.into()),
                };
                self.asked = true;
                return Ok((0, Progress::Torrent(info_hash)));
            }
        };
        let theirs = match Handshake::decode(input) {
            Ok((theirs, _)) => theirs,
            Err(DecodeError::Incomplete { .. }) => return Ok((0, Progress::More)),
            Err(e) => return Err(e.into()),
        };
        if theirs.info_hash != ours.info_hash {
            return Err(Refused::WrongTorrent);
        }
        if theirs.peer_id == self.own_id {
            return Err(Refused::Ourselves);
        }
        self.done = true;
        Ok((HANDSHAKE_LEN, Progress::Done(theirs)))
    }

    /// The driver's answer to [`Progress::Torrent`]: our handshake for
    /// that torrent, or why the peer is refused (`UnknownTorrent`, `Full`,
    /// `Banned`). On success our handshake is queued.
    pub fn serve(&mut self, answer: Result<Handshake, Refused>) -> Result<(), Refused> {
        let ours = answer?;
        self.out.extend_from_slice(&ours.to_bytes());
        self.ours = Some(ours);
        Ok(())
    }

    /// Moves bytes to write into `out` (appended).
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.out);
    }

    /// When [`PeerHandshake::handle_timeout`] fails the handshake.
    pub fn poll_timeout(&self) -> Duration {
        self.deadline
    }

    /// Time passed: an unfinished handshake past its deadline is refused.
    pub fn handle_timeout(&mut self, now: Duration) -> Result<(), Refused> {
        if !self.done && now >= self.deadline {
            return Err(Refused::TimedOut);
        }
        Ok(())
    }

    /// The handshake was completed.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// The reserved bits of a connection that only fetches metadata: it needs
/// the extension protocol; the fast extension keeps rejects explicit.
pub const METADATA_ONLY: Reserved = Reserved::EXTENSION.union(Reserved::FAST);

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::HANDSHAKE_HEAD_LEN;

    fn hs(hash: u8, id: u8) -> Handshake {
        Handshake {
            reserved: Reserved::FAST,
            info_hash: [hash; 20],
            peer_id: [id; 20],
        }
    }

    /// Moves bytes from `from` to `to`'s input buffer.
    fn pump(from: &mut PeerHandshake, to_input: &mut Vec<u8>) {
        from.poll_transmit(to_input);
    }

    #[test]
    fn both_directions_complete_byte_by_byte() {
        let t = Duration::from_secs(10);
        let mut a = PeerHandshake::dial(hs(7, 1), t);
        let mut b = PeerHandshake::accept([2; 20], t);
        let (mut a_in, mut b_in) = (Vec::new(), Vec::new());
        pump(&mut a, &mut b_in);
        // Fed one byte at a time, the acceptor waits for the head.
        let mut asked = None;
        for n in 0..=b_in.len() {
            let (used, p) = b.handle_bytes(&b_in[..n]).unwrap();
            assert_eq!(used, 0);
            if let Progress::Torrent(h) = p {
                asked = Some((n, h));
                break;
            }
        }
        assert_eq!(asked, Some((HANDSHAKE_HEAD_LEN, [7; 20])));
        b.serve(Ok(hs(7, 2))).unwrap();
        pump(&mut b, &mut a_in);
        assert_eq!(
            a.handle_bytes(&a_in).unwrap(),
            (HANDSHAKE_LEN, Progress::Done(hs(7, 2)))
        );
        assert_eq!(
            b.handle_bytes(&b_in).unwrap(),
            (HANDSHAKE_LEN, Progress::Done(hs(7, 1)))
        );
        assert!(a.is_done() && b.is_done());
    }

    #[test]
    fn refusals_are_distinct() {
        let t = Duration::from_secs(10);
        let mut a = PeerHandshake::dial(hs(7, 1), t);
        assert_eq!(
            a.handle_bytes(&hs(8, 2).to_bytes()),
            Err(Refused::WrongTorrent)
        );
        let mut a = PeerHandshake::dial(hs(7, 1), t);
        assert_eq!(
            a.handle_bytes(&hs(7, 1).to_bytes()),
            Err(Refused::Ourselves)
        );
        let mut b = PeerHandshake::accept([2; 20], t);
        assert!(matches!(
            b.handle_bytes(b"\x13BitTorrent protocoX"),
            Err(Refused::Protocol(DecodeError::BadProtocol))
        ));
        let mut b = PeerHandshake::accept([2; 20], t);
        b.handle_bytes(&hs(9, 1).to_bytes()).unwrap();
        assert_eq!(
            b.serve(Err(Refused::UnknownTorrent)),
            Err(Refused::UnknownTorrent)
        );
        let mut late = PeerHandshake::accept([2; 20], t);
        assert_eq!(late.handle_timeout(t - Duration::from_millis(1)), Ok(()));
        assert_eq!(late.handle_timeout(t), Err(Refused::TimedOut));
    }
}
