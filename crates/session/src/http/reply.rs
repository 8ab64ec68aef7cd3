//! What one GET ends with (the exchange itself: `keepalive.rs`).

/// A reply: the body of a 200, or where a redirect points (its
/// `Location`, resolved against the URL asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The body of a 200 reply.
    Body(Vec<u8>),
    /// A 301/302/303/307/308 reply's absolute target.
    Redirect(String),
}
