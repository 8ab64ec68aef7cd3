//! The port-mapping driver: one task that maps the peer port (TCP) and the
//! DHT port (UDP) on the gateway, keeps the mappings alive and removes them
//! on a clean shutdown. It tries PCP, then NAT-PMP (`gateway.rs`) on the
//! default gateway of `/proc/net/route`, then UPnP IGD (`upnp.rs`); after a
//! success the method that worked is tried first. The protocol decisions
//! are `shoal_portmap`'s; this only moves datagrams and streams and reads
//! the clock. A session bound to a loopback address never starts it.

mod gateway;
mod upnp;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use shoal_portmap::lease::Schedule;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Lifetime asked for, in seconds (RFC 6886 recommends 7200; UPnP routers
/// get the same, or permanent when that is all they keep).
const LIFETIME: u32 = 7200;
/// Longest a clean shutdown waits for the mappings to be removed.
const REMOVE_WAIT: Duration = Duration::from_secs(3);

/// What the port mapping has achieved, for the APIs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortMapStatus {
    /// The method holding the mappings: `pcp`, `nat-pmp` or `upnp`.
    pub method: Option<&'static str>,
    /// The gateway's external address, when it told us.
    pub external_ip: Option<IpAddr>,
    /// The external port mapped to our peer port (TCP).
    pub tcp_port: Option<u16>,
    /// The external port mapped to our DHT port (UDP).
    pub udp_port: Option<u16>,
    /// Why the last attempt failed (cleared by a success).
    pub error: Option<String>,
}

impl PortMapStatus {
    /// Whether peers outside can reach our peer port through the gateway.
    pub fn is_mapped(&self) -> bool {
        self.tcp_port.is_some()
    }
}

/// A way to ask a gateway for a port mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortMapMethod {
    /// PCP (RFC 6887).
    Pcp,
    /// NAT-PMP (RFC 6886).
    NatPmp,
    /// UPnP IGD (SSDP and SOAP).
    Upnp,
}

impl PortMapMethod {
    /// Every method, in the order they are tried.
    pub const ALL: [PortMapMethod; 3] = [
        PortMapMethod::Pcp,
        PortMapMethod::NatPmp,
        PortMapMethod::Upnp,
    ];
}

impl std::str::FromStr for PortMapMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pcp" => Ok(PortMapMethod::Pcp),
            "nat-pmp" | "natpmp" => Ok(PortMapMethod::NatPmp),
            "upnp" => Ok(PortMapMethod::Upnp),
            _ => Err(format!(
                "unknown port mapping method {s:?} (pcp, nat-pmp, upnp)"
            )),
        }
    }
}

/// Which methods may be used.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Methods {
    pub(crate) pcp: bool,
    pub(crate) nat_pmp: bool,
    pub(crate) upnp: bool,
}

impl Methods {
    /// The methods in `list`.
    pub(crate) fn from_list(list: &[PortMapMethod]) -> Methods {
        Methods {
            pcp: list.contains(&PortMapMethod::Pcp),
            nat_pmp: list.contains(&PortMapMethod::NatPmp),
            upnp: list.contains(&PortMapMethod::Upnp),
        }
    }
}

/// The ports to map and where from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    /// The session's address (unspecified: the kernel picks per gateway).
    pub(crate) local_ip: IpAddr,
    /// The peer port (TCP).
    pub(crate) tcp_port: u16,
    /// The DHT port (UDP).
    pub(crate) udp_port: u16,
    /// The methods allowed.
    pub(crate) methods: Methods,
}

/// Mappings held, so they can be renewed and removed.
#[derive(Debug, Clone)]
pub(crate) enum Held {
    /// Through PCP or NAT-PMP.
    Gateway(gateway::Held),
    /// Through UPnP IGD.
    Upnp(upnp::Held),
}

/// A running mapper: its status and the way to stop it.
pub(crate) struct PortMapper {
    status: watch::Receiver<PortMapStatus>,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl PortMapper {
    /// Starts mapping `target`.
    pub(crate) fn start(target: Target) -> PortMapper {
        let (status_tx, status) = watch::channel(PortMapStatus::default());
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(target, status_tx, stop_rx));
        PortMapper {
            status,
            stop,
            task: std::sync::Mutex::new(Some(task)),
        }
    }

