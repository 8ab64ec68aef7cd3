//! Explicit bounds on what the decoder accepts.

/// How strictly the decoder follows BEP 3's canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Reject non-canonical input: unsorted or duplicate keys, leading zeros, `-0`.
    #[default]
    Strict,
    /// Accept unsorted dictionary keys and keep the first of duplicate keys;
    /// leading zeros and `-0` are still rejected (no known encoder emits them).
    Lenient,
}

/// Limits that hold for one decode call; every one is checked before memory is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted, in bytes.
    pub max_input: usize,
    /// Deepest nesting of lists and dictionaries.
    pub max_depth: usize,
    /// Most values (integers, strings, lists, dictionaries) in one input.
    pub max_tokens: usize,
    /// Longest single byte string.
    pub max_string: usize,
    /// Reading mode.
    pub mode: Mode,
}

impl Limits {
    /// Defaults sized for .torrent files: 64 MiB, depth 64, 4 Mi values.
    pub const TORRENT: Limits = Limits {
        max_input: 64 << 20,
        max_depth: 64,
        max_tokens: 4 << 20,
        max_string: 64 << 20,
        mode: Mode::Lenient,
    };

    /// Defaults sized for network messages (KRPC, tracker replies, extension messages).
    pub const MESSAGE: Limits = Limits {
        max_input: 1 << 20,
        max_depth: 16,
        max_tokens: 16 << 10,
        max_string: 1 << 20,
        mode: Mode::Lenient,
    };

    /// The same limits in another mode.
    pub const fn with_mode(self, mode: Mode) -> Limits {
        Limits { mode, ..self }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::MESSAGE.with_mode(Mode::Strict)
    }
}
