//! The task that pumps the sans-IO node: reads its sockets (or the
//! datagrams the session's uTP driver hands on), runs its timers, sends
//! what it queues and answers the handles' commands.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shoal_dht::{DhtEvent, LookupId, Node};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::socket::{canonical, mapped};
use super::{Command, DhtStats, ItemLookup, RECV_BUFFER};

/// The next datagram on the other family's socket; never resolves without one.
async fn recv_other(
    other: Option<&UdpSocket>,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    match other {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// The next datagram from the socket's owner; never resolves without one.
async fn recv_shared(
    received: &mut Option<mpsc::Receiver<(SocketAddr, Vec<u8>)>>,
) -> Option<(SocketAddr, Vec<u8>)> {
    match received {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The other family's socket of a dual-stack node.
pub(super) struct Other {
    pub(super) socket: Arc<UdpSocket>,
    /// Its address.
    pub(super) addr: SocketAddr,
    /// Whether the node's task reads it (its own socket), or the session's
    /// uTP driver does and hands KRPC on with the first socket's.
    pub(super) read_here: bool,
}

pub(super) struct Driver {
    pub(super) node: Node,
    pub(super) socket: Arc<UdpSocket>,
    /// `socket`'s address.
    pub(super) local: SocketAddr,
    /// The other family's socket of a dual-stack node.
    pub(super) other: Option<Other>,
    /// Datagrams read by the socket's owner when the socket is shared;
    /// `None`: this task reads the socket itself.
    pub(super) received: Option<mpsc::Receiver<(SocketAddr, Vec<u8>)>>,
    pub(super) epoch: Instant,
    pub(super) state_file: Option<PathBuf>,
    pub(super) save_interval: Duration,
    pub(super) lookups: HashMap<LookupId, mpsc::Sender<SocketAddr>>,
    pub(super) announces: HashMap<LookupId, oneshot::Sender<usize>>,
    /// Item lookups: the best item so far and who waits for it.
    pub(super) item_gets: HashMap<LookupId, (ItemLookup, oneshot::Sender<ItemLookup>)>,
    pub(super) bootstrapped: watch::Sender<bool>,
    pub(super) known: watch::Sender<usize>,
    pub(super) external: watch::Sender<Option<IpAddr>>,
}

impl Driver {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; RECV_BUFFER];
        let read_other = self.other.as_ref().is_some_and(|o| o.read_here);
        let mut buf_other = vec![0u8; if read_other { RECV_BUFFER } else { 0 }];
        let mut next_save = Instant::now() + self.save_interval;
        loop {
            self.flush().await;
            let known = self.node.node_count();
            self.known
                .send_if_modified(|k| std::mem::replace(k, known) != known);
            let deadline = self.epoch + self.node.poll_timeout();
            tokio::select! {
                r = self.socket.recv_from(&mut buf), if self.received.is_none() => {
                    // Errors here are ICMP reports for earlier sends; the
                    // query's timeout deals with them.
                    if let Ok((n, from)) = r {
                        let now = self.now();
                        if let Some(packet) = buf.get(..n) {
                            self.node.handle_packet(canonical(from), packet, now);
                        }
                    }
                }
                r = recv_other(
                    self.other.as_ref().filter(|o| o.read_here).map(|o| &*o.socket),
                    &mut buf_other,
                ) => {
                    if let Ok((n, from)) = r {
                        let now = self.now();
                        if let Some(packet) = buf_other.get(..n) {
                            self.node.handle_packet(canonical(from), packet, now);
                        }
                    }
                }
                Some((from, packet)) = recv_shared(&mut self.received) => {
                    let now = self.now();
                    self.node.handle_packet(canonical(from), &packet, now);
                }
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => {
                    let now = self.now();
                    self.node.handle_timeout(now);
                }
                () = tokio::time::sleep_until(next_save) => {
                    next_save = Instant::now() + self.save_interval;
                    self.save().await;
                }
            }
        }
        self.save().await;
    }

    fn command(&mut self, cmd: Command) {
        let now = self.now();
        match cmd {
            Command::GetPeers { info_hash, peers } => {
                let lid = self.node.get_peers(info_hash, now);
                self.lookups.insert(lid, peers);
            }
            Command::Announce {
                info_hash,
                port,
                peers,
                done,
            } => {
                let lid = self.node.announce(info_hash, port, now);
                if let Some(peers) = peers {
                    self.lookups.insert(lid, peers);
                }
                self.announces.insert(lid, done);
            }
            Command::AddNode(addr) => self.node.add_node(addr, now),
            Command::VoteExternal(voter, ip) => self.node.vote_external(voter, ip, now),
            Command::GetItem { query, done } => {
                let lid = self.node.get_item(query, now);
                self.item_gets.insert(lid, (ItemLookup::default(), done));
            }
            Command::PutItem { item, cas, done } => {
                let lid = self.node.put_item(item, cas, now);
                self.announces.insert(lid, done);
            }
            Command::Stats(reply) => {
                let _ = reply.send(DhtStats {
                    id: self.node.id(),
                    id6: self.node.id6(),
                    bootstrapped: *self.bootstrapped.borrow(),
                    external_ip: self.node.external_ip(),
                    node: self.node.stats(now),
                });
            }
        }
    }

    async fn flush(&mut self) {
        while let Some(event) = self.node.poll_event() {
            match event {
                DhtEvent::Peers { lookup, peers, .. } => {
                    if let Some(tx) = self.lookups.get(&lookup) {
                        for p in peers {
                            // A reader that falls 1024 peers behind loses some.
                            let _ = tx.try_send(p);
                        }
                    }
                }
                DhtEvent::LookupDone {
                    lookup, announced, ..
                } => {
                    self.lookups.remove(&lookup);
                    if let Some(done) = self.announces.remove(&lookup) {
                        let _ = done.send(announced);
                    }
                    if let Some((best, done)) = self.item_gets.remove(&lookup) {
                        let _ = done.send(best);
                    }
                }
                DhtEvent::Item { lookup, item } => {
                    // The node reports only better items than before.
                    if let Some((found, _)) = self.item_gets.get_mut(&lookup) {
                        found.item = Some(item);
                    }
                }
                DhtEvent::ItemRejected { lookup } => {
                    if let Some((found, _)) = self.item_gets.get_mut(&lookup) {
                        found.rejected = found.rejected.saturating_add(1);
                    }
                }
                DhtEvent::ExternalAddress { ip, id, id_changed } => {
                    tracing::info!(%ip, %id, id_changed, "external address");
                    self.external.send_replace(self.node.external_ip());
                }
                DhtEvent::Bootstrapped { nodes } => {
                    tracing::debug!("DHT bootstrapped with {nodes} nodes");
                    self.bootstrapped.send_replace(true);
                }
            }
        }
        while let Some((to, bytes)) = self.node.poll_transmit() {
            // The node talks only to families it has a socket for; an IPv6
            // socket reaches IPv4 nodes only as mapped addresses.
            let (socket, local) = match &self.other {
                Some(o) if to.is_ipv4() != self.local.is_ipv4() => (&o.socket, o.addr),
                _ => (&self.socket, self.local),
            };
            let to = if local.is_ipv6() { mapped(to) } else { to };
            if let Err(e) = socket.send_to(&bytes, to).await {
                tracing::trace!("DHT send to {to}: {e}");
            }
        }
    }

    async fn save(&self) {
        let Some(path) = &self.state_file else {
            return;
        };
        let bytes = self.node.save();
        let path = path.clone();
        let result = tokio::task::spawn_blocking(move || {
            // Temp file, fsync, rename, directory fsync: a crash leaves the
            // old state or the new one, never a torn or empty file.
            shoal_storage::write_atomic(&path, &bytes)
        })
        .await;
        if let Ok(Err(e)) = result {
            tracing::warn!("saving DHT state: {e}");
        }
    }
}
