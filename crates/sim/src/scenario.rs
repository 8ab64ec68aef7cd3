//! Scenario files: what swarm to simulate (TOML, see the crate docs).

use serde::Deserialize;

/// Most peers in one scenario (each runs a whole engine).
pub const MAX_PEERS: usize = 5000;
/// Largest content: it is held in memory once and shared by every peer.
pub const MAX_CONTENT_SIZE: u64 = 1 << 30;
/// Most pieces.
pub const MAX_PIECES: u64 = 1 << 18;
/// Longest simulated run, seconds.
pub const MAX_TIME_LIMIT: f64 = 1_000_000.0;

/// A swarm to simulate. Field names are the TOML keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Bytes of content.
    pub content_size: u64,
    /// Bytes per piece (a power of two, 16 KiB – 16 MiB).
    pub piece_size: u64,
    /// Seed of every random choice: network, tracker samples, engines.
    #[serde(default)]
    pub seed: u64,
    /// One-way latency of every link, seconds.
    #[serde(default = "default_latency")]
    pub latency: f64,
    /// Probability that a burst of bytes is lost once and retransmitted
    /// (arriving one retransmission timeout later, with everything behind it
    /// on that connection waiting too, as TCP does).
    #[serde(default)]
    pub loss: f64,
    /// Peers an arriving peer learns from the tracker.
    #[serde(default = "default_tracker_sample")]
    pub tracker_sample: usize,
    /// Most connections per peer, incoming and outgoing (the session's cap).
    #[serde(default = "default_max_peers")]
    pub max_peers: usize,
    /// Length of one simulation step, seconds: bandwidth is shared out per
    /// step, and bytes are delivered at step boundaries.
    #[serde(default = "default_step")]
    pub step: f64,
    /// Give up after this much virtual time, seconds.
    #[serde(default = "default_time_limit")]
    pub time_limit: f64,
    /// The peers, as groups of identical ones.
    #[serde(rename = "group")]
    pub groups: Vec<Group>,
}

/// A set of identical peers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Name in reports.
    pub name: String,
    /// How many peers.
    #[serde(default = "default_count")]
    pub count: usize,
    /// Starts with the whole content.
    #[serde(default)]
    pub seeder: bool,
    /// Upload capacity, bytes/s (absent: unlimited).
    pub upload: Option<u64>,
    /// Download capacity, bytes/s (absent: unlimited).
    pub download: Option<u64>,
    /// Arrival of the group's first peer, seconds.
    #[serde(default)]
    pub arrive: f64,
    /// Steady arrivals: peer `i` arrives at `arrive + i × arrive_every`.
    #[serde(default)]
    pub arrive_every: f64,
    /// Leaves at this time, seconds (done or not).
    pub leave: Option<f64>,
    /// Leaves once the other peers hold one full copy between them (every
    /// piece is on some peer that did not start as a seeder).
    #[serde(default)]
    pub leave_after_copy: bool,
    /// Leaves as soon as its own download completes.
    #[serde(default)]
    pub leave_when_done: bool,
    /// Never uploads: it unchokes nobody and refuses every request.
    #[serde(default)]
    pub free_rider: bool,
    /// Arrives with a magnet link only: it fetches the info dictionary
    /// (BEP 9, up to 6 peers at a time, the whole dictionary from each)
    /// before its download starts.
    #[serde(default)]
    pub magnet: bool,
    /// Serves an info dictionary that does not match the info-hash to
    /// peers fetching it (its pieces are good).
    #[serde(default)]
    pub liar: bool,
}

fn default_latency() -> f64 {
    0.02
}
fn default_tracker_sample() -> usize {
    50
}
fn default_max_peers() -> usize {
    80
}
fn default_step() -> f64 {
    0.005
}
fn default_time_limit() -> f64 {
    3600.0
}
fn default_count() -> usize {
    1
}

