//! Compact file paths: the paths of one torrent share a single string arena.
//!
//! A `Vec<String>` per file cost a vector and a heap string per element (a
//! 400,000-file torrent kept 98 MB after parsing); here a file's path is a
//! shared pointer and a span, and the arena holds each path once, its elements
//! joined with `/` (an element never contains `/`: the path rules replace it).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;

/// A sanitised relative path, elements joined with `/`, in a shared arena.
#[derive(Clone)]
pub struct FilePath {
    arena: Arc<str>,
    start: u32,
    end: u32,
}

impl FilePath {
    /// A path of its own (an arena of one), from already sanitised elements.
    pub fn new<S: AsRef<str>>(elements: impl IntoIterator<Item = S>) -> FilePath {
        let mut arena = PathArena::default();
        let mut path = arena.push(elements);
        path.arena = Arc::from(arena.buf);
        path
    }

    /// The elements joined with `/`.
    pub fn as_str(&self) -> &str {
        self.arena
            .get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    /// The path's elements, in order.
    pub fn elements(&self) -> std::str::Split<'_, char> {
        self.as_str().split('/')
    }

    /// Number of elements.
    pub fn depth(&self) -> usize {
        self.elements().count()
    }

    /// The path as a relative `PathBuf`.
    pub fn to_path_buf(&self) -> PathBuf {
        self.elements().collect()
    }

    /// Each proper ancestor directory (`a`, then `a/b` for `a/b/c`), as the
    /// same `/`-joined text.
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        let s = self.as_str();
        s.match_indices('/').filter_map(move |(i, _)| s.get(..i))
    }
}

impl PartialEq for FilePath {
    fn eq(&self, other: &FilePath) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for FilePath {}

impl Hash for FilePath {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds the arena while a file list is parsed: paths pushed here point at
/// an empty placeholder until [`PathArena::seal`] hands them the arena.
pub(crate) struct PathArena {
    buf: String,
    placeholder: Arc<str>,
}

impl Default for PathArena {
    fn default() -> PathArena {
        PathArena {
            buf: String::new(),
            placeholder: Arc::from(""),
        }
    }
}

impl PathArena {
    /// Appends one path; usable only after [`PathArena::seal`].
    pub(crate) fn push<S: AsRef<str>>(
        &mut self,
        elements: impl IntoIterator<Item = S>,
    ) -> FilePath {
        let start = self.buf.len();
        for (i, element) in elements.into_iter().enumerate() {
            if i > 0 {
                self.buf.push('/');
            }
            self.buf.push_str(element.as_ref());
        }
        // The arena is bounded by the info dictionary (at most 32 MiB) plus a
        // `/` and the torrent's name per file, far below 4 GiB; saturating
        // keeps a hypothetical overflow an empty path rather than a panic.
        let offset = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        FilePath {
            arena: Arc::clone(&self.placeholder),
            start: offset(start),
            end: offset(self.buf.len()),
        }
    }

    /// Freezes the arena and points every path of `paths` at it.
    pub(crate) fn seal<'p>(self, paths: impl IntoIterator<Item = &'p mut FilePath>) {
        let arena: Arc<str> = Arc::from(self.buf);
        for path in paths {
            path.arena = Arc::clone(&arena);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_share_one_arena() {
        let mut arena = PathArena::default();
        let mut a = arena.push(["t", "dir", "a.bin"]);
        let mut b = arena.push(["t", "b.bin"]);
        arena.seal([&mut a, &mut b]);
        assert_eq!(a.as_str(), "t/dir/a.bin");
        assert_eq!(b.as_str(), "t/b.bin");
        assert!(Arc::ptr_eq(&a.arena, &b.arena));
        assert_eq!(a.depth(), 3);
        assert_eq!(a.ancestors().collect::<Vec<_>>(), ["t", "t/dir"]);
        assert_eq!(b.elements().collect::<Vec<_>>(), ["t", "b.bin"]);
        assert_eq!(
            a.to_path_buf(),
            PathBuf::from("t").join("dir").join("a.bin")
        );
        assert_eq!(FilePath::new(["t", "b.bin"]), b);
        assert_eq!(FilePath::new(["x"]).ancestors().count(), 0);
    }
}
