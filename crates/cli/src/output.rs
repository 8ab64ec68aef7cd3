//! Writing results to stdout without panicking when the reader goes away,
//! and the words for where a session listens.

use std::io::{ErrorKind, Write};

/// Writes `text` to stdout; a closed pipe (`shoal info x | head`) is not an error.
pub fn emit(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The addresses a session listens on, for people: `A` or `A and B`.
pub fn listening_on(session: &shoal_session::Session) -> String {
    let addrs: Vec<String> = session
        .local_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    addrs.join(" and ")
}
