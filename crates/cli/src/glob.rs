//! Shell-style patterns for choosing files: `*` matches within one path
//! element, `**` across elements, `?` one character.

/// Whether `path` (elements joined with `/`) matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    match_from(&p, &s)
}

fn match_from(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) if rest.first() == Some(&'*') => {
            // `**` (and `**/`): any run of characters, slashes included.
            let rest = rest.get(1..).unwrap_or_default();
            let rest = rest.strip_prefix(&['/']).unwrap_or(rest);
            (0..=s.len()).any(|i| match_from(rest, s.get(i..).unwrap_or_default()))
        }
        Some(('*', rest)) => {
            let stop = s.iter().position(|c| *c == '/').unwrap_or(s.len());
            (0..=stop).any(|i| match_from(rest, s.get(i..).unwrap_or_default()))
        }
        Some(('?', rest)) => match s.split_first() {
            Some((c, tail)) if *c != '/' => match_from(rest, tail),
            _ => false,
        },
        Some((c, rest)) => match s.split_first() {
            Some((d, tail)) if d == c => match_from(rest, tail),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns() {
        assert!(matches("*.mkv", "movie.mkv"));
        assert!(!matches("*.mkv", "dir/movie.mkv"));
        assert!(matches("**/*.mkv", "dir/sub/movie.mkv"));
        assert!(matches("**/*.mkv", "movie.mkv"));
        assert!(matches("dir/*", "dir/a"));
        assert!(!matches("dir/*", "dir/a/b"));
        assert!(matches("dir/**", "dir/a/b"));
        assert!(matches("file00?.bin", "file001.bin"));
        assert!(!matches("file00?.bin", "file0012.bin"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
    }
}
