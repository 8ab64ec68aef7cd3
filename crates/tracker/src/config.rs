//! Settings: command-line flags (clap) over an optional TOML file over defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// `shoal tracker` command-line arguments.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TrackerArgs {
    /// HTTP listen address (announce, scrape, /metrics). Default 127.0.0.1:6969.
    #[arg(long, value_name = "ADDR:PORT")]
    pub http: Option<SocketAddr>,
    /// UDP listen address (BEP 15). Default 127.0.0.1:6969.
    #[arg(long, value_name = "ADDR:PORT")]
    pub udp: Option<SocketAddr>,
    /// Turn the HTTP side off.
    #[arg(long)]
    pub no_http: bool,
    /// Turn the UDP side off.
    #[arg(long)]
    pub no_udp: bool,
    /// TOML configuration file (keys as in `Config`; flags override it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serve only the info-hashes listed (40 hex digits a line); reloaded on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub whitelist: Option<PathBuf>,
    /// Private mode: passkeys, one a line, used as /announce/<key>; reloaded on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub passkeys: Option<PathBuf>,
    /// Keep the swarm across restarts in this file (written at exit and periodically).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Announce interval in seconds.
    #[arg(long)]
    pub interval: Option<u32>,
    /// Most torrents tracked (the smallest of a random few is evicted beyond it).
    #[arg(long)]
    pub max_torrents: Option<usize>,
    /// Most peers per torrent (a random one is evicted beyond it).
    #[arg(long)]
    pub max_peers_per_torrent: Option<usize>,
    /// Most peers returned in one reply.
    #[arg(long)]
    pub numwant_max: Option<usize>,
    /// Use the `ip` announce parameter instead of the source address.
    #[arg(long)]
    pub trust_ip_param: bool,
    /// UDP worker threads.
    #[arg(long)]
    pub udp_threads: Option<usize>,
    /// Microseconds a UDP worker polls without sleeping after the last datagram (0: never).
    #[arg(long)]
    pub udp_busy_poll_us: Option<u64>,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long)]
    pub log_level: Option<String>,
}

/// Effective settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP listen address; `None` disables HTTP.
    pub http: Option<SocketAddr>,
    /// UDP listen address; `None` disables UDP.
    pub udp: Option<SocketAddr>,
    /// Whitelist file.
    pub whitelist: Option<PathBuf>,
    /// Passkey file (private mode).
    pub passkeys: Option<PathBuf>,
    /// Snapshot file.
    pub snapshot: Option<PathBuf>,
    /// Seconds between periodic snapshots (0: only at exit).
    pub snapshot_interval: u64,
    /// Announce interval in seconds.
    pub interval: u32,
    /// Minimum announce interval in seconds.
    pub min_interval: u32,
    /// Seconds a peer stays listed after its last announce.
    pub peer_ttl: u32,
    /// Seconds between expiry sweeps.
    pub cleanup_interval: u64,
    /// Peers returned when the client does not say.
    pub numwant_default: usize,
    /// Most peers returned in one reply.
    pub numwant_max: usize,
    /// Most torrents tracked.
    pub max_torrents: usize,
    /// Most peers per torrent.
    pub max_peers_per_torrent: usize,
    /// Use the announced `ip` parameter (only behind a trusted proxy or in a lab).
    pub trust_ip_param: bool,
    /// Behind a reverse proxy: the client address is the rightmost
    /// `X-Forwarded-For` entry (the one the proxy appended; entries left of
    /// it are the client's own claims).
    pub trust_forwarded_for: bool,
    /// Behind a reverse proxy that overwrites `X-Real-IP`: take the client
    /// address from it (wins over `trust_forwarded_for`).
    pub trust_real_ip: bool,
    /// Addresses that may read `/metrics` (the connection's own address);
    /// empty: anyone who can reach the HTTP port.
    pub metrics_allow: Vec<std::net::IpAddr>,
    /// UDP worker threads sharing the socket.
    pub udp_threads: usize,
    /// UDP socket receive buffer in bytes (the kernel may cap it).
    pub udp_recv_buffer: usize,
    /// Microseconds a UDP worker keeps polling without sleeping after the last
    /// datagram (0: always block). Trades idle CPU for latency under load.
    pub udp_busy_poll_us: u64,
    /// Most concurrent HTTP connections.
    pub max_http_connections: usize,
    /// Seconds an idle HTTP connection is kept.
    pub http_idle_timeout: u64,
    /// Log level.
    pub log_level: String,
}

