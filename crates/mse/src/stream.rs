//! The RC4 keystream behind [`crate::Cipher`], from one of two maintained
//! implementations that produce the same bytes:
//!
//! - OpenSSL's (the `openssl` feature, on by default): its assembly RC4
//!   runs about 1.8 times as fast per core as the portable one (about 880
//!   against 480 MiB/s of CPU time here), which is most of what an
//!   encrypted transfer costs. OpenSSL 3 keeps RC4 in its `legacy`
//!   provider; it is loaded into a library context of our own, so the
//!   process's default context (and anything else using OpenSSL in it)
//!   does not gain legacy algorithms.
//! - RustCrypto's `rc4` crate: used when the feature is off, or when the
//!   legacy provider cannot be loaded (a system without `legacy.so`).

use rc4::{KeyInit, Rc4, StreamCipher};

/// One keyed RC4 stream.
pub(crate) enum Keystream {
    /// OpenSSL's RC4.
    #[cfg(feature = "openssl")]
    OpenSsl(openssl::cipher_ctx::CipherCtx),
    /// RustCrypto's RC4 (boxed: its 258-byte state would size every
    /// variant).
    Portable(Box<Rc4>),
}

impl Keystream {
    /// RC4 keyed with `key` (1..=256 bytes; MSE's keys are 20), from the
    /// fastest implementation that works here.
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        #[cfg(feature = "openssl")]
        if let Some(ctx) = ossl::keyed(key) {
            return Some(Keystream::OpenSsl(ctx));
        }
        Rc4::new_from_slice(key)
            .ok()
            .map(|rc4| Keystream::Portable(Box::new(rc4)))
    }

    /// The portable implementation alone (tests compare the two).
    #[cfg(test)]
    pub(crate) fn portable(key: &[u8]) -> Option<Self> {
        Rc4::new_from_slice(key)
            .ok()
            .map(|rc4| Keystream::Portable(Box::new(rc4)))
    }

    /// XORs the next `buf.len()` keystream bytes into `buf`.
    pub(crate) fn apply(&mut self, buf: &mut [u8]) {
        match self {
            #[cfg(feature = "openssl")]
            Keystream::OpenSsl(ctx) => ossl::apply(ctx, buf),
            Keystream::Portable(rc4) => rc4.apply_keystream(buf),
        }
    }

    /// Which implementation this is, for logs and benchmarks.
    pub(crate) fn implementation(&self) -> &'static str {
        match self {
            #[cfg(feature = "openssl")]
            Keystream::OpenSsl(_) => "openssl",
            Keystream::Portable(_) => "rc4 crate",
        }
    }
}

/// OpenSSL's RC4 through a library context holding the legacy provider.
#[cfg(feature = "openssl")]
mod ossl {
    use std::sync::OnceLock;

    use openssl::cipher::Cipher;
    use openssl::cipher_ctx::CipherCtx;
    use openssl::lib_ctx::LibCtx;
    use openssl::provider::Provider;

    /// The context, its providers and the fetched cipher; kept for the
    /// life of the process (the cipher refers to the context).
    struct Loaded {
        /// Our own library context.
        _ctx: LibCtx,
        /// `legacy`, where OpenSSL 3 keeps RC4.
        _legacy: Provider,
        /// RC4, fetched once.
        rc4: Cipher,
    }

    /// Loaded on first use; `None` when OpenSSL has no RC4 here.
    static LOADED: OnceLock<Option<Loaded>> = OnceLock::new();

    /// Loads the legacy provider into a fresh context and fetches RC4.
    fn load() -> Option<Loaded> {
        let ctx = LibCtx::new().ok()?;
        let legacy = Provider::try_load(Some(&ctx), "legacy", true).ok()?;
        let rc4 = Cipher::fetch(Some(&ctx), "RC4", None).ok()?;
        Some(Loaded {
            _ctx: ctx,
            _legacy: legacy,
            rc4,
        })
    }

    /// A context keyed with `key`, or `None` if OpenSSL cannot do it.
    pub(super) fn keyed(key: &[u8]) -> Option<CipherCtx> {
        let loaded = LOADED.get_or_init(load).as_ref()?;
        let mut ctx = CipherCtx::new().ok()?;
        ctx.encrypt_init(Some(&loaded.rc4), None, None).ok()?;
        // RC4's default key length is 16; MSE's keys are 20 bytes.
        ctx.set_key_length(key.len()).ok()?;
        ctx.encrypt_init(None, Some(key), None).ok()?;
        // One update proves the context works before the stream relies on it.
        let mut probe = [0u8; 0];
        ctx.cipher_update_inplace(&mut probe, 0).ok()?;
        Some(ctx)
    }

    /// The most bytes one OpenSSL call takes (its length is a C `int`).
    const MAX_CALL: usize = 1 << 30;

    /// XORs keystream into `buf` in place.
    pub(super) fn apply(ctx: &mut CipherCtx, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(MAX_CALL) {
            let len = chunk.len();
            if ctx.cipher_update_inplace(chunk, len).is_err() {
                // A keyed RC4 context does not fail on an update; if OpenSSL
                // ever did, the stream's position is lost. Fail closed: 0xFF
                // bytes read as an impossible message length, so the
                // connection ends on the next frame instead of carrying
                // wrongly decrypted data.
                chunk.fill(0xFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Keystream;

    #[test]
    fn both_implementations_give_the_same_keystream_across_uneven_calls() {
        for seed in 0u8..8 {
            let key: Vec<u8> = (0..20u8).map(|i| i.wrapping_mul(31) ^ seed).collect();
            let mut fast = Keystream::new(&key).unwrap_or_else(|| unreachable!());
            let mut portable = Keystream::portable(&key).unwrap_or_else(|| unreachable!());
            let mut at = 0usize;
            for len in [0usize, 1, 7, 1024, 3, 65_536, 100_000, 5] {
                let mut a: Vec<u8> = (0..len).map(|i| (i + at) as u8).collect();
                let mut b = a.clone();
                fast.apply(&mut a);
                portable.apply(&mut b);
                assert_eq!(a, b, "key {seed}, {len} bytes at {at}");
                at += len;
            }
        }
    }

    #[cfg(feature = "openssl")]
    #[test]
    fn openssl_rc4_loads_here() {
        // Debian's OpenSSL 3 ships the legacy provider: the fast path must
        // be the one in use, or the benchmark figures are not what ships.
        let ks = Keystream::new(&[1u8; 20]).unwrap_or_else(|| unreachable!());
        assert_eq!(ks.implementation(), "openssl");
    }
}
