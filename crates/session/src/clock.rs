//! The wall clock, for times shown to users and kept in records (when a
//! tracker answered, when a torrent was added); never for deadlines, which
//! use the monotonic clock.

/// The current time as Unix seconds (0 on a clock set before 1970).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
