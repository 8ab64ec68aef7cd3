//! The routing table saved as bencode (`id`, `id6`, compact `nodes`,
//! `nodes6`), so a restarted node knows where to start without the
//! bootstrap routers. Files from before `id6` load with `id` for both.

use shoal_bencode::{Encode, Limits, OwnedValue, decode};

use crate::id::NodeId;
use crate::krpc::{Contact, decode_nodes, encode_nodes};

/// Most contacts read back from a state file.
pub const MAX_SAVED_NODES: usize = 2000;

/// Why saved state could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Not bencode, or over the limits.
    #[error("bencode: {0}")]
    Bencode(#[from] shoal_bencode::DecodeError),
    /// A field is missing or malformed.
    #[error("invalid field {0}")]
    Invalid(&'static str),
}

/// What a state file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    /// Our node id on IPv4.
    pub id: NodeId,
    /// Our node id on IPv6 (BEP 42 allows one per family).
    pub id6: NodeId,
    /// Known contacts, both families.
    pub nodes: Vec<Contact>,
}

impl SavedState {
    /// Encodes the state.
    pub fn encode(&self) -> Vec<u8> {
        OwnedValue::dict()
            .with("id", self.id.0.to_vec())
            .with("id6", self.id6.0.to_vec())
            .with("nodes", encode_nodes(&self.nodes, false))
            .with("nodes6", encode_nodes(&self.nodes, true))
            .to_bencode()
    }

    /// Decodes a state file.
    pub fn decode(bytes: &[u8]) -> Result<SavedState, StateError> {
        let limits = Limits {
            max_input: 38 * MAX_SAVED_NODES * 2 + 1024,
            max_string: 38 * MAX_SAVED_NODES,
            ..Limits::MESSAGE
        };
        let root = decode(bytes, &limits)?;
        let id = root
            .get(b"id")
            .and_then(|v| v.as_bytes())
            .and_then(NodeId::from_slice)
            .ok_or(StateError::Invalid("id"))?;
        let id6 = match root.get(b"id6") {
            None => id,
            Some(v) => v
                .as_bytes()
                .and_then(NodeId::from_slice)
                .ok_or(StateError::Invalid("id6"))?,
        };
        let mut nodes = Vec::new();
        for (key, entry) in [(&b"nodes"[..], 26usize), (&b"nodes6"[..], 38)] {
            if let Some(v) = root.get(key) {
                let b = v.as_bytes().ok_or(StateError::Invalid("nodes"))?;
                if b.len() % entry != 0 || b.len() / entry > MAX_SAVED_NODES {
                    return Err(StateError::Invalid("nodes"));
                }
                for chunk in b.chunks(entry * 64) {
                    nodes.extend(decode_nodes(chunk, entry).ok_or(StateError::Invalid("nodes"))?);
                }
            }
        }
        Ok(SavedState { id, id6, nodes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let s = SavedState {
            id: NodeId([4; 20]),
            id6: NodeId([6; 20]),
            nodes: (0..100u16)
                .map(|i| Contact {
                    id: NodeId([i as u8; 20]),
                    addr: std::net::SocketAddr::from(([127, 0, 0, 1], 1000 + i)),
                })
                .chain(std::iter::once(Contact {
                    id: NodeId([9; 20]),
                    addr: "[::1]:5".parse().unwrap(),
                }))
                .collect(),
        };
        assert_eq!(SavedState::decode(&s.encode()).unwrap(), s);
        assert!(SavedState::decode(b"de").is_err());
        assert!(SavedState::decode(b"d2:id20:aaaaaaaaaaaaaaaaaaaa5:nodes3:abce").is_err());
        assert!(SavedState::decode(b"not bencode").is_err());
        assert!(SavedState::decode(b"d2:id20:aaaaaaaaaaaaaaaaaaaa3:id63:abce").is_err());
    }

    #[test]
    fn a_file_with_one_id_uses_it_for_both_families() {
        let old = b"d2:id20:aaaaaaaaaaaaaaaaaaaae";
        let s = SavedState::decode(old).unwrap();
        assert_eq!(s.id, NodeId([b'a'; 20]));
        assert_eq!(s.id6, s.id);
    }
}
