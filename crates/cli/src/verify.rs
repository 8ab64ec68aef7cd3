//! `shoal verify`: hash-check data on disk against a torrent.

use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::json;
use shoal_metainfo::Torrent;
use shoal_storage::hash::work_len;
use shoal_storage::{FileStore, PieceState, check_options, check_pieces};

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
    let store = FileStore::new(&args.dir, Arc::new(torrent.info.clone()));
    let segments = store.segments();
    let mut opts = check_options(&torrent);
    opts.threads = args.threads;
    let bar = progress::bytes_bar(work_len(&segments, &opts), "verifying");
    let states = check_pieces(&torrent, &segments, &opts, &|n| bar.inc(n))?;
    bar.finish_and_clear();

    let mut tally = Tally::default();
    for (piece, state) in states.iter().enumerate() {
        match state {
            PieceState::Good => tally.ok += 1,
            PieceState::Bad => tally.bad += 1,
            PieceState::Missing => tally.missing += 1,
        }
        if *state != PieceState::Good {
            for slice in torrent.info.piece_slices(piece) {
                let is_pad = torrent
                    .info
                    .files
                    .get(slice.file)
                    .is_some_and(|f| f.attr.pad);
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
