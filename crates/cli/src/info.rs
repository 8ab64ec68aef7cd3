//! `shoal info`: describe a .torrent or magnet link, as text or JSON.

use std::fmt::Write;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};
use shoal_metainfo::{Magnet, Torrent, Version};

use crate::load::{self, Source};
use crate::units;

/// Arguments of `shoal info`.
#[derive(Args)]
pub struct InfoArgs {
    /// A .torrent file, an http(s) URL of one, a magnet link or a bare
    /// info-hash.
    #[arg(value_name = "TORRENT|URL|MAGNET|HASH")]
    source: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also ask each tracker for the swarm's size (seeders, leechers,
    /// completed downloads).
    #[arg(long)]
    scrape: bool,
}

/// Runs `shoal info`.
pub fn run(args: &InfoArgs) -> anyhow::Result<ExitCode> {
    let source = load::source(&args.source)?;
    let scraped = if args.scrape {
        let (trackers, hashes) = match &source {
            Source::Torrent(t) => (t.trackers.clone(), t.info_hashes),
            Source::Magnet(m) => (
                m.trackers.iter().map(|t| vec![t.clone()]).collect(),
                m.info_hashes,
            ),
            // Its torrent is known only after a DHT lookup.
            Source::KeyMagnet(_) => (Vec::new(), Default::default()),
        };
        let info_hash = hashes.wire_id().unwrap_or_default();
        crate::runtime::build()?.block_on(shoal_session::scrape(&trackers, info_hash))
    } else {
        Vec::new()
    };
    if args.json {
        let mut value = match &source {
            Source::Torrent(t) => torrent_json(t),
            Source::Magnet(m) => magnet_json(m),
            Source::KeyMagnet(m) => key_magnet_json(m),
        };
        if let (true, Some(object)) = (args.scrape, value.as_object_mut()) {
            object.insert("scrape".into(), scraped.iter().map(scrape_json).collect());
        }
        crate::output::emit(&format!("{}\n", serde_json::to_string_pretty(&value)?))?;
    } else {
        let mut text = match &source {
            Source::Torrent(t) => describe_torrent(t)?,
            Source::Magnet(m) => describe_magnet(m)?,
            Source::KeyMagnet(m) => describe_key_magnet(m),
        };
        for s in &scraped {
            match &s.counts {
                Ok(c) => writeln!(
                    text,
                    "scrape {}: {} seeders, {} leechers, {} downloaded",
                    s.url, c.seeders, c.leechers, c.downloaded
                )?,
                Err(err) => writeln!(text, "scrape {}: failed: {err}", s.url)?,
            }
        }
        crate::output::emit(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A BEP 46 link names a key, not a torrent: its key and salt are all
/// there is to show without asking the DHT.
fn describe_key_magnet(m: &shoal_metainfo::KeyMagnet) -> String {
    let key = shoal_metainfo::infohash::hex(&m.public_key);
    let salt = shoal_metainfo::infohash::hex(&m.salt);
    format!(
        "BEP 46 link (mutable torrent)\npublic key {key}\nsalt       {salt}\n\
         (shoal download resolves it through the DHT)\n"
    )
}

fn key_magnet_json(m: &shoal_metainfo::KeyMagnet) -> Value {
    serde_json::json!({
        "public_key": shoal_metainfo::infohash::hex(&m.public_key),
        "salt": shoal_metainfo::infohash::hex(&m.salt),
        "name": m.name,
        "trackers": m.trackers,
    })
}

fn scrape_json(s: &shoal_session::ScrapeResult) -> Value {
    match &s.counts {
        Ok(c) => json!({
            "url": s.url,
            "seeders": c.seeders,
            "leechers": c.leechers,
            "downloaded": c.downloaded,
        }),
        Err(err) => json!({ "url": s.url, "error": err }),
    }
}

fn version_name(v: Version) -> &'static str {
    match v {
        Version::V1 => "v1",
        Version::V2 => "v2",
        Version::Hybrid => "hybrid",
    }
}

fn torrent_json(t: &Torrent) -> Value {
    let files: Vec<Value> = t
        .info
        .files
        .iter()
        .filter(|f| !f.attr.pad)
        .map(|f| json!({ "path": f.display_path(), "length": f.length }))
        .collect();
    json!({
        "name": t.info.name,
        "info_hash_v1": t.info_hashes.v1.map(|h| h.to_hex()),
        "info_hash_v2": t.info_hashes.v2.map(|h| h.to_hex()),
        "version": version_name(t.info.version),
        "total_size": t.info.total_length(),
        "piece_length": t.info.piece_length,
        "num_pieces": t.info.num_pieces(),
        "private": t.info.private,
        "trackers": t.trackers,
        "web_seeds": t.web_seeds,
        "comment": t.comment,
        "created_by": t.created_by,
        "creation_date": t.creation_date,
        "source": t.info.source,
        "files": files,
        "magnet": t.magnet().to_string(),
    })
}

fn magnet_json(m: &Magnet) -> Value {
    json!({
        "name": m.name,
        "info_hash_v1": m.info_hashes.v1.map(|h| h.to_hex()),
        "info_hash_v2": m.info_hashes.v2.map(|h| h.to_hex()),
        "total_size": null,
        "piece_length": null,
        "num_pieces": null,
        "private": null,
        "trackers": m.trackers.iter().map(|t| vec![t]).collect::<Vec<_>>(),
        "web_seeds": m.web_seeds,
        "peers": m.peers,
        "files": null,
        "magnet": m.to_string(),
    })
}

fn describe_torrent(t: &Torrent) -> Result<String, std::fmt::Error> {
    let i = &t.info;
    let mut out = String::new();
    writeln!(out, "name:          {}", i.name)?;
    if let Some(h) = t.info_hashes.v1 {
        writeln!(out, "info-hash v1:  {h}")?;
    }
    if let Some(h) = t.info_hashes.v2 {
        writeln!(out, "info-hash v2:  {h}")?;
    }
    writeln!(out, "version:       {}", version_name(i.version))?;
    writeln!(
        out,
        "size:          {} ({} bytes)",
        units::bytes(i.total_length()),
        i.total_length()
    )?;
    writeln!(
        out,
        "pieces:        {} × {}",
        i.num_pieces(),
        units::bytes(i.piece_length)
    )?;
    writeln!(
        out,
        "private:       {}",
        if i.private { "yes" } else { "no" }
    )?;
    for (n, tier) in t.trackers.iter().enumerate() {
        writeln!(out, "tracker tier {n}: {}", tier.join(" "))?;
    }
    for seed in &t.web_seeds {
        writeln!(out, "web seed:      {seed}")?;
    }
    if let Some(c) = &t.comment {
        writeln!(out, "comment:       {c}")?;
    }
    if let Some(c) = &t.created_by {
        writeln!(out, "created by:    {c}")?;
    }
    if let Some(d) = t.creation_date {
        writeln!(out, "created:       {}", units::utc_date(d))?;
    }
    if let Some(s) = &i.source {
        writeln!(out, "source:        {s}")?;
    }
    let files: Vec<_> = i.files.iter().filter(|f| !f.attr.pad).collect();
    writeln!(out, "files ({}):", files.len())?;
    for f in files {
        writeln!(
            out,
            "  {:>10}  {}",
            units::bytes(f.length),
            f.display_path()
        )?;
    }
    writeln!(out, "magnet:        {}", t.magnet())?;
    Ok(out)
}

fn describe_magnet(m: &Magnet) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    if let Some(n) = &m.name {
        writeln!(out, "name:          {n}")?;
    }
    if let Some(h) = m.info_hashes.v1 {
        writeln!(out, "info-hash v1:  {h}")?;
    }
    if let Some(h) = m.info_hashes.v2 {
        writeln!(out, "info-hash v2:  {h}")?;
    }
    for t in &m.trackers {
        writeln!(out, "tracker:       {t}")?;
    }
    for w in &m.web_seeds {
        writeln!(out, "web seed:      {w}")?;
    }
    for p in &m.peers {
        writeln!(out, "peer:          {p}")?;
    }
    writeln!(
        out,
        "(a magnet link: size and files are known once the metadata is fetched)"
    )?;
    Ok(out)
}
