//! Session errors.

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A socket or file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The torrent is already in this session.
    #[error("torrent {0} is already added")]
    Duplicate(String),
    /// The torrent cannot be handled.
    #[error("torrent: {0}")]
    Torrent(String),
    /// An HTTP fetch ([`crate::http_get`]) failed.
    #[error("HTTP fetch: {0}")]
    Http(String),
    /// Checking existing data failed.
    #[error("checking existing data: {0}")]
    Check(#[from] shoal_storage::HashError),
}

impl SessionError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SessionError::Io {
            context: context.into(),
            source,
        }
    }
}