    /// The current status.
    pub(crate) fn status(&self) -> PortMapStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every change of the status.
    pub(crate) fn watch(&self) -> watch::Receiver<PortMapStatus> {
        self.status.clone()
    }

    /// Removes the mappings (a few seconds at most) and ends the task.
    pub(crate) async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(REMOVE_WAIT * 2, task).await;
        }
    }
}

async fn run(
    target: Target,
    status: watch::Sender<PortMapStatus>,
    mut stop: watch::Receiver<bool>,
) {
    let mut schedule = Schedule::new(std::time::Instant::now());
    let mut held: Option<Held> = None;
    let nonces = gateway::Nonces::new();
    loop {
        let wait = schedule
            .deadline()
            .saturating_duration_since(std::time::Instant::now());
        tokio::select! {
            () = tokio::time::sleep_until(Instant::now() + wait) => {}
            _ = stop.changed() => break,
        }
        let attempt = tokio::select! {
            result = attempt(target, held.as_ref(), nonces) => result,
            _ = stop.changed() => break,
        };
        let now = std::time::Instant::now();
        match attempt {
            Ok((new_status, new_held, lifetime)) => {
                tracing::info!(
                    method = new_status.method,
                    external = ?new_status.external_ip,
                    tcp = ?new_status.tcp_port,
                    udp = ?new_status.udp_port,
                    "port mapped"
                );
                held = Some(new_held);
                schedule.mapped(now, lifetime);
                status.send_replace(new_status);
            }
            Err(error) => {
                tracing::debug!("port mapping failed: {error}");
                schedule.failed(now);
                status.send_modify(|s| s.error = Some(error));
            }
        }
    }
    if let Some(held) = held {
        let _ = tokio::time::timeout(REMOVE_WAIT, remove(target, held)).await;
        tracing::info!("port mapping removed");
    }
    status.send_replace(PortMapStatus::default());
}

/// One round: renew or create the mappings with the method that worked
/// last, else each in turn.
async fn attempt(
    target: Target,
    held: Option<&Held>,
    nonces: gateway::Nonces,
) -> Result<(PortMapStatus, Held, u32), String> {
    let upnp_first = matches!(held, Some(Held::Upnp(_)));
    let mut errors = Vec::new();
    for use_upnp in [upnp_first, !upnp_first] {
        let methods = target.methods;
        if (use_upnp && !methods.upnp) || (!use_upnp && !methods.pcp && !methods.nat_pmp) {
            continue;
        }
        let result = if use_upnp {
            upnp::map(target, LIFETIME)
                .await
                .map(|(s, h, l)| (s, Held::Upnp(h), l))
        } else {
            match default_gateway() {
                Some(gw) => gateway::map(target, gw, &nonces, LIFETIME)
                    .await
                    .map(|(s, h, l)| (s, Held::Gateway(h), l)),
                None => Err("no default gateway".to_owned()),
            }
        };
        match result {
            Ok(done) => return Ok(done),
            Err(e) => errors.push(e),
        }
    }
    Err(errors.join("; "))
}

async fn remove(target: Target, held: Held) {
    match held {
        Held::Gateway(h) => gateway::remove(target, h).await,
        Held::Upnp(h) => upnp::remove(target, h).await,
    }
}

/// Hands each external address the gateway reports to the DHT as its
/// vote (BEP 42's address, `shoal_dht::external`) until the mapper stops.
/// Holds the DHT weakly: it must not keep a stopping node alive.
pub(crate) fn vote_to_dht(
    mut status: watch::Receiver<PortMapStatus>,
    dht: std::sync::Weak<crate::Dht>,
) {
    tokio::spawn(async move {
        let mut told = None;
        loop {
            let ip = status.borrow_and_update().external_ip;
            if let Some(ip) = ip.filter(|ip| told != Some(*ip)) {
                let Some(dht) = dht.upgrade() else { break };
                dht.vote_external(shoal_dht::Voter::Gateway, ip);
                told = Some(ip);
            }
            if status.changed().await.is_err() {
                break;
            }
        }
    });
}

/// The default IPv4 gateway, from `/proc/net/route`.
fn default_gateway() -> Option<Ipv4Addr> {
    // A small procfs read, which does not block on a disk.
    let text = std::fs::read_to_string("/proc/net/route").ok()?;
    shoal_portmap::gateway::default_gateway(&text).map(|(ip, _)| ip)
}