impl Default for Config {
    fn default() -> Self {
        let local: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 6969));
        Config {
            http: Some(local),
            udp: Some(local),
            whitelist: None,
            passkeys: None,
            snapshot: None,
            snapshot_interval: 300,
            interval: 1800,
            min_interval: 900,
            peer_ttl: 2 * 1800 + 300,
            cleanup_interval: 60,
            numwant_default: 50,
            numwant_max: 200,
            max_torrents: 2_000_000,
            max_peers_per_torrent: 100_000,
            trust_ip_param: false,
            trust_forwarded_for: false,
            trust_real_ip: false,
            metrics_allow: Vec::new(),
            udp_threads: 1,
            udp_recv_buffer: 8 << 20,
            udp_busy_poll_us: 0,
            max_http_connections: 4096,
            http_idle_timeout: 30,
            log_level: "info".into(),
        }
    }
}

/// Why the settings are unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("reading {0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The config file is not valid TOML for [`Config`].
    #[error("parsing {0}: {1}")]
    Parse(PathBuf, String),
    /// Values that contradict each other.
    #[error("invalid configuration: {0}")]
    Invalid(&'static str),
}

impl Config {
    /// Builds the effective settings from flags and the optional file.
    pub fn from_args(args: &TrackerArgs) -> Result<Config, ConfigError> {
        let mut c = match &args.config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError::Io(p.clone(), e))?;
                toml::from_str::<Config>(&text)
                    .map_err(|e| ConfigError::Parse(p.clone(), e.to_string()))?
            }
            None => Config::default(),
        };
        if args.http.is_some() {
            c.http = args.http;
        }
        if args.udp.is_some() {
            c.udp = args.udp;
        }
        if args.no_http {
            c.http = None;
        }
        if args.no_udp {
            c.udp = None;
        }
        c.whitelist = args.whitelist.clone().or(c.whitelist);
        c.passkeys = args.passkeys.clone().or(c.passkeys);
        c.snapshot = args.snapshot.clone().or(c.snapshot);
        if let Some(i) = args.interval {
            c.interval = i;
            c.min_interval = c.min_interval.min(i);
            c.peer_ttl = i.saturating_mul(2).saturating_add(60);
        }
        c.max_torrents = args.max_torrents.unwrap_or(c.max_torrents);
        c.max_peers_per_torrent = args
            .max_peers_per_torrent
            .unwrap_or(c.max_peers_per_torrent);
        c.numwant_max = args.numwant_max.unwrap_or(c.numwant_max);
        c.trust_ip_param |= args.trust_ip_param;
        c.udp_threads = args.udp_threads.unwrap_or(c.udp_threads);
        c.udp_busy_poll_us = args.udp_busy_poll_us.unwrap_or(c.udp_busy_poll_us);
        if let Some(l) = &args.log_level {
            c.log_level = l.clone();
        }
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.http.is_none() && self.udp.is_none() {
            return Err(ConfigError::Invalid("both HTTP and UDP are off"));
        }
        if self.max_torrents == 0 || self.max_peers_per_torrent == 0 || self.udp_threads == 0 {
            return Err(ConfigError::Invalid(
                "limits and thread counts must be positive",
            ));
        }
        if self.interval == 0 || self.peer_ttl < self.interval {
            return Err(ConfigError::Invalid(
                "peer_ttl must be at least interval, interval positive",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.toml");
        std::fs::write(&f, "udp = \"127.0.0.1:7000\"\ninterval = 600\nmin_interval = 60\npeer_ttl = 1300\nnumwant_max = 30\n").unwrap();
        let args = TrackerArgs {
            config: Some(f.clone()),
            numwant_max: Some(10),
            no_http: true,
            ..Default::default()
        };
        let c = Config::from_args(&args).unwrap();
        assert_eq!(
            (c.http, c.udp),
            (None, Some("127.0.0.1:7000".parse().unwrap()))
        );
        assert_eq!(
            (c.interval, c.min_interval, c.peer_ttl, c.numwant_max),
            (600, 60, 1300, 10)
        );
        std::fs::write(&f, "bogus = 1\n").unwrap();
        assert!(matches!(
            Config::from_args(&args),
            Err(ConfigError::Parse(..))
        ));
        let off = TrackerArgs {
            no_http: true,
            no_udp: true,
            ..Default::default()
        };
        assert!(matches!(
            Config::from_args(&off),
            Err(ConfigError::Invalid(_))
        ));
    }
}
