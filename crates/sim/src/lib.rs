//! A deterministic swarm simulator for shoal: hundreds of real
//! [`shoal_engine::Engine`]s trade over a simulated network on a virtual
//! clock, in one process, in seconds.
//!
//! - **Network**: every peer has an upload and a download capacity; each
//!   step (5 ms by default) they are shared fairly (max-min) among the
//!   connections with bytes waiting, and bytes arrive one link latency
//!   later, in order. Optional loss delays a burst by a retransmission
//!   timeout, holding up everything behind it on that connection.
//! - **Peers** arrive and leave on a schedule (churn), learn a random
//!   sample of the peers present from a "tracker" on arrival (50 by
//!   default), and connect up to the session's cap (80 connections).
//!   Free riders never upload: they unchoke nobody and refuse requests.
//! - **Connections** run the connection core (`shoal_engine::conn`): the
//!   handshake, and for magnet peers (which arrive with only the link) the
//!   BEP 9 metadata exchange, from up to 6 peers at a time; liars serve a
//!   dictionary that fails the hash check.
//! - **Storage** is the content itself, held once in memory as windows of
//!   a small pool (it stays in the CPU caches); a completed piece is
//!   checked by comparing it byte for byte with the content, which gives
//!   the same verdict as its SHA-1 at a fraction of the cost.
//! - **Determinism**: every random choice (tracker samples, loss, each
//!   engine's picker and choker) comes from the scenario's seed, and every
//!   collection is iterated in a fixed order, so a seed gives one report.
//!
//! Apart from the swarm, [`datagram`] moves single packets through a
//! bottleneck queue: uTP (LEDBAT) and TCP Reno flows sharing one link.
//!
//! Scenarios are TOML ([`Scenario`]); [`run`] returns a [`Report`]
//! (completion times, the fluid lower bound T*, upload shares), and
//! [`plot::svg`] draws completions over time.

mod bandwidth;
mod content;
pub mod datagram;
pub mod plot;
mod report;
mod scenario;
mod sim;
mod stream;

pub use report::{PeerReport, Report};
pub use scenario::{
    Group, MAX_CONTENT_SIZE, MAX_PEERS, MAX_PIECES, MAX_TIME_LIMIT, Scenario, ScenarioError,
};
pub use sim::{SimError, Simulation};

/// Runs `scenario` to the end.
pub fn run(scenario: &Scenario) -> Result<Report, SimError> {
    Simulation::new(scenario)?.run()
}
