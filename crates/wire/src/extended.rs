//! The BEP 10 extension handshake (extended message id 0).
//!
//! Decoding is lenient in the way real clients need: unknown keys are ignored
//! and a key with the wrong type or an impossible value is dropped on its own,
//! so one odd field never costs us the peer. Only a payload that is not a
//! bencoded dictionary is an error. Encoding is canonical (sorted keys).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use shoal_bencode::{Limits, Value, decode_prefix, write_bytes, write_int};

use crate::benc::{bytes_len, get_bytes, get_int, int_len};
use crate::message::write_extended_header;
use crate::{
    ExtensionError, MAX_CLIENT_NAME_LEN, MAX_EXTENSION_NAME_LEN, MAX_EXTENSION_NAMES,
    MAX_METADATA_SIZE,
};

/// Extended message id of the extension handshake itself.
pub const EXTENDED_HANDSHAKE_ID: u8 = 0;
/// Name of the BEP 9 metadata exchange extension in `m`.
pub const UT_METADATA: &str = "ut_metadata";
/// Name of the BEP 11 peer exchange extension in `m`.
pub const UT_PEX: &str = "ut_pex";

/// A BEP 10 extension handshake dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtHandshake {
    /// `m`: extension name → the id the sender wants to receive it under;
    /// 0 means the sender disables that extension (on a repeated handshake).
    pub extensions: BTreeMap<String, u8>,
    /// `v`: client name and version.
    pub client: Option<String>,
    /// `p`: the sender's listen port.
    pub port: Option<u16>,
    /// `reqq`: how many outstanding requests the sender queues before dropping.
    pub reqq: Option<u32>,
    /// `yourip`: our address as the sender sees it.
    pub yourip: Option<IpAddr>,
    /// `ipv4`: the sender's own IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// `ipv6`: the sender's own IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// `metadata_size` (BEP 9): size of the info dictionary, 1..=[`MAX_METADATA_SIZE`];
    /// a larger announcement is dropped, so we never try to fetch it.
    pub metadata_size: Option<u32>,
    /// `upload_only` (BEP 21): the sender only uploads (a seed or partial seed).
    pub upload_only: bool,
}

/// One dictionary value, so encoding and its size come from one field list.
enum Field<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    Ip(IpAddr),
    Names(&'a BTreeMap<String, u8>),
}

impl Field<'_> {
    fn len(&self) -> usize {
        match self {
            Field::Int(n) => int_len(*n),
            Field::Bytes(b) => bytes_len(b.len()),
            Field::Ip(IpAddr::V4(_)) => bytes_len(4),
            Field::Ip(IpAddr::V6(_)) => bytes_len(16),
            Field::Names(m) => {
                2 + m
                    .iter()
                    .map(|(k, v)| bytes_len(k.len()) + int_len(i64::from(*v)))
                    .sum::<usize>()
            }
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Field::Int(n) => write_int(out, *n),
            Field::Bytes(b) => write_bytes(out, b),
            Field::Ip(IpAddr::V4(ip)) => write_bytes(out, &ip.octets()),
            Field::Ip(IpAddr::V6(ip)) => write_bytes(out, &ip.octets()),
            Field::Names(m) => {
                out.push(b'd');
                for (k, v) in *m {
                    write_bytes(out, k.as_bytes());
                    write_int(out, i64::from(*v));
                }
                out.push(b'e');
            }
        }
    }
}

impl ExtHandshake {
    /// The fields present, in canonical (sorted) key order.
    fn fields(&self) -> Vec<(&'static str, Field<'_>)> {
        let mut f = Vec::with_capacity(9);
        if let Some(ip) = self.ipv4 {
            f.push(("ipv4", Field::Ip(IpAddr::V4(ip))));
        }
        if let Some(ip) = self.ipv6 {
            f.push(("ipv6", Field::Ip(IpAddr::V6(ip))));
        }
        // `m` is always sent: BEP 10 peers look for it to learn we speak nothing.
        f.push(("m", Field::Names(&self.extensions)));
        if let Some(n) = self.metadata_size {
            f.push(("metadata_size", Field::Int(i64::from(n))));
        }
        if let Some(p) = self.port {
            f.push(("p", Field::Int(i64::from(p))));
        }
        if let Some(q) = self.reqq {
            f.push(("reqq", Field::Int(i64::from(q))));
        }
        if self.upload_only {
            f.push(("upload_only", Field::Int(1)));
        }
        if let Some(v) = &self.client {
            f.push(("v", Field::Bytes(v.as_bytes())));
        }
        if let Some(ip) = self.yourip {
            f.push(("yourip", Field::Ip(ip)));
        }
        f
    }

