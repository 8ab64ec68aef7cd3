//! KRPC (BEP 5) messages over bencode: typed queries, responses and errors,
//! with BEP 32 `want`/`nodes6`, BEP 42 `ip`, BEP 43 `ro` and BEP 44
//! `get`/`put` (`items.rs`).
//!
//! Decoding is strict about what matters (types and lengths of every field we
//! use, see [`crate::limits`]) and lenient about the rest: unknown keys are
//! ignored so newer clients keep working.

use std::net::SocketAddr;

use shoal_bencode::{Encode, Limits, OwnedValue, Value, decode};

use crate::id::NodeId;
use crate::item::Item;
use crate::limits::{
    MAX_ERROR_MESSAGE, MAX_METHOD, MAX_PACKET, MAX_TID, MAX_TOKEN, MAX_VALUES, MAX_VERSION,
};

/// A node id with its address, as in a compact node entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Contact {
    /// The node's id.
    pub id: NodeId,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Which address families the querier wants nodes for (BEP 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Want {
    /// `n4`: IPv4 nodes.
    pub n4: bool,
    /// `n6`: IPv6 nodes.
    pub n6: bool,
}

/// One KRPC packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Transaction id, echoed by the responder.
    pub tid: Vec<u8>,
    /// Client version (`v`), if sent.
    pub version: Option<Vec<u8>>,
    /// BEP 42 `ip`: the address the responder saw us at.
    pub ip: Option<SocketAddr>,
    /// BEP 43 read-only flag (`ro=1`): do not add the sender to routing tables.
    pub read_only: bool,
    /// What the packet is.
    pub body: Body,
}

/// The three KRPC packet kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `y=q`.
    Query(Query),
    /// `y=r`. KRPC responses do not name their method: the fields present
    /// depend on the query, which the caller knows from the transaction id.
    Response(Response),
    /// `y=e`.
    Error(ErrorBody),
}

/// A query (`y=q`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// `ping`.
    Ping {
        /// Querier id.
        id: NodeId,
    },
    /// `find_node`.
    FindNode {
        /// Querier id.
        id: NodeId,
        /// Id looked for.
        target: NodeId,
        /// Families wanted (BEP 32).
        want: Want,
    },
    /// `get_peers`.
    GetPeers {
        /// Querier id.
        id: NodeId,
        /// Torrent looked for.
        info_hash: NodeId,
        /// Families wanted (BEP 32).
        want: Want,
    },
    /// `announce_peer`.
    AnnouncePeer {
        /// Querier id.
        id: NodeId,
        /// Torrent announced.
        info_hash: NodeId,
        /// Port given (ignored when `implied_port`).
        port: u16,
        /// Use the packet's source port instead of `port`.
        implied_port: bool,
        /// Token from an earlier `get_peers` reply.
        token: Vec<u8>,
        /// BEP 33-style seed flag, if sent.
        seed: bool,
    },
    /// BEP 44 `get`.
    Get {
        /// Querier id.
        id: NodeId,
        /// Item looked for.
        target: NodeId,
        /// Send the value only if the stored `seq` is higher than this.
        seq: Option<i64>,
        /// Families wanted (BEP 32).
        want: Want,
    },
    /// BEP 44 `put`: the item is only a claim until checked.
    Put {
        /// Querier id.
        id: NodeId,
        /// Token from an earlier `get` reply.
        token: Vec<u8>,
        /// The item (`v`, and `k`, `salt`, `seq`, `sig` for a mutable one).
        item: Item,
        /// Compare-and-swap: store only if the stored `seq` equals this.
        cas: Option<i64>,
    },
}

impl Query {
    /// The querier's id.
    pub fn id(&self) -> NodeId {
        match self {
            Query::Ping { id }
            | Query::FindNode { id, .. }
            | Query::GetPeers { id, .. }
            | Query::AnnouncePeer { id, .. }
            | Query::Get { id, .. }
            | Query::Put { id, .. } => *id,
        }
    }

