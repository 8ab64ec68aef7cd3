//! `shoal tracker`: a BitTorrent tracker serving HTTP (BEP 3/7/23/48) and UDP
//! (BEP 15/41) announces and scrapes from one in-memory swarm table.
//!
//! Layout: [`store`] holds the swarms (compact peers, caps, expiry, snapshot);
//! [`udp`] and [`udp_io`] are the UDP logic and its batched socket loop;
//! [`http`] and [`http_handlers`] the HTTP side; [`server`] wires them up.

pub mod access;
pub mod config;
pub mod connid;
pub mod http;
pub mod http_handlers;
pub mod metrics;
pub mod server;
pub mod state;
pub mod store;
pub mod udp;
pub mod udp_io;

pub use config::{Config, TrackerArgs};
pub use server::run;
