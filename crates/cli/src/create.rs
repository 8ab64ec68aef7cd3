//! `shoal create`: make a .torrent from a file or directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Args;
use shoal_metainfo::{
    ContentHashes, LayoutItem, NewFile, Torrent, TorrentSpec, V2FileHashes, Version,
    auto_piece_length,
};
use shoal_storage::hash::{HashOptions, PieceHash, Segment, hash_content, work_len};

use crate::files::{SourceFile, collect_files};
use crate::{output, progress, units};

/// Arguments of `shoal create`.
#[derive(Args)]
pub struct CreateArgs {
    /// The file or directory to share.
    path: PathBuf,
    /// Where to write the .torrent (refuses to overwrite without --force).
    #[arg(short, long, value_name = "OUT.torrent")]
    output: PathBuf,
    /// Tracker URL; repeat for more tiers, or separate URLs with commas to put
    /// them in one tier.
    #[arg(short, long = "tracker", value_name = "URL")]
    trackers: Vec<String>,
    /// Web seed URL (BEP 19); repeatable.
    #[arg(short, long = "webseed", value_name = "URL")]
    webseeds: Vec<String>,
    /// Piece size in bytes (a power of two ≥ 16 KiB; K/M/G suffixes allowed),
    /// or `auto`: the smallest power of two giving at most 1024 pieces,
    /// between 16 KiB and 16 MiB.
    #[arg(short, long, default_value = "auto", value_name = "N|auto")]
    piece_size: String,
    /// Write a v1 torrent (the default: every client reads it).
    #[arg(long, group = "format")]
    v1: bool,
    /// Write a v2-only torrent (BEP 52).
    #[arg(long, group = "format")]
    v2: bool,
    /// Write a hybrid v1+v2 torrent (pad files align files to pieces).
    #[arg(long, group = "format")]
    hybrid: bool,
    /// Mark the torrent private (BEP 27): peers only from its trackers.
    #[arg(long)]
    private: bool,
    /// Free-text comment.
    #[arg(short, long)]
    comment: Option<String>,
    /// `source` tag (changes the info-hash; used by private trackers).
    #[arg(long)]
    source: Option<String>,
    /// Include hidden files (names starting with a dot).
    #[arg(long)]
    include_hidden: bool,
    /// Leave out the creation date, so the same input gives the same file.
    #[arg(long)]
    no_date: bool,
    /// Hashing threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Overwrite the output file if it exists.
    #[arg(short, long)]
    force: bool,
}