    /// The same query sent under `new` as the querier's id (a node has one
    /// id per address family, BEP 42).
    pub fn with_id(mut self, new: NodeId) -> Query {
        match &mut self {
            Query::Ping { id }
            | Query::FindNode { id, .. }
            | Query::GetPeers { id, .. }
            | Query::AnnouncePeer { id, .. }
            | Query::Get { id, .. }
            | Query::Put { id, .. } => *id = new,
        }
        self
    }

    fn method(&self) -> &'static str {
        match self {
            Query::Ping { .. } => "ping",
            Query::FindNode { .. } => "find_node",
            Query::GetPeers { .. } => "get_peers",
            Query::AnnouncePeer { .. } => "announce_peer",
            Query::Get { .. } => "get",
            Query::Put { .. } => "put",
        }
    }
}

/// A response (`y=r`): every field any of our queries can get back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// Responder id.
    pub id: NodeId,
    /// IPv4 contacts (`nodes`).
    pub nodes: Vec<Contact>,
    /// IPv6 contacts (`nodes6`).
    pub nodes6: Vec<Contact>,
    /// Peers (`values`).
    pub values: Vec<SocketAddr>,
    /// Write token (`token`).
    pub token: Option<Vec<u8>>,
    /// A BEP 44 item's fields (`get` replies).
    pub item: ItemFields,
}

/// The BEP 44 fields of a `get` reply, each as sent (nothing checked but
/// types and sizes): `seq` may come without the value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemFields {
    /// The value (`v`), bencoded as received.
    pub v: Option<Vec<u8>>,
    /// The public key (`k`).
    pub k: Option<[u8; 32]>,
    /// The sequence number (`seq`).
    pub seq: Option<i64>,
    /// The signature (`sig`).
    pub sig: Option<[u8; 64]>,
}

/// An error (`y=e`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    /// 201 generic, 202 server, 203 protocol, 204 method unknown.
    pub code: i64,
    /// Human-readable text (truncated to a limit).
    pub message: String,
}

/// Error code for a malformed packet.
pub const PROTOCOL_ERROR: i64 = 203;
/// Error code for a method we do not know.
pub const METHOD_UNKNOWN: i64 = 204;

