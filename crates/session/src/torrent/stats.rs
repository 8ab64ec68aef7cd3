//! A torrent's progress and peer counts, as displays show them.

/// Progress of a torrent, for displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TorrentStats {
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces in the torrent.
    pub pieces_total: u32,
    /// Bytes still to fetch.
    pub bytes_left: u64,
    /// Bytes of the selected files' pieces (the total a progress display
    /// counts up to; `total_size` unless files are skipped).
    pub bytes_wanted: u64,
    /// Total content size.
    pub total_size: u64,
    /// Payload bytes received this session.
    pub downloaded: u64,
    /// Payload bytes sent this session.
    pub uploaded: u64,
    /// Connected peers.
    pub peers: usize,
    /// Connected peers we may download from (interested, not choked).
    pub peers_sending: usize,
    /// Connected peers we may upload to (interested, not choked).
    pub peers_receiving: usize,
    /// Connected peers that have every piece.
    pub seeds: usize,
    /// Pieces that failed their hash check this session.
    pub hash_failures: u64,
}
