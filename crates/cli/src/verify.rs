//! `shoal verify`: hash-check data on disk against a torrent.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use clap::Args;
use serde_json::json;
use shoal_metainfo::Torrent;
use shoal_storage::hash::work_len;
use shoal_storage::resume::{self, ResumeData};
use shoal_storage::{FileStore, PieceState, check_options, check_pieces};

use crate::{load, output, progress};

/// Arguments of `shoal verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The .torrent file.
    torrent: PathBuf,
    /// The download directory (the one that contains the torrent's file or
    /// root folder), or the content itself (that file or folder).
    dir: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Hashing threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// The state directory of the `download` or `seed` that wrote the data
    /// (default: theirs; a daemon's is its `state_dir`): its resume data
    /// tells pieces never downloaded (missing) from pieces downloaded once
    /// and damaged since (bad), where holes in sparse files cannot.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

/// How each piece fared.
#[derive(Default)]
struct Tally {
    ok: usize,
    bad: usize,
    missing: usize,
    /// Indices of bad and of missing pieces.
    bad_pieces: Vec<usize>,
    missing_pieces: Vec<usize>,
    /// Files holding bytes of a bad piece, or missing bytes, by index.
    damaged_files: Vec<usize>,
    /// The resume data that told missing from bad, if any.
    resume: Option<PathBuf>,
}

impl Tally {
    fn damaged(&mut self, file: usize) {
        if !self.damaged_files.contains(&file) {
            self.damaged_files.push(file);
        }
    }
}

/// Runs `shoal verify`; exit status 0 only if every piece is good.
pub fn run(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let torrent = load::torrent(&args.torrent)?;
    let holder = content_holder(&torrent, &args.dir)?;
    let store = FileStore::new(&holder, Arc::new(torrent.info.clone()));
    let segments = store.segments();
    let mut opts = check_options(&torrent);
    opts.threads = args.threads;
    let bar = progress::bytes_bar(work_len(&segments, &opts), "verifying");
    let states = check_pieces(&torrent, &segments, &opts, &|n| bar.inc(n))?;
    bar.finish_and_clear();

    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(crate::runtime::default_state_dir);
    let resume = resume_record(&torrent, &state_dir);
    let mut tally = Tally::default();
    for (piece, state) in states.iter().enumerate() {
        if *state == PieceState::Good {
            tally.ok += 1;
            continue;
        }
        let slices: Vec<_> = torrent
            .info
            .piece_slices(piece)
            .into_iter()
            .filter(|s| torrent.info.files.get(s.file).is_some_and(|f| !f.attr.pad))
            .collect();
        let lacking = |s: &&shoal_metainfo::FileSlice, holes: bool| {
            store.file_path(s.file).is_none_or(|p| {
                if holes {
                    shoal_storage::never_written(&p, s.offset, s.length)
                } else {
                    absent_or_short(&p, s.offset + s.length)
                }
            })
        };
        // Missing: bytes not there (an absent or short file), or a piece
        // never downloaded, which resume data knows and which a hole of a
        // sparse file only suggests (a preallocated file has none, and some
        // file systems store written zeros as holes). Bad: downloaded once
        // (or, without resume data, all bytes written) but wrong now.
        let holes = resume.is_none();
        let unwritten: Vec<usize> = slices
            .iter()
            .filter(|s| lacking(s, holes))
            .map(|s| s.file)
            .collect();
        let missing = match &resume {
            Some((_, r)) => !unwritten.is_empty() || !r.has_piece(piece),
            None => !unwritten.is_empty(),
        };
        if missing {
            tally.missing += 1;
            tally.missing_pieces.push(piece);
        } else {
            tally.bad += 1;
            tally.bad_pieces.push(piece);
        }
        // Only the files lacking bytes are damaged by a missing piece, so
        // deleting one file does not mark its intact neighbours.
        if unwritten.is_empty() {
            slices.iter().for_each(|s| tally.damaged(s.file));
        } else {
            unwritten.into_iter().for_each(|f| tally.damaged(f));
        }
    }
    tally.damaged_files.sort_unstable();
    tally.resume = resume.map(|(path, _)| path);
    report(&torrent, &tally, args.json)?;
    Ok(if tally.bad == 0 && tally.missing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Whether the file at `path` is absent or ends before `end`.
fn absent_or_short(path: &Path, end: u64) -> bool {
    std::fs::metadata(path).map_or(true, |m| !m.is_file() || m.len() < end)
}

/// This torrent's resume data in `state_dir` (`download` and `seed` keep it
/// there, the daemon in `resume/`), if it is there and is this torrent's.
fn resume_record(torrent: &Torrent, state_dir: &Path) -> Option<(PathBuf, ResumeData)> {
    let hash = torrent.info_hashes.wire_id()?;
    let name = format!("{}.resume", shoal_metainfo::infohash::hex(&hash));
    [state_dir.join(&name), state_dir.join("resume").join(&name)]
        .into_iter()
        .find_map(|path| {
            let record = resume::load(&path).ok().flatten()?;
            let ours =
                record.info_hash == hash && record.num_pieces == torrent.info.num_pieces() as u64;
            ours.then_some((path, record))
        })
}

/// The directory the torrent's paths start from: `dir` itself when it
/// holds the content (the torrent's file, or its root folder), or `dir`'s
/// parent when `dir` is the content (the root folder, or the single file).
/// A path that does not exist is an error, not a torrent with every piece
/// missing.
fn content_holder(torrent: &Torrent, dir: &Path) -> anyhow::Result<PathBuf> {
    if !dir.exists() {
        bail!("{} does not exist", dir.display());
    }
    let holds_content = |holder: &Path| {
        let store = FileStore::new(holder, Arc::new(torrent.info.clone()));
        (0..torrent.info.files.len())
            .filter_map(|i| store.file_path(i))
            .any(|p| p.exists())
    };
    let parent = dir.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    });
    match parent {
        Some(parent) if !holds_content(dir) && holds_content(parent) => Ok(parent.to_path_buf()),
        _ => Ok(dir.to_path_buf()),
    }
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
            "bad_pieces": tally.bad_pieces,
            "missing_pieces": tally.missing_pieces,
            "damaged_files": damaged,
            "resume_data": tally.resume.as_ref().map(|p| p.display().to_string()),
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
