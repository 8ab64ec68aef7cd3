//! A session bound to a loopback address sends no LSD, SSDP, PCP or
//! NAT-PMP traffic even when port mapping and LSD are asked for: neither
//! runs (the traffic itself is tested in namespaces, `crates/cli/tests/lan.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use shoal_session::{Session, SessionConfig};

#[tokio::test]
async fn loopback_sessions_run_neither_port_mapping_nor_lsd() {
    let tmp = tempfile::tempdir().unwrap();
    for listen in ["127.0.0.1:0", "[::1]:0"] {
        let mut config = SessionConfig::new(listen.parse().unwrap(), tmp.path().to_path_buf());
        config.port_mapping = true;
        config.lsd = true;
        let Ok(session) = Session::bind(config).await else {
            // No IPv6 loopback on this machine.
            continue;
        };
        assert!(session.port_mapping().is_none(), "{listen}");
        assert!(session.watch_port_mapping().is_none(), "{listen}");
        assert!(!session.lsd_enabled(), "{listen}");
        session.shutdown().await;
    }
}
