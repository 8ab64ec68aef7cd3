//! The read side the APIs share: one torrent's view or details, and the
//! table of every torrent, rebuilt at most once per manager change.

use std::sync::Arc;

use super::Daemon;
use crate::snapshot::now_unix;
use crate::table::Table;
use crate::view::{DetailView, FilePage, TorrentView, detail, of};

impl Daemon {
    /// A snapshot of one torrent.
    pub fn view(&self, id: u32) -> Option<TorrentView> {
        self.snapshot(id).as_ref().map(of)
    }

    /// Snapshots of every torrent (copied from the shared table).
    pub fn views(&self) -> Vec<TorrentView> {
        self.table().rows.iter().map(|r| r.view.clone()).collect()
    }

    /// Details of one torrent: a page of its files, peers, trackers, pieces.
    pub fn detail(&self, id: u32, files: FilePage) -> Option<DetailView> {
        self.snapshot(id).as_ref().map(|e| detail(e, files))
    }
}

impl Daemon {
    /// Torrents whose state, rates or progress changed in the last
    /// [`super::RECENT`] seconds (Transmission's `recently-active`).
    pub(crate) fn recently_active(&self) -> Vec<u32> {
        let since = now_unix().saturating_sub(super::RECENT);
        let table = self.table();
        table.active_since(since).map(|r| r.view.id).collect()
    }

    /// The table as of now: the last one if nothing changed since it was
    /// built, else a new one (one rebuild shared by concurrent readers).
    pub(crate) fn table(&self) -> Arc<Table> {
        let version = *self.shared.changed.borrow();
        self.shared.tables.get(version, || self.snapshots())
    }
}
