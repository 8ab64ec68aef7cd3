//! Daemon settings: built-in defaults, then a TOML file, then `SHOAL_*`
//! environment variables, then command-line flags (each overrides the last).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::DaemonError;

/// Default address of the HTTP API (Transmission's port, so
/// `transmission-remote` works with no arguments).
pub const DEFAULT_RPC: &str = "127.0.0.1:9091";

/// Everything the daemon can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// Torrents list, per-torrent options and resume data.
    pub state_dir: PathBuf,
    /// Where torrents download unless told otherwise.
    pub download_dir: PathBuf,
    /// Address peers connect to.
    pub listen: SocketAddr,
    /// A second address peers connect to, of the other family (dual
    /// stack), on `listen`'s port (0: the same).
    pub listen_also: Option<SocketAddr>,
    /// Address of the web UI, the JSON API and the Transmission RPC.
    pub rpc: SocketAddr,
    /// User name for HTTP basic auth (required with `password` when `rpc`
    /// is not a loopback address).
    pub username: Option<String>,
    /// Password for HTTP basic auth.
    pub password: Option<String>,
    /// Key accepted as `Authorization: Bearer <key>` by the qBittorrent
    /// WebAPI (qBittorrent 5.2's API keys); at least 16 characters.
    pub api_key: Option<String>,
    /// Host names accepted in the `Host` header besides `localhost` and IP
    /// literals (a guard against DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// Session-wide upload limit, bytes per second.
    pub max_upload: Option<u64>,
    /// Session-wide download limit, bytes per second.
    pub max_download: Option<u64>,
    /// A directory watched for new .torrent files, which are added and
    /// renamed to `*.torrent.added`.
    pub watch_dir: Option<PathBuf>,
    /// Largest request body accepted, bytes (uploads of .torrent files).
    pub max_body: usize,
    /// Seconds a client has to send a whole request body (a body trickled
    /// slowly would otherwise hold one of the 256 connections for ever).
    pub body_timeout: u64,
    /// Most peer connections per torrent.
    pub max_peers: usize,
    /// Most torrents downloading at once; more wait in the queue (0: no limit).
    pub max_active_downloads: usize,
    /// Most torrents seeding at once; more wait in the queue (0: no limit).
    pub max_active_seeds: usize,
    /// Most start checks (resume data read, or data hashed) at once; more
    /// show as queued for check until a slot frees (0: twice the core
    /// count, which is also the most the session runs).
    pub max_active_checks: usize,
    /// Add new torrents paused.
    pub start_paused: bool,
    /// Run a DHT node (on the peer port, UDP) to find peers and magnet
    /// links' metadata without trackers.
    pub dht: bool,
    /// Map the peer port on the router (PCP, NAT-PMP, UPnP IGD) so peers
    /// outside can connect in; never on a loopback `listen` address.
    pub port_mapping: bool,
    /// Find peers on the local network (BEP 14 local service discovery);
    /// never on a loopback `listen` address.
    pub lsd: bool,
    /// DHT nodes to bootstrap from, `HOST:PORT` (empty: the public routers).
    pub dht_bootstrap: Vec<String>,
    /// Encryption (MSE/PE) of peer connections: `prefer`, `require`,
    /// `allow` or `disable`; a policy set through an API overrides it.
    #[serde(deserialize_with = "policy")]
    pub encryption: shoal_session::EncryptionPolicy,
    /// Dial and accept uTP (BEP 29) peers on the peer port (UDP).
    pub utp: bool,
    /// Dial and accept TCP peers; `utp` and `tcp` cannot both be off.
    pub tcp: bool,
    /// Seconds between lookups of the key of each torrent added by a BEP 46
    /// (`urn:btpk`) link, at least [`MIN_FOLLOW_INTERVAL`].
    pub follow_interval: u64,
    /// Seconds a complete torrent stays without peers before its engine
    /// sleeps (under half its memory, woken by the next peer).
    pub engine_sleep_after: u64,
}

/// The shortest `follow_interval` allowed, seconds (tests and private
/// DHTs use short ones; the default of 30 min suits the public DHT, where
/// items live for 2 h and publishers re-put every 30 min).
pub const MIN_FOLLOW_INTERVAL: u64 = 1;

