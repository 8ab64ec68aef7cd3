//! The RPC methods, shared by both framings: a method name in any spelling
//! and snake_case arguments in, an answer object or an error out.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::args::{Style, canon, each, flag, select, string};
use super::file_lists::Deferred;
use super::{edits, groups, session, torrent_get, torrent_set};
use crate::QueueMove;
use crate::web::Ctx;

/// Why a method failed: the message Transmission's `result` carries, and
/// whether it is the method that is unknown or the arguments that are bad
/// (JSON-RPC tells these apart).
#[derive(Debug)]
pub(super) struct MethodError {
    /// What went wrong, for people.
    pub message: String,
    /// What kind of failure, for JSON-RPC's error code.
    pub kind: ErrorKind,
}

/// The kinds of method failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ErrorKind {
    /// No such method.
    UnknownMethod,
    /// The method ran and failed (or its arguments were refused).
    Failed,
}

impl From<String> for MethodError {
    fn from(message: String) -> MethodError {
        MethodError {
            message,
            kind: ErrorKind::Failed,
        }
    }
}

impl From<&str> for MethodError {
    fn from(message: &str) -> MethodError {
        MethodError::from(message.to_owned())
    }
}

/// Runs one method.
pub(super) async fn dispatch(
    ctx: &Ctx,
    method: &str,
    args: &Map<String, Value>,
    style: Style,
    deferred: &mut Deferred,
) -> Result<Value, MethodError> {
    let d = &ctx.daemon;
    let ok = Ok::<Value, MethodError>;
    match canon(method).as_str() {
        "session_get" => ok(session::session_get(d, args, &ctx.rpc_session_id, style)),
        "session_set" => ok(session::session_set(d, args)?),
        "session_stats" => ok(session::session_stats(d)),
        "session_close" => Err("session-close is not allowed: stop the daemon itself".into()),
        "torrent_get" => ok(torrent_get::torrent_get(d, args, style, deferred)?),
        "torrent_add" => ok(torrent_set::torrent_add(d, args).await?),
        "torrent_start" | "torrent_start_now" => ok(each(d, args, |d, id| d.start_torrent(id))?),
        "torrent_stop" => ok(each(d, args, |d, id| d.stop_torrent(id))?),
        "torrent_verify" => ok(each(d, args, |d, id| d.verify_torrent(id))?),
        "torrent_reannounce" => ok(each(d, args, |d, id| d.reannounce_torrent(id))?),
        "torrent_remove" => {
            let delete = flag(args, "delete_local_data").unwrap_or(false);
            ok(each(d, args, |d, id| d.remove_torrent(id, delete))?)
        }
        "torrent_set" => ok(torrent_set::torrent_set(d, args)?),
        "torrent_set_location" => {
            let location =
                string(args, "location").ok_or("torrent-set-location needs a location")?;
            let move_data = flag(args, "move").unwrap_or(false);
            let dir = PathBuf::from(location);
            ok(each(d, args, |d, id| d.set_location(id, &dir, move_data))?)
        }
        "torrent_rename_path" => ok(edits::rename_path(d, args).await?),
        "queue_move_top" | "queue_move_up" | "queue_move_down" | "queue_move_bottom" => {
            let how = match canon(method).as_str() {
                "queue_move_top" => QueueMove::Top,
                "queue_move_up" => QueueMove::Up,
                "queue_move_down" => QueueMove::Down,
                _ => QueueMove::Bottom,
            };
            let ids = select(d, args)?.ids;
            d.queue_move(&ids, how).map_err(|e| e.to_string())?;
            ok(json!({}))
        }
        "free_space" => ok(session::free_space(args)?),
        // No outside port test service is asked (shoal makes no requests
        // to third parties on its own): the port is open when the router
        // mapped it.
        "port_test" => {
            ok(json!({ "port-is-open": d.session().port_mapping().is_some_and(|s| s.is_mapped()) }))
        }
        // No blocklist: nothing is blocked, and the answer says so.
        "blocklist_update" => ok(json!({ "blocklist-size": 0 })),
        // Stored and reported, not applied: shoal has no bandwidth groups.
        "group_get" => ok(groups::group_get(d, args)),
        "group_set" => ok(groups::group_set(d, args)?),
        _ => Err(MethodError {
            message: "method name not recognized".into(),
            kind: ErrorKind::UnknownMethod,
        }),
    }
}