/// Why a packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KrpcError {
    /// Larger than [`MAX_PACKET`].
    #[error("packet of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// Not bencode, or bencode over the limits.
    #[error("bencode: {0}")]
    Bencode(#[from] shoal_bencode::DecodeError),
    /// The top level is not a dictionary.
    #[error("packet is not a dictionary")]
    NotADict,
    /// A required key is absent.
    #[error("missing field {0}")]
    Missing(&'static str),
    /// A key has the wrong type, length or range.
    #[error("invalid field {0}")]
    Invalid(&'static str),
    /// `y` is not `q`, `r` or `e`.
    #[error("unknown message type")]
    UnknownType,
    /// A query for a method we do not implement; answer with error 204.
    #[error("unknown method {method:?}")]
    UnknownMethod {
        /// Transaction id to answer to.
        tid: Vec<u8>,
        /// The method name (truncated).
        method: String,
    },
}

impl Message {
    /// Decodes one datagram.
    pub fn decode(packet: &[u8]) -> Result<Message, KrpcError> {
        if packet.len() > MAX_PACKET {
            return Err(KrpcError::TooLarge(packet.len()));
        }
        let limits = Limits {
            max_input: MAX_PACKET,
            // A BEP 44 value nests below the third level.
            max_depth: 16,
            max_tokens: 1024,
            max_string: MAX_PACKET,
            ..Limits::MESSAGE
        };
        let root = decode(packet, &limits)?;
        if root.as_dict().is_none() {
            return Err(KrpcError::NotADict);
        }
        let tid = bytes(&root, b"t", "t")?;
        if tid.len() > MAX_TID {
            return Err(KrpcError::Invalid("t"));
        }
        let version = match root.get(b"v") {
            Some(v) => Some(
                v.as_bytes()
                    .filter(|b| b.len() <= MAX_VERSION)
                    .ok_or(KrpcError::Invalid("v"))?
                    .to_vec(),
            ),
            None => None,
        };
        let ip = match root.get(b"ip") {
            Some(v) => Some(
                v.as_bytes()
                    .and_then(decode_peer)
                    .ok_or(KrpcError::Invalid("ip"))?,
            ),
            None => None,
        };
        let read_only = root.get(b"ro").and_then(Value::as_int) == Some(1);
        let body = match bytes(&root, b"y", "y")? {
            b"q" => Body::Query(decode_query(&root, tid)?),
            b"r" => Body::Response(decode_response(dict(&root, b"r", "r")?)?),
            b"e" => Body::Error(decode_error(&root)?),
            _ => return Err(KrpcError::UnknownType),
        };
        Ok(Message {
            tid: tid.to_vec(),
            version,
            ip,
            read_only,
            body,
        })
    }

    /// Encodes canonically (sorted keys).
    pub fn encode(&self) -> Vec<u8> {
        let mut root = OwnedValue::dict().with("t", self.tid.clone());
        if let Some(v) = &self.version {
            root.insert("v", v.clone());
        }
        if let Some(ip) = self.ip {
            root.insert("ip", encode_peer(ip));
        }
        if self.read_only {
            root.insert("ro", 1i64);
        }
        match &self.body {
            Body::Query(q) => {
                root.insert("y", "q");
                root.insert("q", q.method());
                root.insert("a", encode::query_args(q));
            }
            Body::Response(r) => {
                root.insert("y", "r");
                root.insert("r", encode::response(r));
            }
            Body::Error(e) => {
                root.insert("y", "e");
                root.insert(
                    "e",
                    OwnedValue::List(vec![
                        OwnedValue::Int(e.code),
                        OwnedValue::from(e.message.as_str()),
                    ]),
                );
            }
        }
        root.to_bencode()
    }
}

fn bytes<'a>(v: &Value<'a>, key: &[u8], name: &'static str) -> Result<&'a [u8], KrpcError> {
    v.get(key)
        .ok_or(KrpcError::Missing(name))?
        .as_bytes()
        .ok_or(KrpcError::Invalid(name))
}

fn dict<'v, 'a>(
    v: &'v Value<'a>,
    key: &[u8],
    name: &'static str,
) -> Result<&'v Value<'a>, KrpcError> {
    let d = v.get(key).ok_or(KrpcError::Missing(name))?;
    if d.as_dict().is_none() {
        return Err(KrpcError::Invalid(name));
    }
    Ok(d)
}

fn id_field(v: &Value<'_>, key: &[u8], name: &'static str) -> Result<NodeId, KrpcError> {
    NodeId::from_slice(bytes(v, key, name)?).ok_or(KrpcError::Invalid(name))
}

fn decode_want(args: &Value<'_>) -> Result<Want, KrpcError> {
    let mut want = Want::default();
    if let Some(list) = args.get(b"want") {
        let items = list.as_list().ok_or(KrpcError::Invalid("want"))?;
        for item in items.iter().take(8) {
            match item.as_bytes() {
                Some(b"n4") => want.n4 = true,
                Some(b"n6") => want.n6 = true,
                Some(_) => {}
                None => return Err(KrpcError::Invalid("want")),
            }
        }
    }
    Ok(want)
}

fn decode_query(root: &Value<'_>, tid: &[u8]) -> Result<Query, KrpcError> {
    let method = bytes(root, b"q", "q")?;
    let args = dict(root, b"a", "a")?;
    let id = id_field(args, b"id", "id")?;
    Ok(match method {
        b"ping" => Query::Ping { id },
        b"find_node" => Query::FindNode {
            id,
            target: id_field(args, b"target", "target")?,
            want: decode_want(args)?,
        },
        b"get_peers" => Query::GetPeers {
            id,
            info_hash: id_field(args, b"info_hash", "info_hash")?,
            want: decode_want(args)?,
        },
        b"announce_peer" => {
            let implied_port = match args.get(b"implied_port") {
                Some(v) => v.as_int().ok_or(KrpcError::Invalid("implied_port"))? != 0,
                None => false,
            };
            // The port may be absent or bogus when implied_port is set.
            let port = match args.get(b"port").and_then(Value::as_int) {
                Some(p) => u16::try_from(p).map_err(|_| KrpcError::Invalid("port"))?,
                None if implied_port => 0,
                None => return Err(KrpcError::Missing("port")),
            };
            if port == 0 && !implied_port {
                return Err(KrpcError::Invalid("port"));
            }
            let token = bytes(args, b"token", "token")?;
            if token.len() > MAX_TOKEN {
                return Err(KrpcError::Invalid("token"));
            }
            Query::AnnouncePeer {
                id,
                info_hash: id_field(args, b"info_hash", "info_hash")?,
                port,
                implied_port,
                token: token.to_vec(),
                seed: args.get(b"seed").and_then(Value::as_int) == Some(1),
            }
        }
        b"get" => items::decode_get(args, id)?,
        b"put" => items::decode_put(args, id)?,
        other => {
            let len = other.len().min(MAX_METHOD);
            return Err(KrpcError::UnknownMethod {
                tid: tid.to_vec(),
                method: String::from_utf8_lossy(other.get(..len).unwrap_or_default()).into_owned(),
            });
        }
    })
}

fn decode_response(r: &Value<'_>) -> Result<Response, KrpcError> {
    let id = id_field(r, b"id", "id")?;
    let nodes = match r.get(b"nodes") {
        Some(v) => decode_nodes(v.as_bytes().ok_or(KrpcError::Invalid("nodes"))?, 26)
            .ok_or(KrpcError::Invalid("nodes"))?,
        None => Vec::new(),
    };
    let nodes6 = match r.get(b"nodes6") {
        Some(v) => decode_nodes(v.as_bytes().ok_or(KrpcError::Invalid("nodes6"))?, 38)
            .ok_or(KrpcError::Invalid("nodes6"))?,
        None => Vec::new(),
    };
    let mut values = Vec::new();
    if let Some(v) = r.get(b"values") {
        let items = v.as_list().ok_or(KrpcError::Invalid("values"))?;
        if items.len() > MAX_VALUES {
            return Err(KrpcError::Invalid("values"));
        }
        for item in items {
            // One malformed entry costs only that entry: some clients pad.
            if let Some(peer) = item.as_bytes().and_then(decode_peer) {
                values.push(peer);
            }
        }
    }
    let token = match r.get(b"token") {
        Some(v) => Some(
            v.as_bytes()
                .filter(|t| t.len() <= MAX_TOKEN)
                .ok_or(KrpcError::Invalid("token"))?
                .to_vec(),
        ),
        None => None,
    };
    Ok(Response {
        id,
        nodes,
        nodes6,
        values,
        token,
        item: items::decode_fields(r)?,
    })
}

fn decode_error(root: &Value<'_>) -> Result<ErrorBody, KrpcError> {
    let list = root
        .get(b"e")
        .ok_or(KrpcError::Missing("e"))?
        .as_list()
        .ok_or(KrpcError::Invalid("e"))?;
    let code = list
        .first()
        .and_then(Value::as_int)
        .ok_or(KrpcError::Invalid("e"))?;
    let text = list.get(1).and_then(Value::as_bytes).unwrap_or_default();
    let text = text
        .get(..text.len().min(MAX_ERROR_MESSAGE))
        .unwrap_or_default();
    Ok(ErrorBody {
        code,
        message: truncate(
            String::from_utf8_lossy(text).into_owned(),
            MAX_ERROR_MESSAGE,
        ),
    })
}

/// Cuts `s` to at most `max` bytes on a character boundary (replacement
/// characters from invalid UTF-8 can make a short input longer).
fn truncate(mut s: String, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

mod compact;
mod encode;
mod items;
#[cfg(test)]
mod tests;

pub use compact::{decode_nodes, decode_peer, encode_nodes, encode_peer};