/// Why a scenario was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// Not valid TOML, or keys of the wrong type.
    #[error("scenario: {0}")]
    Parse(String),
    /// A value out of range.
    #[error("scenario: {field}: {reason}")]
    Invalid {
        /// The offending key.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl Scenario {
    /// Parses and checks a scenario.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario =
            toml::from_str(text).map_err(|e| ScenarioError::Parse(e.to_string()))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Checks every limit; [`crate::run`] refuses a scenario that fails this.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let bad =
            |field: &'static str, reason: String| Err(ScenarioError::Invalid { field, reason });
        if self.content_size == 0 || self.content_size > MAX_CONTENT_SIZE {
            return bad("content_size", format!("must be 1 to {MAX_CONTENT_SIZE}"));
        }
        if !self.piece_size.is_power_of_two() || !(16 << 10..=16 << 20).contains(&self.piece_size) {
            return bad(
                "piece_size",
                "must be a power of two, 16 KiB to 16 MiB".into(),
            );
        }
        if self.content_size.div_ceil(self.piece_size) > MAX_PIECES {
            return bad("piece_size", format!("more than {MAX_PIECES} pieces"));
        }
        if !(0.0..=5.0).contains(&self.latency) {
            return bad("latency", "must be 0 to 5 seconds".into());
        }
        if !(0.0..1.0).contains(&self.loss) {
            return bad("loss", "must be at least 0 and below 1".into());
        }
        if self.tracker_sample == 0 {
            return bad("tracker_sample", "must be at least 1".into());
        }
        if !(1..=1000).contains(&self.max_peers) {
            return bad("max_peers", "must be 1 to 1000".into());
        }
        if !(0.0005..=0.1).contains(&self.step) {
            return bad("step", "must be 0.0005 to 0.1 seconds".into());
        }
        if !(self.time_limit > 0.0 && self.time_limit <= MAX_TIME_LIMIT) {
            return bad(
                "time_limit",
                format!("must be above 0, at most {MAX_TIME_LIMIT}"),
            );
        }
        let mut total = 0usize;
        for g in &self.groups {
            total = total.saturating_add(g.count);
            let time_ok = |t: f64| t.is_finite() && (0.0..=MAX_TIME_LIMIT).contains(&t);
            if !time_ok(g.arrive) || !time_ok(g.arrive_every) || !g.leave.is_none_or(time_ok) {
                return bad(
                    "group.arrive",
                    format!("{}: times must be 0 to {MAX_TIME_LIMIT}", g.name),
                );
            }
            if g.magnet && g.seeder {
                return bad(
                    "group.magnet",
                    format!("{}: a seeder has the metadata already", g.name),
                );
            }
            if g.upload == Some(0) || g.download == Some(0) {
                return bad(
                    "group.upload",
                    format!("{}: a capacity of 0 (use free_rider)", g.name),
                );
            }
        }
        if total == 0 || total > MAX_PEERS {
            return bad("group", format!("1 to {MAX_PEERS} peers in all"));
        }
        if !self.groups.iter().any(|g| g.seeder && g.count > 0) {
            return bad("group", "no seeder: nothing could ever complete".into());
        }
        Ok(())
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u64 {
        self.content_size.div_ceil(self.piece_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_EXAMPLE: &str = r#"
content_size = 100663296      # bytes
piece_size = 262144
seed = 7                      # RNG seed
[[group]]                     # repeatable: a set of identical peers
name = "seeder"
count = 1
seeder = true                 # starts with the whole content
upload = 8388608              # bytes/s; download likewise (absent = unlimited)
[[group]]
name = "leechers"
count = 40
upload = 2097152
download = 20971520
arrive = 0.0
"#;

    #[test]
    fn the_issue_example_parses() {
        let s = Scenario::from_toml(ISSUE_EXAMPLE).unwrap();
        assert_eq!(s.groups.len(), 2);
        assert_eq!(s.groups[1].download, Some(20 << 20));
        assert_eq!(s.num_pieces(), 384);
        assert_eq!(s.tracker_sample, 50);
    }

    #[test]
    fn bad_values_are_refused() {
        let cases = [
            ("piece_size = 262144", "piece_size = 1000"),
            ("content_size = 100663296", "content_size = 0"),
            ("seeder = true", "seeder = false"),
            ("count = 40", "count = 400000"),
            ("arrive = 0.0", "arrive = -1.0"),
            ("seed = 7", "seed = 7\nbogus = 1"),
        ];
        for (from, to) in cases {
            let text = ISSUE_EXAMPLE.replace(from, to);
            assert!(Scenario::from_toml(&text).is_err(), "{to} accepted");
        }
    }
}