/// Reads an encryption policy by its name.
fn policy<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<shoal_session::EncryptionPolicy, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(serde::de::Error::custom)
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            state_dir: xdg_dir("XDG_STATE_HOME", ".local/state").join("shoal/daemon"),
            download_dir: download_dir(),
            listen: SocketAddr::from(([0, 0, 0, 0], 51413)),
            listen_also: None,
            rpc: SocketAddr::from(([127, 0, 0, 1], 9091)),
            username: None,
            password: None,
            api_key: None,
            allowed_hosts: Vec::new(),
            max_upload: None,
            max_download: None,
            watch_dir: None,
            max_body: 16 << 20,
            body_timeout: 60,
            max_peers: 80,
            max_active_downloads: 0,
            max_active_seeds: 0,
            max_active_checks: 0,
            start_paused: false,
            dht: true,
            port_mapping: true,
            lsd: true,
            dht_bootstrap: Vec::new(),
            encryption: shoal_session::EncryptionPolicy::default(),
            utp: true,
            tcp: true,
            follow_interval: 30 * 60,
            engine_sleep_after: 60,
        }
    }
}

/// `$VAR`, else `~/fallback`, else the current directory.
fn xdg_dir(var: &str, fallback: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(var).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(fallback);
    }
    PathBuf::from(".")
}

fn download_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DOWNLOAD_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join("Downloads"),
        None => std::env::temp_dir().join("shoal-downloads"),
    }
}

/// The config file read when none is named: `$XDG_CONFIG_HOME/shoal/daemon.toml`.
pub fn default_config_file() -> PathBuf {
    xdg_dir("XDG_CONFIG_HOME", ".config").join("shoal/daemon.toml")
}

impl DaemonConfig {
    /// Defaults, overridden by `file` (if given; a missing default file is
    /// fine, a missing named file is not), then by the environment.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, DaemonError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => {
                let path = default_config_file();
                if path.exists() {
                    Self::from_file(&path)?
                } else {
                    DaemonConfig::default()
                }
            }
        };
        config.apply_env(env)?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Self, DaemonError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| DaemonError::io(format!("reading {}", path.display()), e))?;
        toml::from_str(&text).map_err(|e| DaemonError::Config(format!("{}: {e}", path.display())))
    }

    /// Applies `SHOAL_STATE_DIR`, `SHOAL_DOWNLOAD_DIR`, `SHOAL_LISTEN`,
    /// `SHOAL_RPC`, `SHOAL_USERNAME`, `SHOAL_PASSWORD`, `SHOAL_API_KEY`,
    /// `SHOAL_WATCH_DIR`, `SHOAL_ENCRYPTION`, `SHOAL_UTP`, `SHOAL_TCP`.
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), DaemonError> {
        let get = |name: &str| env(name).filter(|v| !v.is_empty());
        if let Some(v) = get("SHOAL_STATE_DIR") {
            self.state_dir = v.into();
        }
        if let Some(v) = get("SHOAL_DOWNLOAD_DIR") {
            self.download_dir = v.into();
        }
        if let Some(v) = get("SHOAL_LISTEN") {
            self.listen = parse_addr("SHOAL_LISTEN", &v)?;
        }
        if let Some(v) = get("SHOAL_RPC") {
            self.rpc = parse_addr("SHOAL_RPC", &v)?;
        }
        if let Some(v) = get("SHOAL_USERNAME") {
            self.username = Some(v);
        }
        if let Some(v) = get("SHOAL_PASSWORD") {
            self.password = Some(v);
        }
        if let Some(v) = get("SHOAL_API_KEY") {
            self.api_key = Some(v);
        }
        if let Some(v) = get("SHOAL_WATCH_DIR") {
            self.watch_dir = Some(v.into());
        }
        if let Some(v) = get("SHOAL_ENCRYPTION") {
            self.encryption = v
                .parse()
                .map_err(|e| DaemonError::Config(format!("SHOAL_ENCRYPTION: {e}")))?;
        }
        if let Some(v) = get("SHOAL_UTP") {
            self.utp = parse_switch("SHOAL_UTP", &v)?;
        }
        if let Some(v) = get("SHOAL_TCP") {
            self.tcp = parse_switch("SHOAL_TCP", &v)?;
        }
        Ok(())
    }

    /// Refuses settings that would be unsafe or cannot work.
    pub fn validate(&self) -> Result<(), DaemonError> {
        let has_credentials = self.username.as_deref().is_some_and(|u| !u.is_empty())
            && self.password.as_deref().is_some_and(|p| !p.is_empty());
        if !self.rpc.ip().is_loopback() && !has_credentials {
            return Err(DaemonError::Config(format!(
                "the API address {} is reachable from other machines: set username and password",
                self.rpc
            )));
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(DaemonError::Config(
                "username and password go together".into(),
            ));
        }
        if self.api_key.as_ref().is_some_and(|k| k.len() < 16) {
            return Err(DaemonError::Config(
                "api_key must have at least 16 characters".into(),
            ));
        }
        if !self.download_dir.is_absolute() {
            return Err(DaemonError::Config(format!(
                "download_dir must be an absolute path, not {}",
                self.download_dir.display()
            )));
        }
        if self.max_body < 1024 {
            return Err(DaemonError::Config("max_body is below 1024 bytes".into()));
        }
        if !self.utp && !self.tcp {
            return Err(DaemonError::Config(
                "utp and tcp cannot both be off: peers could not connect".into(),
            ));
        }
        if self.follow_interval < MIN_FOLLOW_INTERVAL {
            return Err(DaemonError::Config(format!(
                "follow_interval must be at least {MIN_FOLLOW_INTERVAL} s"
            )));
        }
        if self.body_timeout == 0 {
            return Err(DaemonError::Config(
                "body_timeout must be at least 1 s".into(),
            ));
        }
        Ok(())
    }
}

