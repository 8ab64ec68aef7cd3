//! `shoal publish`: seeds a torrent and publishes it under an ed25519 key as
//! a BEP 46 mutable item (`{ih: info-hash}`), so `urn:btpk` links follow
//! the publisher to this version. The item is put again while seeding, as
//! DHT nodes forget items after about 2 hours.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use shoal_dht::{Item, ItemKey, ItemQuery};
use shoal_metainfo::{KeyMagnet, bep46_info_hash, bep46_value};
use shoal_session::{Dht, TorrentOptions};

use crate::download::{NetArgs, open_session};
use crate::{keyfile, live, load, runtime};

/// Arguments of `shoal publish`.
#[derive(Args)]
pub struct PublishArgs {
    /// The .torrent file of the version to publish (it needs a v1 info-hash).
    torrent: PathBuf,
    /// The directory that holds the content.
    dir: PathBuf,
    /// Key file (created, mode 0600, if missing; only the public key is shown).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Salt: one key can publish several feeds under different salts.
    #[arg(long, default_value = "")]
    salt: String,
    /// Seconds between puts of the item while seeding.
    #[arg(long, default_value_t = 1800, value_name = "SECS")]
    reput_every: u64,
    #[command(flatten)]
    net: NetArgs,
}

/// Wait before trying again when a put reached no node.
const RETRY: Duration = Duration::from_secs(5);

/// Runs `shoal publish`.
pub fn run(args: &PublishArgs) -> anyhow::Result<ExitCode> {
    let torrent = load::torrent(&args.torrent)?;
    let info_hash = torrent
        .info_hashes
        .v1
        .context("BEP 46 names torrents by v1 info-hash; this torrent is v2-only")?;
    let key = keyfile::load_or_create(&args.key)?;
    let salt = args.salt.as_bytes().to_vec();
    let link = KeyMagnet {
        public_key: key.public(),
        salt: salt.clone(),
        ..KeyMagnet::default()
    };
    let state_dir = args.net.state_dir();
    let _lock = shoal_storage::lock_dir(&state_dir)?;
    runtime::build()?.block_on(async {
        let session = open_session(&args.net, state_dir).await?;
        let dht = session
            .dht()
            .context("publishing goes through the DHT, which --no-dht turns off")?;
        let name = torrent.info.name.clone();
        eprintln!("checking existing data of {name} ...");
        let handle = session
            .add_torrent(
                torrent,
                args.dir.clone(),
                TorrentOptions {
                    peers: args.net.peers(),
                    ..TorrentOptions::default()
                },
            )
            .await?;
        dht.wait_for_nodes().await;
        let item = version_to_put(&dht, &key, &salt, info_hash).await?;
        println!("{link}");
        eprintln!(
            "publishing {name} (info-hash {info_hash}) as seq {}; seeding on {} (Ctrl-C to stop)",
            item.seq().unwrap_or_default(),
            crate::output::listening_on(&session)
        );
        let every = Duration::from_secs(args.reput_every.max(1));
        let code = loop {
            let nodes = dht.put_item(item.clone(), None).await;
            eprintln!("put to {nodes} nodes");
            let wait = if nodes == 0 { RETRY } else { every };
            tokio::select! {
                code = runtime::stop_signal() => break code.context("waiting for a signal")?,
                () = tokio::time::sleep(wait) => {}
                () = live::seeding(&handle) => {}
            }
        };
        session.shutdown().await;
        Ok(ExitCode::from(code))
    })
}

/// The item to put: the one the DHT holds if it already names this
/// torrent (a re-publish changes nothing), else a new one signed with a
/// sequence number above the DHT's and no lower than the Unix time in
/// seconds: should the lookup miss the current item (the DHT unreachable
/// for a while), a later publish still outranks every earlier one, with no
/// state kept beside the key.
async fn version_to_put(
    dht: &Dht,
    key: &ItemKey,
    salt: &[u8],
    info_hash: shoal_metainfo::InfoHashV1,
) -> anyhow::Result<Item> {
    let query = ItemQuery::Mutable {
        key: key.public(),
        salt: salt.to_vec(),
    };
    let current = dht.get_item(query).await;
    if let Some(item) = &current {
        if bep46_info_hash(item.value()) == Some(info_hash) {
            return Ok(item.clone());
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let seq = current
        .and_then(|i| i.seq())
        .map_or(1, |s| s.saturating_add(1))
        .max(now);
    Ok(Item::Mutable(key.sign(
        salt,
        seq,
        bep46_value(&info_hash),
    )?))
}