/// Runs `shoal create`.
pub fn run(args: &CreateArgs) -> anyhow::Result<ExitCode> {
    if args.output.exists() && !args.force {
        bail!(
            "{} exists (use --force to overwrite)",
            args.output.display()
        );
    }
    let piece_size = match args.piece_size.as_str() {
        "auto" => None,
        n => Some(units::parse_size(n).context("invalid --piece-size")?),
    };
    let made = make(
        &args.path,
        piece_size,
        args.include_hidden,
        args.threads,
        |spec| {
            spec.version = if args.v2 {
                Version::V2
            } else if args.hybrid {
                Version::Hybrid
            } else {
                Version::V1
            };
            spec.trackers = args
                .trackers
                .iter()
                .map(|tier| {
                    tier.split(',')
                        .map(|u| u.trim().to_owned())
                        .filter(|u| !u.is_empty())
                        .collect()
                })
                .filter(|tier: &Vec<String>| !tier.is_empty())
                .collect();
            spec.web_seeds = args.webseeds.clone();
            spec.private = args.private;
            spec.comment = args.comment.clone();
            spec.source = args.source.clone();
            if args.no_date {
                spec.creation_date = None;
            }
        },
    )?;
    let (bytes, torrent) = (&made.bytes, &made.torrent);
    shoal_storage::write_atomic(&args.output, bytes)
        .with_context(|| format!("cannot write {}", args.output.display()))?;

    let mut report = String::new();
    if let Some(h) = torrent.info_hashes.v1 {
        report += &format!("info-hash v1: {h}\n");
    }
    if let Some(h) = torrent.info_hashes.v2 {
        report += &format!("info-hash v2: {h}\n");
    }
    report += &format!("magnet:       {}\n", torrent.magnet());
    output::emit(&report)?;
    eprintln!(
        "wrote {} ({} in {}, {} of {}, hashed in {:.2} s)",
        args.output.display(),
        units::bytes(made.total),
        units::count(made.files, "file"),
        units::count(torrent.info.num_pieces(), "piece"),
        units::bytes(torrent.info.piece_length),
        made.hashing.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// A torrent built in memory, not yet written anywhere.
pub struct Made {
    /// The .torrent file's bytes.
    pub bytes: Vec<u8>,
    /// The same, parsed back (which checks it).
    pub torrent: Torrent,
    /// Content bytes.
    pub total: u64,
    /// Number of files.
    pub files: usize,
    /// Time spent hashing.
    pub hashing: std::time::Duration,
}

/// Builds a torrent of `path`: collects the files, applies `customize` to the
/// spec (version, trackers, …), hashes on `threads` cores (0: all) with a
/// progress bar on a terminal, and encodes it. `piece_size` `None` is `auto`.
pub fn make(
    path: &Path,
    piece_size: Option<u64>,
    include_hidden: bool,
    threads: usize,
    customize: impl FnOnce(&mut TorrentSpec),
) -> anyhow::Result<Made> {
    let (name, sources, single_file) = collect_files(path, include_hidden)?;
    let total: u64 = sources.iter().map(|s| s.length).sum();
    let piece_length = piece_size.unwrap_or_else(|| auto_piece_length(total));
    let files: Vec<NewFile> = sources
        .iter()
        .map(|s| NewFile {
            path: s.torrent_path.clone(),
            length: s.length,
            executable: s.executable,
        })
        .collect();
    let mut spec = TorrentSpec::new(name, files, single_file, piece_length);
    spec.created_by = Some(format!("shoal/{}", env!("CARGO_PKG_VERSION")));
    spec.creation_date = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok());
    customize(&mut spec);
    let started = Instant::now();
    let hashes = hash_spec(&spec, &sources, threads)?;
    let hashing = started.elapsed();
    let bytes = spec.encode(&hashes)?;
    // Reading it back checks the result and gives the info-hashes.
    let torrent =
        Torrent::from_bytes(&bytes).context("internal error: the new torrent does not parse")?;
    Ok(Made {
        bytes,
        torrent,
        total,
        files: sources.len(),
        hashing,
    })
}

/// Hashes the spec's layout on all cores, with a progress bar on a terminal.
fn hash_spec(
    spec: &TorrentSpec,
    sources: &[SourceFile],
    threads: usize,
) -> anyhow::Result<ContentHashes> {
    let layout = spec.layout();
    let segments: Vec<Segment> = layout
        .iter()
        .map(|item| match *item {
            LayoutItem::File(i) => Segment::File {
                path: sources
                    .get(i)
                    .map(|s| s.disk_path.clone())
                    .unwrap_or_default(),
                length: spec.files.get(i).map_or(0, |f| f.length),
            },
            LayoutItem::Pad(length) => Segment::Padding { length },
        })
        .collect();
    let mut opts = HashOptions::create(
        spec.piece_length,
        spec.version.has_v1(),
        spec.version.has_v2(),
    );
    opts.threads = threads;
    let bar = progress::bytes_bar(work_len(&segments, &opts), "hashing");
    let result = hash_content(&segments, &opts, &|n| bar.inc(n))?;
    bar.finish_and_clear();

    let v1_pieces = result
        .v1_pieces
        .iter()
        .map(|p| match p {
            PieceHash::Hash(h) => Ok(*h),
            PieceHash::Missing => bail!("a file changed while it was being hashed"),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut v2_files = Vec::new();
    if spec.version.has_v2() {
        for (item, v2) in layout.iter().zip(&result.v2_files) {
            if let LayoutItem::File(_) = item {
                let hashes = match v2 {
                    Some(f) => f.root.map(|root| V2FileHashes {
                        root,
                        piece_layer: f.piece_layer().unwrap_or_else(|| vec![root]),
                    }),
                    None => None,
                };
                v2_files.push(hashes);
            }
        }
    }
    Ok(ContentHashes {
        v1_pieces,
        v2_files,
    })
}
