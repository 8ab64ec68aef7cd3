//! A media player reads a file through its stream URL while the torrent
//! downloads: `ffprobe` (Debian's ffmpeg) opens a small MP4 whose index
//! (`moov`) sits at its end, so it reads the start, then seeks there with a
//! `Range` request; the pieces come from a throttled web seed (lighttpd).
//! Under `CI=true` a missing ffmpeg or lighttpd is a failure, not a skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use shoal_metainfo::{ContentHashes, NewFile, TorrentSpec, Version};

mod common;
#[path = "../../session/tests/support/lighttpd.rs"]
mod lighttpd;

use common::{get_json, rpc, server};

/// Whether `tool` runs; under CI its absence fails the test.
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || !std::env::var("CI").is_ok_and(|v| v == "true"),
        "{tool} missing under CI"
    );
    ok
}

/// A v1 torrent of the directory `dir` holding one file `name`, with a web seed.
fn torrent_of(dir: &Path, name: &str, web_seed: String) -> Vec<u8> {
    let data = std::fs::read(dir.join(name)).unwrap();
    let files = vec![NewFile {
        path: vec![name.into()],
        length: data.len() as u64,
        executable: false,
    }];
    let dir_name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut spec = TorrentSpec::new(dir_name, files, false, 16 * 1024);
    spec.version = Version::V1;
    spec.web_seeds = vec![web_seed];
    let v1_pieces = data
        .chunks(16 * 1024)
        .map(|c| Sha1::digest(c).into())
        .collect();
    spec.encode(&ContentHashes {
        v1_pieces,
        v2_files: vec![],
    })
    .unwrap()
}

#[test]
fn ffprobe_reads_a_video_through_its_stream_url_while_it_downloads() {
    if !have("ffmpeg") || !have("ffprobe") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    let media = www.join("media");
    std::fs::create_dir_all(&media).unwrap();
    // 4 s of test pattern; without +faststart the index is written last.
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=4:size=320x240:rate=25",
        ])
        .args(["-c:v", "mpeg4", "-q:v", "5"])
        .arg(media.join("clip.mp4"))
        .status()
        .unwrap();
    assert!(made.success());
    // 20 kB/s per connection: the download takes several seconds.
    let Some(httpd) = lighttpd::lighttpd(&www, &tmp.path().join("httpd"), Some(20)) else {
        return;
    };
    let d = server(|c| c.dht = false);
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_of(
        &media,
        "clip.mp4",
        format!("http://127.0.0.1:{}/", httpd.port),
    ));
    let v = rpc(
        d.addr,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta } }),
    );
    let id = v["arguments"]["torrent-added"]["id"].clone();
    let start = Instant::now();
    let detail = loop {
        let detail = get_json(d.addr, &format!("/api/v1/torrents/{id}"));
        if detail["status"] == "downloading" || detail["status"] == "seeding" {
            break detail;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{detail}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let streams: Value = get_json(d.addr, &format!("/api/v1/torrents/{id}/streams"));
    let url = format!(
        "http://{}{}",
        d.addr,
        streams["files"][0]["url"].as_str().unwrap()
    );
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&url)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&probe.stdout);
    assert!(
        probe.status.success(),
        "{out}{}\n{detail}",
        String::from_utf8_lossy(&probe.stderr)
    );
    assert!(out.contains("codec_name=mpeg4"), "{out}");
    assert!(
        out.contains("width=320") && out.contains("height=240"),
        "{out}"
    );
}
