//! ed25519 key files for BEP 44 items and BEP 46 publishing: the 32-byte
//! seed as 64 hex digits, created from the OS's randomness with mode 0600
//! when missing. The secret is never printed; only the public key is.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use shoal_dht::ItemKey;

/// Reads the key in `path`, or creates it there when the file is absent;
/// says which on stderr with the public key.
pub fn load_or_create(path: &Path) -> anyhow::Result<ItemKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = parse(text.trim())
                .with_context(|| format!("{} is not a shoal key file", path.display()))?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = ItemKey::generate().context("the OS gave no randomness for a key")?;
            write_new(path, &key)?;
            eprintln!(
                "created key {} (public key {})",
                path.display(),
                hex(&key.public())
            );
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading key {}", path.display())),
    }
}

fn parse(text: &str) -> Option<ItemKey> {
    let seed: [u8; 32] = unhex(text)?.try_into().ok()?;
    Some(ItemKey::from_seed(seed))
}

fn write_new(path: &Path, key: &ItemKey) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    // create_new: never overwrite a key someone else's items depend on.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating key {}", path.display()))?;
    writeln!(file, "{}", hex(&key.seed()))?;
    file.sync_all()?;
    Ok(())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of an even-length hex string.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_0600_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a.public(), b.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "zz").unwrap();
        assert!(load_or_create(&path).is_err());
        assert_eq!(unhex("0aff"), Some(vec![10, 255]));
        assert_eq!(unhex("0"), None);
    }
}
