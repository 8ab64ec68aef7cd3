//! The arguments of our queries and the bodies of our replies as
//! bencode values (`Message::encode` wraps them).

use shoal_bencode::OwnedValue;

use super::{Query, Response, Want, encode_nodes, encode_peer, items};

fn encode_want(want: Want) -> Option<OwnedValue> {
    let mut items = Vec::new();
    if want.n4 {
        items.push(OwnedValue::from("n4"));
    }
    if want.n6 {
        items.push(OwnedValue::from("n6"));
    }
    (!items.is_empty()).then_some(OwnedValue::List(items))
}

pub(super) fn query_args(q: &Query) -> OwnedValue {
    let mut a = OwnedValue::dict().with("id", q.id().0.to_vec());
    match q {
        Query::Ping { .. } => {}
        Query::FindNode { target, want, .. } => {
            a.insert("target", target.0.to_vec());
            if let Some(w) = encode_want(*want) {
                a.insert("want", w);
            }
        }
        Query::GetPeers {
            info_hash, want, ..
        } => {
            a.insert("info_hash", info_hash.0.to_vec());
            if let Some(w) = encode_want(*want) {
                a.insert("want", w);
            }
        }
        Query::AnnouncePeer {
            info_hash,
            port,
            implied_port,
            token,
            seed,
            ..
        } => {
            a.insert("info_hash", info_hash.0.to_vec());
            a.insert("port", i64::from(*port));
            if *implied_port {
                a.insert("implied_port", 1i64);
            }
            a.insert("token", token.clone());
            if *seed {
                a.insert("seed", 1i64);
            }
        }
        Query::Get {
            target, seq, want, ..
        } => {
            a.insert("target", target.0.to_vec());
            if let Some(seq) = seq {
                a.insert("seq", *seq);
            }
            if let Some(w) = encode_want(*want) {
                a.insert("want", w);
            }
        }
        Query::Put {
            token, item, cas, ..
        } => items::encode_put(&mut a, token, item, *cas),
    }
    a
}

pub(super) fn response(r: &Response) -> OwnedValue {
    let mut d = OwnedValue::dict().with("id", r.id.0.to_vec());
    if !r.nodes.is_empty() {
        d.insert("nodes", encode_nodes(&r.nodes, false));
    }
    if !r.nodes6.is_empty() {
        d.insert("nodes6", encode_nodes(&r.nodes6, true));
    }
    if !r.values.is_empty() {
        d.insert(
            "values",
            OwnedValue::List(
                r.values
                    .iter()
                    .map(|p| OwnedValue::Bytes(encode_peer(*p)))
                    .collect(),
            ),
        );
    }
    if let Some(t) = &r.token {
        d.insert("token", t.clone());
    }
    items::encode_fields(&mut d, &r.item);
    d
}
