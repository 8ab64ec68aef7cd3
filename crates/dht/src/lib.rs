//! A sans-IO Mainline DHT node (BEP 5) for shoal, with BEP 32 (`want`,
//! `nodes6`), BEP 42 (ids bound to addresses), BEP 43 (read-only) and
//! BEP 44 (immutable items and ed25519-signed mutable items, `item`).
//!
//! No sockets, no clock, no tokio: [`Node`] takes datagrams and the time and
//! hands back datagrams, events and its next deadline. `shoal-session`
//! drives it over UDP; tests drive thousands of nodes over a simulated
//! network in one process.

mod config;
pub mod external;
mod id;
mod item;
mod item_store;
pub mod krpc;
pub mod limits;
mod lookup;
mod node;
mod peer_store;
mod rate;
mod routing;
mod secret;
mod state;
mod token;

pub use config::{Config, DEFAULT_ROUTERS};
pub use external::{ExternalIp, Voter};
pub use id::{NodeId, bep42_id, bep42_verified, is_local};
pub use item::{
    Item, ItemError, ItemKey, ItemQuery, MutableItem, check_value, immutable_target,
    mutable_target, signed_buffer,
};
pub use item_store::ItemLimits;
pub use lookup::{LookupId, LookupKind};
pub use node::{DhtEvent, Node, Stats};
pub use peer_store::StoreLimits;
pub use rate::RateLimits;
pub use routing::{Entry, NodeState, RoutingTable};
pub use secret::Secret;
pub use shoal_rng::Rng;
pub use state::{SavedState, StateError};