/// `true`/`false` (also `1`/`0`, `on`/`off`, `yes`/`no`).
fn parse_switch(name: &str, value: &str) -> Result<bool, DaemonError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(DaemonError::Config(format!(
            "{name}: {value:?} is not true or false"
        ))),
    }
}

fn parse_addr(name: &str, value: &str) -> Result<SocketAddr, DaemonError> {
    value
        .parse()
        .map_err(|_| DaemonError::Config(format!("{name}: {value:?} is not an ADDR:PORT")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.toml");
        std::fs::write(
            &path,
            "rpc = \"127.0.0.1:1234\"\ndownload_dir = \"/srv/dl\"\nmax_upload = 1000\n",
        )
        .unwrap();
        let env = |k: &str| (k == "SHOAL_RPC").then(|| "127.0.0.1:5678".to_owned());
        let c = DaemonConfig::load(Some(&path), &env).unwrap();
        assert_eq!(c.rpc, "127.0.0.1:5678".parse().unwrap());
        assert_eq!(c.download_dir, PathBuf::from("/srv/dl"));
        assert_eq!(c.max_upload, Some(1000));
        c.validate().unwrap();
    }

    #[test]
    fn follow_interval_has_a_default_and_a_minimum() {
        assert_eq!(DaemonConfig::default().follow_interval, 1800);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.toml");
        std::fs::write(&path, "download_dir = \"/srv\"\nfollow_interval = 0\n").unwrap();
        let c = DaemonConfig::load(Some(&path), &|_| None).unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("follow_interval")
        );
    }

    #[test]
    fn port_mapping_and_lsd_are_on_unless_turned_off() {
        let d = DaemonConfig::default();
        assert!(d.port_mapping && d.lsd);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.toml");
        std::fs::write(&path, "port_mapping = false\nlsd = false\n").unwrap();
        let c = DaemonConfig::load(Some(&path), &|_| None).unwrap();
        assert!(!c.port_mapping && !c.lsd);
    }

    #[test]
    fn transports_come_from_env_and_cannot_both_be_off() {
        let env = |k: &str| (k == "SHOAL_UTP").then(|| "off".to_owned());
        let c = DaemonConfig::load(None, &env).unwrap();
        assert!(!c.utp && c.tcp);
        let both = |k: &str| matches!(k, "SHOAL_UTP" | "SHOAL_TCP").then(|| "0".to_owned());
        let err = DaemonConfig::load(None, &both).unwrap().validate();
        assert!(err.unwrap_err().to_string().contains("cannot both be off"));
        let bad = |k: &str| (k == "SHOAL_TCP").then(|| "maybe".to_owned());
        assert!(DaemonConfig::load(None, &bad).is_err());
    }

    #[test]
    fn encryption_is_read_by_name_and_bad_names_refused() {
        use shoal_session::EncryptionPolicy;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.toml");
        std::fs::write(&path, "encryption = \"require\"\n").unwrap();
        let c = DaemonConfig::load(Some(&path), &|_| None).unwrap();
        assert_eq!(c.encryption, EncryptionPolicy::Require);
        let env = |k: &str| (k == "SHOAL_ENCRYPTION").then(|| "disable".to_owned());
        let c = DaemonConfig::load(Some(&path), &env).unwrap();
        assert_eq!(c.encryption, EncryptionPolicy::Disable);
        std::fs::write(&path, "encryption = \"forced\"\n").unwrap();
        assert!(DaemonConfig::load(Some(&path), &|_| None).is_err());
        assert_eq!(DaemonConfig::default().encryption, EncryptionPolicy::Prefer);
    }

    #[test]
    fn unknown_keys_and_open_binds_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.toml");
        std::fs::write(&path, "rcp = \"127.0.0.1:1\"\n").unwrap();
        assert!(DaemonConfig::load(Some(&path), &|_| None).is_err());
        let c = DaemonConfig {
            rpc: "0.0.0.0:9091".parse().unwrap(),
            download_dir: "/tmp".into(),
            ..DaemonConfig::default()
        };
        assert!(c.validate().is_err());
        let c = DaemonConfig {
            username: Some("u".into()),
            password: Some("p".into()),
            ..c
        };
        c.validate().unwrap();
    }
}
