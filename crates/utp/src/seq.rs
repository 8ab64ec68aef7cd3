//! 16-bit sequence and ack numbers compared with wrap-around (serial
//! number arithmetic): `a` is before `b` when `b - a`, wrapped, is in
//! `1..32768`.

/// Whether `a` comes strictly before `b` in wrapping sequence order.
#[inline]
pub fn lt(a: u16, b: u16) -> bool {
    (b.wrapping_sub(a) as i16) > 0
}

/// Whether `a` comes at or before `b` in wrapping sequence order.
#[inline]
pub fn le(a: u16, b: u16) -> bool {
    a == b || lt(a, b)
}

/// How far `b` is ahead of `a` (negative when behind), wrapping.
#[inline]
pub fn diff(a: u16, b: u16) -> i32 {
    i32::from(b.wrapping_sub(a) as i16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around() {
        assert!(lt(65535, 0));
        assert!(lt(65530, 3));
        assert!(!lt(3, 65530));
        assert!(le(7, 7));
        assert!(!lt(7, 7));
        assert_eq!(diff(65535, 1), 2);
        assert_eq!(diff(1, 65535), -2);
    }
}
