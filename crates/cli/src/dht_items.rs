//! `shoal dht put` and `shoal dht get`: BEP 44 items through the session's
//! DHT driver. Values are byte strings unless `--bencoded` says the text is
//! bencode already; a mutable item is signed with a key file (created on
//! first use) and by default gets the next `seq` after the one found.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use shoal_dht::{Item, ItemQuery, NodeId, check_value};
use shoal_session::Dht;

use crate::keyfile::{self, hex};

/// What `dht put` was asked to store.
pub struct PutRequest<'a> {
    /// The value as given.
    pub value: &'a str,
    /// The value is bencode already.
    pub bencoded: bool,
    /// Key file: a mutable item signed with it; none: an immutable item.
    pub key: Option<&'a Path>,
    /// Salt of a mutable item.
    pub salt: &'a [u8],
    /// Sequence number; by default one more than the one found.
    pub seq: Option<i64>,
}

/// The bencoded value of `text`.
fn value_of(text: &str, bencoded: bool) -> anyhow::Result<Vec<u8>> {
    let value = if bencoded {
        text.as_bytes().to_vec()
    } else {
        let mut out = Vec::new();
        shoal_bencode::write_bytes(&mut out, text.as_bytes());
        out
    };
    check_value(&value).with_context(|| "not a value BEP 44 can store")?;
    Ok(value)
}

/// Runs `dht put`.
pub async fn put(dht: &Dht, req: &PutRequest<'_>) -> anyhow::Result<ExitCode> {
    let value = value_of(req.value, req.bencoded)?;
    dht.wait_bootstrapped(Duration::from_secs(10)).await;
    let item = match req.key {
        None => Item::Immutable(value),
        Some(path) => {
            let key = keyfile::load_or_create(path)?;
            let seq = match req.seq {
                Some(s) => s,
                None => next_seq(dht, key.public(), req.salt).await,
            };
            println!("public key {}", hex(&key.public()));
            println!("seq {seq}");
            Item::Mutable(key.sign(req.salt, seq, value)?)
        }
    };
    println!("target {}", item.target());
    let nodes = dht.put_item(item, None).await;
    println!("put to {nodes} nodes");
    Ok(if nodes == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One more than the highest `seq` the DHT holds for `key` and `salt`, or 1.
pub async fn next_seq(dht: &Dht, key: [u8; 32], salt: &[u8]) -> i64 {
    let query = ItemQuery::Mutable {
        key,
        salt: salt.to_vec(),
    };
    match dht.get_item(query).await.and_then(|i| i.seq()) {
        Some(s) => s.saturating_add(1),
        None => 1,
    }
}

/// What `target` names: 40 hex digits an immutable item, 64 a public key.
pub fn parse_query(target: &str, salt: &[u8]) -> anyhow::Result<ItemQuery> {
    if let Some(id) = NodeId::from_hex(target) {
        return Ok(ItemQuery::Immutable(id));
    }
    let key = keyfile::unhex(target)
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .with_context(|| {
            format!("{target:?} is neither a 40-digit target nor a 64-digit public key")
        })?;
    Ok(ItemQuery::Mutable {
        key,
        salt: salt.to_vec(),
    })
}

/// Runs `dht get`: the value on stdout (a byte string's bytes, anything
/// else as bencode), its `seq` on stderr.
pub async fn get(dht: &Dht, query: ItemQuery, wait: u64) -> anyhow::Result<ExitCode> {
    dht.wait_bootstrapped(Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(wait);
    let item = loop {
        if let Some(item) = dht.get_item(query.clone()).await {
            break item;
        }
        if Instant::now() >= deadline {
            eprintln!("no item found");
            return Ok(ExitCode::FAILURE);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    if let Some(seq) = item.seq() {
        eprintln!("seq {seq}");
    }
    let limits = shoal_bencode::Limits::default();
    let value = item.value();
    let shown = match shoal_bencode::decode(value, &limits) {
        Ok(v) => v.as_bytes().unwrap_or(value),
        Err(_) => value,
    };
    let mut out = std::io::stdout().lock();
    out.write_all(shown)?;
    out.write_all(b"\n")?;
    Ok(ExitCode::SUCCESS)
}
