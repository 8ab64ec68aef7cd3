//! Why an MSE handshake failed. Every variant is a reason to close the
//! connection; none is recoverable on the same stream.

/// A failed MSE handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The peer's public key is outside `[2, P-2]`.
    #[error("peer sent a degenerate Diffie-Hellman public key")]
    BadPublicKey,
    /// No `HASH('req1', S)` within the padding limit after the initiator's key.
    #[error("no req1 marker within {} bytes of padding", crate::MAX_PAD)]
    Req1NotFound,
    /// The encrypted verification constant was not found within the padding
    /// limit after the receiver's key (wrong keys: a wrong SKEY or not MSE).
    #[error("no verification constant within {} bytes of padding", crate::MAX_PAD)]
    VcNotFound,
    /// The receiver's decrypted verification constant was not zero.
    #[error("bad verification constant")]
    BadVc,
    /// The initiator asked for a torrent we do not serve (or the SKEY hash is wrong).
    #[error("unknown info-hash in req2")]
    UnknownInfoHash,
    /// A padding length field above [`crate::MAX_PAD`].
    #[error("padding of {0} bytes exceeds the limit of {max}", max = crate::MAX_PAD)]
    PaddingTooLong(u16),
    /// The initiator offered no method our policy accepts.
    #[error("no common crypto method (peer offers {0:#x})")]
    NoCommonMethod(u32),
    /// The receiver selected a method we did not offer, or several.
    #[error("peer selected crypto method {0:#x} which was not offered")]
    BadSelect(u32),
    /// A plaintext BitTorrent handshake arrived and the policy requires encryption.
    #[error("plaintext handshake refused: encryption is required")]
    PlaintextRefused,
    /// An MSE handshake arrived and the policy disables encryption.
    #[error("encrypted handshake refused: encryption is disabled")]
    EncryptedRefused,
    /// The initial payload given for an outgoing handshake is over [`crate::MAX_INITIAL_PAYLOAD`].
    #[error("initial payload of {0} bytes exceeds the limit")]
    InitialPayloadTooLong(usize),
    /// The handshake did not finish within [`crate::HANDSHAKE_TIMEOUT`].
    #[error("handshake timed out")]
    Timeout,
    /// Bytes were handed over after the event was taken: they belong to the
    /// stream (decrypt them with the [`crate::Ciphers`]), not the handshake.
    #[error("handshake already established; bytes belong to the stream")]
    AlreadyEstablished,
    /// Bytes arrived after the handshake had already failed.
    #[error("handshake already failed")]
    Failed,
}
