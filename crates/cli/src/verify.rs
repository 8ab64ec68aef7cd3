//! `shoal verify`: hash-check data on disk against a torrent.

use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use shoal_metainfo::{Torrent, Version};
use shoal_storage::hash::{HashOptions, PieceHash, Segment, hash_content, work_len};

use crate::{load, output, progress};

/// Arguments of `shoal verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The .torrent file.
    torrent: PathBuf,
    /// The download directory: the one that contains the torrent's file (or its
    /// root directory, for a multi-file torrent).
    dir: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Hashing threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// How each piece fared.
#[derive(Default)]
struct Tally {
    ok: usize,
    bad: usize,
    missing: usize,
    /// Files with at least one bad or missing piece, by index.
    damaged_files: Vec<usize>,
}

/// Runs `shoal verify`; exit status 0 only if every piece is good.
pub fn run(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let torrent = load::torrent(&args.torrent)?;
    let info = &torrent.info;
    let segments: Vec<Segment> = info
        .files
        .iter()
        .map(|f| {
            if f.attr.pad {
                Segment::Padding { length: f.length }
            } else {
                Segment::File {
                    path: args.dir.join(f.relative_path()),
                    length: f.length,
                }
            }
        })
        .collect();
    // A hybrid's v1 hashes cover every byte, so one pass of SHA-1 suffices.
    let use_v1 = info.version != Version::V2;
    let mut opts = HashOptions::verify(info.piece_length, use_v1, !use_v1);
    opts.threads = args.threads;
    let bar = progress::bytes_bar(work_len(&segments, &opts), "verifying");
    let hashes = hash_content(&segments, &opts, &|n| bar.inc(n))?;
    bar.finish_and_clear();

    let mut piece_ok = vec![None; info.num_pieces()];
    if use_v1 {
        for (i, (got, want)) in hashes.v1_pieces.iter().zip(&info.v1_pieces).enumerate() {
            if let Some(slot) = piece_ok.get_mut(i) {
                *slot = got.hash().map(|h| h == want);
            }
        }
    } else {
        for (file_index, v2) in hashes.v2_files.iter().enumerate() {
            let (Some(v2), Some(file)) = (v2, info.files.get(file_index)) else {
                continue;
            };
            let Some(root) = file.pieces_root else {
                continue;
            };
            let expected: Vec<[u8; 32]> = if file.length > info.piece_length {
                torrent.piece_layers.get(&root).cloned().unwrap_or_default()
            } else {
                vec![root]
            };
            let first = info.file_pieces(file_index).start;
            for (j, got) in v2.pieces.iter().enumerate() {
                if let Some(slot) = piece_ok.get_mut(first + j) {
                    *slot = match got {
                        PieceHash::Hash(h) => Some(expected.get(j) == Some(h)),
                        PieceHash::Missing => None,
                    };
                }
            }
        }
    }

    let mut tally = Tally::default();
    for (piece, state) in piece_ok.iter().enumerate() {
        match state {
            Some(true) => tally.ok += 1,
            Some(false) => tally.bad += 1,
            None => tally.missing += 1,
        }
        if *state != Some(true) {
            for slice in info.piece_slices(piece) {
                let is_pad = info.files.get(slice.file).is_some_and(|f| f.attr.pad);
                if !is_pad && !tally.damaged_files.contains(&slice.file) {
                    tally.damaged_files.push(slice.file);
                }
            }
        }
    }
    report(&torrent, &tally, args.json)?;
    Ok(if tally.bad == 0 && tally.missing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn report(torrent: &Torrent, tally: &Tally, as_json: bool) -> anyhow::Result<()> {
    let damaged: Vec<String> = tally
        .damaged_files
        .iter()
        .filter_map(|&i| torrent.info.files.get(i).map(|f| f.display_path()))
        .collect();
    let total = torrent.info.num_pieces();
    let mut text = String::new();
    if as_json {
        let value = json!({
            "name": torrent.info.name,
            "num_pieces": total,
            "pieces_ok": tally.ok,
            "pieces_bad": tally.bad,
            "pieces_missing": tally.missing,
            "damaged_files": damaged,
        });
        writeln!(text, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        writeln!(
            text,
            "{}: {} of {total} pieces ok, {} bad, {} missing",
            torrent.info.name, tally.ok, tally.bad, tally.missing
        )?;
        for path in &damaged {
            writeln!(text, "  damaged: {path}")?;
        }
    }
    output::emit(&text)?;
    Ok(())
}
