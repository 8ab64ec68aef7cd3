//! Request parameters as qBittorrent's WebAPI takes them: the query string,
//! `application/x-www-form-urlencoded` bodies, and `multipart/form-data`
//! bodies carrying .torrent files. Bodies arrive already size-capped.

/// Most parameters read from one request.
const MAX_FIELDS: usize = 256;
/// Most files in one multipart body.
const MAX_FILES: usize = 64;

/// The parameters of one request.
#[derive(Debug, Default)]
pub(super) struct Form {
    /// Name/value pairs, in order.
    pub fields: Vec<(String, String)>,
    /// Uploaded files: (field name, bytes).
    pub files: Vec<(String, Vec<u8>)>,
}

impl Form {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`false`, as qBittorrent sends them).
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.get(name)
            .map(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }

    /// `hashes`: `|`-separated info-hashes, or `all`.
    pub fn hashes(&self) -> Vec<String> {
        self.get("hashes")
            .or_else(|| self.get("hash"))
            .map(|h| h.split('|').map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Adds the pairs of a urlencoded string.
    pub fn add_urlencoded(&mut self, text: &str) {
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            if self.fields.len() >= MAX_FIELDS {
                return;
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            self.fields.push((decode(k), decode(v)));
        }
    }

    /// Adds the parts of a multipart body with this boundary; files are
    /// parts with a `filename`.
    pub fn add_multipart(&mut self, body: &[u8], boundary: &str) -> Result<(), String> {
        let delimiter = format!("--{boundary}");
        let mut parts = split(body, delimiter.as_bytes());
        // Before the first delimiter: a preamble, ignored.
        parts.next();
        for part in parts {
            if part.starts_with(b"--") {
                break;
            }
            let part = part.strip_prefix(b"\r\n").unwrap_or(part);
            let part = part.strip_suffix(b"\r\n").unwrap_or(part);
            let Some(split_at) = find(part, b"\r\n\r\n") else {
                return Err("a multipart part without headers".into());
            };
            let head = part.get(..split_at).unwrap_or_default();
            let content = part.get(split_at + 4..).unwrap_or_default();
            let head = String::from_utf8_lossy(head);
            let disposition = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
                .unwrap_or_default();
            let name = param(disposition, "name").unwrap_or_default();
            if param(disposition, "filename").is_some() {
                if self.files.len() >= MAX_FILES {
                    return Err(format!("at most {MAX_FILES} files"));
                }
                self.files.push((name, content.to_vec()));
            } else if self.fields.len() < MAX_FIELDS {
                self.fields
                    .push((name, String::from_utf8_lossy(content).into_owned()));
            }
        }
        Ok(())
    }
}

/// `key="value"` (or unquoted) from a header's parameters.
fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The boundary of a `multipart/form-data` content type.
pub(super) fn boundary(content_type: &str) -> Option<String> {
    content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
        .then(|| param(content_type, "boundary"))
        .flatten()
        .filter(|b| !b.is_empty() && b.len() <= 200)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `body` split at each `delimiter`.
fn split<'a>(body: &'a [u8], delimiter: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        let now = rest?;
        match find(now, delimiter) {
            Some(at) => {
                rest = now.get(at + delimiter.len()..);
                now.get(..at)
            }
            None => {
                rest = None;
                Some(now)
            }
        }
    })
}

/// Percent-decoding with `+` as space; invalid escapes are kept as they are.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(v) = hex {
                    out.push(v);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_pairs_are_decoded() {
        let mut f = Form::default();
        f.add_urlencoded("urls=magnet%3A%3Fxt%3Dx&category=tv+shows&paused=true&bad=%zz");
        assert_eq!(f.get("urls"), Some("magnet:?xt=x"));
        assert_eq!(f.get("category"), Some("tv shows"));
        assert_eq!(f.flag("paused"), Some(true));
        assert_eq!(f.get("bad"), Some("%zz"));
    }

    #[test]
    fn multipart_fields_and_files_are_split() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\ntv\r\n--XyZ\r\nContent-Disposition: form-data; name=\"torrents\"; filename=\"a.torrent\"\r\nContent-Type: application/x-bittorrent\r\n\r\nd4:infoe\r\n--XyZ--\r\n";
        let mut f = Form::default();
        f.add_multipart(body, "XyZ").unwrap();
        assert_eq!(f.get("category"), Some("tv"));
        assert_eq!(f.files, vec![("torrents".to_owned(), b"d4:infoe".to_vec())]);
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ\"").as_deref(),
            Some("XyZ")
        );
        let mut bad = Form::default();
        assert!(bad.add_multipart(b"--XyZ\r\nno headers", "XyZ").is_err());
    }
}
