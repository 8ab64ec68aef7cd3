//! The decoder: recursive descent bounded by [`Limits`], one pass, no copies.

use crate::{DecodeError, Kind, Limits, Mode, Value};

/// Decodes exactly one value that must span the whole input.
pub fn decode<'a>(input: &'a [u8], limits: &Limits) -> Result<Value<'a>, DecodeError> {
    if input.len() > limits.max_input {
        return Err(DecodeError::InputTooLarge {
            len: input.len(),
            max: limits.max_input,
        });
    }
    let (value, used) = decode_prefix(input, limits)?;
    if used != input.len() {
        return Err(DecodeError::TrailingData { pos: used });
    }
    Ok(value)
}

/// Decodes one value from the start of `input`, returning it and the bytes it used.
///
/// Bytes after the value are left alone, so this suits framed streams.
pub fn decode_prefix<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<(Value<'a>, usize), DecodeError> {
    let window = input.get(..limits.max_input).unwrap_or(input);
    let mut decoder = Decoder {
        input: window,
        pos: 0,
        tokens: 0,
        limits,
        items: Vec::new(),
        entries: Vec::new(),
    };
    match decoder.value(0) {
        Err(DecodeError::Incomplete) if input.len() > limits.max_input => {
            Err(DecodeError::InputTooLarge {
                len: input.len(),
                max: limits.max_input,
            })
        }
        Err(e) => Err(e),
        Ok(value) => Ok((value, decoder.pos)),
    }
}

struct Decoder<'a, 'l> {
    input: &'a [u8],
    pos: usize,
    tokens: usize,
    limits: &'l Limits,
    /// Scratch stacks: a container's children are gathered here and then moved
    /// into a vector of exactly their number. Growing one vector per container
    /// left most of them at twice their size (a 400k-file torrent: ~200 MB of
    /// slack while it was parsed).
    items: Vec<Value<'a>>,
    entries: Vec<(&'a [u8], Value<'a>)>,
}

impl<'a> Decoder<'a, '_> {
    fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::Incomplete)
    }

    fn span(&self, start: usize) -> &'a [u8] {
        self.input.get(start..self.pos).unwrap_or_default()
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        self.tokens += 1;
        if self.tokens > self.limits.max_tokens {
            return Err(DecodeError::TooManyTokens {
                max: self.limits.max_tokens,
            });
        }
        let start = self.pos;
        let kind = match self.peek()? {
            b'i' => {
                self.pos += 1;
                Kind::Int(self.integer(b'e', start)?)
            }
            b'0'..=b'9' => Kind::Bytes(self.string()?),
            b'l' | b'd' if depth >= self.limits.max_depth => {
                return Err(DecodeError::TooDeep {
                    pos: start,
                    max: self.limits.max_depth,
                });
            }
            b'l' => {
                self.pos += 1;
                let mark = self.items.len();
                while self.peek()? != b'e' {
                    let item = self.value(depth + 1)?;
                    self.items.push(item);
                }
                self.pos += 1;
                Kind::List(self.items.drain(mark..).collect())
            }
            b'd' => {
                self.pos += 1;
                Kind::Dict(self.dict_entries(depth)?)
            }
            byte => return Err(DecodeError::UnexpectedByte { pos: start, byte }),
        };
        Ok(Value {
            raw: self.span(start),
            kind,
        })
    }

    fn dict_entries(&mut self, depth: usize) -> Result<Vec<(&'a [u8], Value<'a>)>, DecodeError> {
        let mark = self.entries.len();
        loop {
            let key_pos = self.pos;
            match self.peek()? {
                b'e' => {
                    self.pos += 1;
                    return Ok(self.entries.drain(mark..).collect());
                }
                b'0'..=b'9' => {}
                _ => return Err(DecodeError::NonStringKey { pos: key_pos }),
            }
            let key = self.string()?;
            if self.limits.mode == Mode::Strict {
                if let Some((prev, _)) = self.entries.get(mark..).and_then(<[_]>::last) {
                    match key.cmp(prev) {
                        std::cmp::Ordering::Less => {
                            return Err(DecodeError::UnsortedKey { pos: key_pos });
                        }
                        std::cmp::Ordering::Equal => {
                            return Err(DecodeError::DuplicateKey { pos: key_pos });
                        }
                        std::cmp::Ordering::Greater => {}
                    }
                }
            }
            let value = self.value(depth + 1)?;
            self.entries.push((key, value));
        }
    }

    fn string(&mut self) -> Result<&'a [u8], DecodeError> {
        let pos = self.pos;
        let len = self.integer(b':', pos)?;
        let len =
            u64::try_from(len).map_err(|_| DecodeError::UnexpectedByte { pos, byte: b'-' })?;
        let max = self.limits.max_string as u64;
        if len > max {
            return Err(DecodeError::StringTooLong { pos, len });
        }
        // `len <= max_string`, which is a usize, so this cannot truncate.
        let len = len as usize;
        let end = self.pos.checked_add(len).ok_or(DecodeError::Incomplete)?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or(DecodeError::Incomplete)?;
        self.pos = end;
        Ok(bytes)
    }

    /// Parses `[-]digits` up to `terminator`, which is consumed; errors point at `start`,
    /// where the value (`i…e` or a string's length) begins.
    fn integer(&mut self, terminator: u8, start: usize) -> Result<i64, DecodeError> {
        let negative = self.peek()? == b'-';
        if negative {
            if terminator == b':' {
                return Err(DecodeError::UnexpectedByte {
                    pos: self.pos,
                    byte: b'-',
                });
            }
            self.pos += 1;
        }
        let digits_start = self.pos;
        let mut value: i64 = 0;
        loop {
            let byte = self.peek()?;
            match byte {
                b'0'..=b'9' => {
                    let digit = i64::from(byte - b'0');
                    // Accumulate on the negative side so i64::MIN is representable.
                    value = value
                        .checked_mul(10)
                        .and_then(|v| {
                            if negative {
                                v.checked_sub(digit)
                            } else {
                                v.checked_add(digit)
                            }
                        })
                        .ok_or(DecodeError::IntegerOverflow { pos: start })?;
                    self.pos += 1;
                }
                b if b == terminator => break,
                byte => {
                    return Err(DecodeError::UnexpectedByte {
                        pos: self.pos,
                        byte,
                    });
                }
            }
        }
        let digits = self.pos - digits_start;
        if digits == 0 {
            return Err(DecodeError::EmptyInteger { pos: start });
        }
        if digits > 1 && self.input.get(digits_start) == Some(&b'0') {
            return Err(DecodeError::LeadingZero { pos: start });
        }
        if negative && value == 0 {
            return Err(DecodeError::NegativeZero { pos: start });
        }
        self.pos += 1;
        Ok(value)
    }
}
