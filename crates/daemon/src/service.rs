//! Starting a daemon: the manager plus the loops that drive it from
//! outside (the scraper, the watch directory).

use crate::manager::Daemon;
use crate::{DaemonConfig, DaemonError};

impl Daemon {
    /// Opens the state directory, binds the peer port and brings back every
    /// saved torrent (running ones are started again); then scrapes
    /// trackers and watches the watch directory in the background.
    pub async fn start(config: DaemonConfig) -> Result<Daemon, DaemonError> {
        let (this, scrape_requests) = Daemon::open(config).await?;
        tokio::spawn(crate::scrape::scrape_loop(this.clone(), scrape_requests));
        tokio::spawn(crate::alt_speed::run(this.clone()));
        if let Some(dir) = this.config().watch_dir.clone() {
            tokio::spawn(crate::watch::watch_loop(this.clone(), dir));
        }
        Ok(this)
    }
}
