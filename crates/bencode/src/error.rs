//! Decode errors: `Incomplete` (wait for more bytes) apart from real faults.

/// Why a decode failed. Positions are byte offsets into the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends inside a value; more bytes may complete it.
    #[error("input ends inside a value")]
    Incomplete,
    /// A byte that cannot start or continue a value here.
    #[error("unexpected byte 0x{byte:02x} at offset {pos}")]
    UnexpectedByte {
        /// Offset of the byte.
        pos: usize,
        /// The byte found.
        byte: u8,
    },
    /// An integer (or string length) with no digits.
    #[error("empty integer at offset {pos}")]
    EmptyInteger {
        /// Offset of the integer.
        pos: usize,
    },
    /// An integer or string length written with a leading zero.
    #[error("leading zero in integer at offset {pos}")]
    LeadingZero {
        /// Offset of the integer.
        pos: usize,
    },
    /// The integer `-0`.
    #[error("negative zero at offset {pos}")]
    NegativeZero {
        /// Offset of the integer.
        pos: usize,
    },
    /// An integer outside the signed 64-bit range.
    #[error("integer out of range at offset {pos}")]
    IntegerOverflow {
        /// Offset of the integer.
        pos: usize,
    },
    /// A dictionary key that is not a byte string.
    #[error("dictionary key is not a string at offset {pos}")]
    NonStringKey {
        /// Offset of the key.
        pos: usize,
    },
    /// Strict mode: a key not greater than the one before it.
    #[error("dictionary key out of order at offset {pos}")]
    UnsortedKey {
        /// Offset of the key.
        pos: usize,
    },
    /// Strict mode: the same key twice in one dictionary.
    #[error("duplicate dictionary key at offset {pos}")]
    DuplicateKey {
        /// Offset of the second key.
        pos: usize,
    },
    /// A byte string longer than [`crate::Limits::max_string`].
    #[error("string of {len} bytes at offset {pos} exceeds the limit")]
    StringTooLong {
        /// Offset of the string.
        pos: usize,
        /// Declared length.
        len: u64,
    },
    /// Nesting deeper than [`crate::Limits::max_depth`].
    #[error("nesting deeper than {max} at offset {pos}")]
    TooDeep {
        /// Offset of the value that went too deep.
        pos: usize,
        /// The limit.
        max: usize,
    },
    /// More values than [`crate::Limits::max_tokens`].
    #[error("more than {max} values")]
    TooManyTokens {
        /// The limit.
        max: usize,
    },
    /// Input longer than [`crate::Limits::max_input`].
    #[error("input of {len} bytes exceeds the limit of {max}")]
    InputTooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes after the one top-level value.
    #[error("trailing data at offset {pos}")]
    TrailingData {
        /// Offset of the first byte after the value.
        pos: usize,
    },
}

impl DecodeError {
    /// True when more input might turn this into a success.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, DecodeError::Incomplete)
    }
}
