//! Access control: the info-hash whitelist and private-mode passkeys, both
//! read from files and swapped atomically on SIGHUP.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use shoal_tracker_proto::InfoHash;

/// Longest passkey accepted in a passkey file or announce path.
pub const MAX_PASSKEY_LEN: usize = 64;

/// Why an access file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line that is not a 40-digit hex info-hash or a valid passkey.
    #[error("{path}:{line}: {what}")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: &'static str,
    },
}

/// The current access rules.
#[derive(Debug, Default, Clone)]
pub struct Access {
    whitelist: Option<HashSet<InfoHash>>,
    passkeys: Option<HashSet<Vec<u8>>>,
}

fn lines(path: &Path) -> Result<Vec<(usize, String)>, AccessError> {
    let text = std::fs::read_to_string(path).map_err(|source| AccessError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim().to_owned()))
        .filter(|(_, l)| !l.is_empty())
        .collect())
}

/// Parses 40 hex digits.
pub fn parse_hex_hash(s: &str) -> Option<InfoHash> {
    let b = s.as_bytes();
    if b.len() != 40 {
        return None;
    }
    let mut h = [0u8; 20];
    for (o, pair) in h.iter_mut().zip(b.chunks_exact(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(h)
}

/// Whether `key` looks like a passkey (URL-safe, bounded).
pub fn valid_passkey(key: &[u8]) -> bool {
    !key.is_empty()
        && key.len() <= MAX_PASSKEY_LEN
        && key
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(b))
}

impl Access {
    /// Loads the whitelist and passkey files; `None` disables that check.
    pub fn load(whitelist: Option<&Path>, passkeys: Option<&Path>) -> Result<Access, AccessError> {
        let mut a = Access::default();
        if let Some(path) = whitelist {
            let mut set = HashSet::new();
            for (line, l) in lines(path)? {
                let h = parse_hex_hash(&l).ok_or_else(|| AccessError::BadLine {
                    path: path.to_owned(),
                    line,
                    what: "not a 40-digit hex info-hash",
                })?;
                set.insert(h);
            }
            a.whitelist = Some(set);
        }
        if let Some(path) = passkeys {
            let mut set = HashSet::new();
            for (line, l) in lines(path)? {
                if !valid_passkey(l.as_bytes()) {
                    return Err(AccessError::BadLine {
                        path: path.to_owned(),
                        line,
                        what: "passkey must be 1-64 of [A-Za-z0-9-_.~]",
                    });
                }
                set.insert(l.into_bytes());
            }
            a.passkeys = Some(set);
        }
        Ok(a)
    }

    /// Whether announces for `h` are served.
    pub fn allows(&self, h: &InfoHash) -> bool {
        self.whitelist.as_ref().is_none_or(|w| w.contains(h))
    }

    /// Whether passkeys are required.
    pub fn private(&self) -> bool {
        self.passkeys.is_some()
    }

    /// Whether a request with this passkey (from `/announce/<key>`) is allowed.
    pub fn passkey_ok(&self, key: Option<&[u8]>) -> bool {
        match (&self.passkeys, key) {
            (None, _) => true,
            (Some(set), Some(k)) => set.contains(k),
            (Some(_), None) => false,
        }
    }

    /// Number of whitelisted hashes and passkeys, for logs.
    pub fn sizes(&self) -> (Option<usize>, Option<usize>) {
        (
            self.whitelist.as_ref().map(HashSet::len),
            self.passkeys.as_ref().map(HashSet::len),
        )
    }
}

/// Splits a tracker path into its endpoint (`announce`/`scrape`/…) and optional
/// passkey: `/announce` → (`announce`, None), `/k3y/announce` and
/// `/announce/k3y` → (`announce`, Some(`k3y`)).
pub fn split_path(path: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mut parts = path.split(|&b| b == b'/').filter(|p| !p.is_empty());
    let (a, b) = (parts.next().unwrap_or(b""), parts.next());
    if parts.next().is_some() {
        return (b"", None);
    }
    match b {
        None => (a, None),
        Some(b) if matches!(b, b"announce" | b"scrape") => (b, Some(a)),
        Some(b) => (a, Some(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(split_path(b"/announce"), (&b"announce"[..], None));
        assert_eq!(
            split_path(b"/announce/abc"),
            (&b"announce"[..], Some(&b"abc"[..]))
        );
        assert_eq!(
            split_path(b"/abc/scrape"),
            (&b"scrape"[..], Some(&b"abc"[..]))
        );
        assert_eq!(split_path(b"/a/b/c").0, b"");
    }

    #[test]
    fn files() {
        let dir = tempfile::tempdir().unwrap();
        let wl = dir.path().join("wl");
        std::fs::write(
            &wl,
            "# comment\n0123456789abcdef0123456789ABCDEF01234567\n\n",
        )
        .unwrap();
        let pk = dir.path().join("pk");
        std::fs::write(&pk, "alice\nbob-2\n").unwrap();
        let a = Access::load(Some(&wl), Some(&pk)).unwrap();
        assert!(a.allows(&parse_hex_hash("0123456789abcdef0123456789abcdef01234567").unwrap()));
        assert!(!a.allows(&[0; 20]));
        assert!(a.passkey_ok(Some(b"bob-2")) && !a.passkey_ok(Some(b"eve")) && !a.passkey_ok(None));
        std::fs::write(&wl, "xyz\n").unwrap();
        assert!(matches!(
            Access::load(Some(&wl), None),
            Err(AccessError::BadLine { line: 1, .. })
        ));
    }
}