    /// Bytes [`ExtHandshake::encode`] appends.
    pub fn encoded_len(&self) -> usize {
        2 + self
            .fields()
            .iter()
            .map(|(k, v)| bytes_len(k.len()) + v.len())
            .sum::<usize>()
    }

    /// Appends the canonical bencoded dictionary.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'd');
        for (k, v) in self.fields() {
            write_bytes(out, k.as_bytes());
            v.encode(out);
        }
        out.push(b'e');
    }

    /// Appends a whole extended-message frame (id 20, extended id 0) carrying
    /// this handshake.
    pub fn encode_message(&self, out: &mut Vec<u8>) {
        write_extended_header(out, EXTENDED_HANDSHAKE_ID, self.encoded_len());
        self.encode(out);
    }

    /// Decodes a handshake payload leniently (see the module doc). Bytes after
    /// the dictionary are ignored.
    pub fn decode(payload: &[u8]) -> Result<ExtHandshake, ExtensionError> {
        let (dict, _) = decode_prefix(payload, &Limits::MESSAGE)?;
        if dict.as_dict().is_none() {
            return Err(ExtensionError::NotADict);
        }
        let extensions = dict
            .get(b"m")
            .and_then(Value::as_dict)
            .unwrap_or_default()
            .iter()
            .filter_map(|(name, id)| {
                let id = u8::try_from(id.as_int()?).ok()?;
                let name = std::str::from_utf8(name).ok()?;
                (!name.is_empty() && name.len() <= MAX_EXTENSION_NAME_LEN)
                    .then(|| (name.to_owned(), id))
            })
            .take(MAX_EXTENSION_NAMES)
            .collect();
        let client = get_bytes(&dict, b"v")
            .filter(|v| v.len() <= MAX_CLIENT_NAME_LEN)
            .map(client_name);
        Ok(ExtHandshake {
            extensions,
            client,
            port: get_int(&dict, b"p")
                .and_then(|p| u16::try_from(p).ok())
                .filter(|&p| p != 0),
            reqq: get_int(&dict, b"reqq")
                .and_then(|q| u32::try_from(q).ok())
                .filter(|&q| q != 0),
            yourip: get_bytes(&dict, b"yourip").and_then(ip_from_bytes),
            ipv4: get_bytes(&dict, b"ipv4")
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(Ipv4Addr::from),
            ipv6: get_bytes(&dict, b"ipv6")
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .map(Ipv6Addr::from),
            metadata_size: get_int(&dict, b"metadata_size")
                .and_then(|n| u32::try_from(n).ok())
                .filter(|&n| n != 0 && n <= MAX_METADATA_SIZE),
            upload_only: get_int(&dict, b"upload_only").is_some_and(|n| n != 0),
        })
    }

    /// The id the sender wants extension `name` sent under; `None` if it does
    /// not support it or disabled it (id 0).
    pub fn extension_id(&self, name: &str) -> Option<u8> {
        self.extensions.get(name).copied().filter(|&id| id != 0)
    }
}

/// An address from its 4- or 16-byte network form.
fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        return Some(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(b).ok().map(IpAddr::from)
}

