//! Engine errors: what the driver did wrong (peer faults become events instead).

use shoal_swarm::PickerError;

/// A call the engine could not carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The torrent's geometry does not fit the picker.
    #[error("torrent layout: {0}")]
    Layout(#[from] PickerError),
    /// The starting piece set is not sized for this torrent.
    #[error("have set of {found} pieces for a torrent of {expected}")]
    HaveSize {
        /// Pieces in the torrent.
        expected: u32,
        /// Pieces in the set given.
        found: u32,
    },
}
