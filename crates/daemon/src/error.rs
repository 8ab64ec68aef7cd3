//! Daemon errors, each with the HTTP status it is reported with.

/// Why a daemon operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The request was malformed or asked for something invalid.
    #[error("{0}")]
    BadRequest(String),
    /// No torrent with that id or hash.
    #[error("no such torrent: {0}")]
    NotFound(String),
    /// The torrent is already in the daemon.
    #[error("torrent {0} is already added")]
    Duplicate(String),
    /// A feature the daemon cannot do yet.
    #[error("not supported yet: {0}")]
    NotSupported(String),
    /// The state directory or the data could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The session refused.
    #[error("{0}")]
    Session(#[from] shoal_session::SessionError),
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
}

impl DaemonError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DaemonError::Io {
            context: context.into(),
            source,
        }
    }

    /// The HTTP status this error is reported with.
    pub fn status(&self) -> u16 {
        match self {
            DaemonError::BadRequest(_) | DaemonError::Config(_) => 400,
            DaemonError::NotFound(_) => 404,
            DaemonError::Duplicate(_) => 409,
            DaemonError::NotSupported(_) => 501,
            DaemonError::Io { .. } | DaemonError::Session(_) => 500,
        }
    }

    /// A short machine-readable code for JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            DaemonError::BadRequest(_) => "bad_request",
            DaemonError::Config(_) => "bad_config",
            DaemonError::NotFound(_) => "not_found",
            DaemonError::Duplicate(_) => "duplicate",
            DaemonError::NotSupported(_) => "not_supported",
            DaemonError::Io { .. } => "io",
            DaemonError::Session(_) => "session",
        }
    }
}