/// A peer's client name as text within [`MAX_CLIENT_NAME_LEN`] bytes: each
/// invalid UTF-8 byte becomes a 3-byte replacement character, so a name at
/// the limit could triple, and the handshake we re-encode (or show) from it
/// would lose it (found by the `ext_handshake` fuzz target).
fn client_name(raw: &[u8]) -> String {
    let mut name = String::from_utf8_lossy(raw).into_owned();
    let mut cut = name.len().min(MAX_CLIENT_NAME_LEN);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    name.truncate(cut);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_libtorrent_style_handshake() {
        let payload = b"d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e\
11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee\
13:metadata_sizei31235e4:reqqi500e11:upload_onlyi1e1:v16:libtorrent 2.0.8\
6:yourip4:\x7f\x00\x00\x01e";
        let hs = ExtHandshake::decode(payload).unwrap();
        assert_eq!(hs.extension_id(UT_METADATA), Some(2));
        assert_eq!(hs.extension_id(UT_PEX), Some(1));
        assert_eq!(hs.extensions.len(), 6);
        assert_eq!(hs.metadata_size, Some(31235));
        assert_eq!(hs.reqq, Some(500));
        assert!(hs.upload_only);
        assert_eq!(hs.client.as_deref(), Some("libtorrent 2.0.8"));
        assert_eq!(hs.yourip, Some(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(hs.port, None);
    }

    #[test]
    fn bad_fields_are_dropped_one_by_one() {
        let payload = b"d4:ipv43:abc1:mi5e13:metadata_sizei99999999999e1:pi70000e\
4:reqq3:abc1:vi3e6:yourip5:abcdee";
        assert_eq!(ExtHandshake::decode(payload), Ok(ExtHandshake::default()));
        let payload = b"d1:md1:ai-1e1:bi256e1:ci0e1:di255eee";
        let hs = ExtHandshake::decode(payload).unwrap();
        assert_eq!(
            hs.extensions.into_iter().collect::<Vec<_>>(),
            [("c".to_owned(), 0), ("d".to_owned(), 255)]
        );
    }

    #[test]
    fn m_is_capped() {
        let mut payload = b"d1:md".to_vec();
        // Too long a name is skipped without using up a slot.
        write_bytes(&mut payload, &[b'y'; MAX_EXTENSION_NAME_LEN + 1]);
        write_int(&mut payload, 1);
        for i in 0..(MAX_EXTENSION_NAMES + 10) {
            let name = format!("x{i:04}");
            write_bytes(&mut payload, name.as_bytes());
            write_int(&mut payload, 1);
        }
        payload.extend_from_slice(b"ee");
        let hs = ExtHandshake::decode(&payload).unwrap();
        assert_eq!(hs.extensions.len(), MAX_EXTENSION_NAMES);
        assert!(hs.extensions.keys().all(|k| k.starts_with('x')));
        assert!(hs.extensions.contains_key("x0000"));
    }

    #[test]
    fn not_a_dict_is_an_error() {
        assert_eq!(
            ExtHandshake::decode(b"li1ee"),
            Err(ExtensionError::NotADict)
        );
        assert!(matches!(
            ExtHandshake::decode(b"d1:m"),
            Err(ExtensionError::Bencode(_))
        ));
        assert!(matches!(
            ExtHandshake::decode(b""),
            Err(ExtensionError::Bencode(_))
        ));
    }

    #[test]
    fn encoding_is_canonical_and_framed() {
        let mut hs = ExtHandshake {
            client: Some("shoal 0.1".into()),
            port: Some(6881),
            reqq: Some(250),
            metadata_size: Some(1000),
            yourip: Some(IpAddr::from([10, 0, 0, 1])),
            ..ExtHandshake::default()
        };
        hs.extensions.insert(UT_PEX.into(), 2);
        hs.extensions.insert(UT_METADATA.into(), 1);
        let mut out = Vec::new();
        hs.encode(&mut out);
        assert_eq!(
            out,
            b"d1:md11:ut_metadatai1e6:ut_pexi2ee13:metadata_sizei1000e1:pi6881e\
4:reqqi250e1:v9:shoal 0.16:yourip4:\x0a\x00\x00\x01e"
        );
        assert!(
            shoal_bencode::decode(&out, &Limits::default()).is_ok(),
            "strict canonical"
        );
        let mut framed = Vec::new();
        hs.encode_message(&mut framed);
        let (msg, used) = crate::Decoder::new().decode(&framed).unwrap();
        assert_eq!(used, framed.len());
        assert_eq!(
            msg,
            crate::Message::Extended {
                id: 0,
                payload: &out
            }
        );
    }

    #[test]
    fn an_invalid_utf8_client_name_stays_within_the_limit() {
        // 200 bytes of invalid UTF-8: 600 bytes as replacement characters.
        let mut raw = b"d1:v200:".to_vec();
        raw.extend([0xd0; 200]);
        raw.push(b'e');
        let hs = ExtHandshake::decode(&raw).unwrap();
        let name = hs.client.clone().unwrap_or_default();
        assert!(
            !name.is_empty() && name.len() <= MAX_CLIENT_NAME_LEN,
            "{}",
            name.len()
        );
        let mut out = Vec::new();
        hs.encode(&mut out);
        assert_eq!(ExtHandshake::decode(&out).unwrap(), hs);
    }
}
