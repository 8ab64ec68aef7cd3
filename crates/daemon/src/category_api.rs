//! `/api/v1/categories`: list, create, change and remove categories (the
//! core store's, shared with qBittorrent's API; `manager::categories`).

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::manager::{CategoryError, CategoryMode};
use crate::web::{Body, Ctx, SMALL_BODY, daemon_error, error, json};

/// Body of `POST` and `PATCH /api/v1/categories`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryBody {
    name: String,
    /// Absolute; empty or absent: the default download directory.
    #[serde(default)]
    save_path: String,
}

/// Body of `DELETE /api/v1/categories`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveBody {
    names: Vec<String>,
}

/// The categories, by name: `{ "name": { "save_path": "…" } }`.
pub(crate) fn list(ctx: &Ctx) -> Value {
    let record = ctx.daemon.daemon_record();
    let map: serde_json::Map<String, Value> = record
        .categories
        .into_iter()
        .map(|(name, path)| (name, json!({ "save_path": path })))
        .collect();
    Value::Object(map)
}

/// Answers a change of the categories; the new list on success.
pub(crate) async fn change(ctx: &Ctx, req: Request<Incoming>, method: Method) -> Response<Body> {
    let d = &ctx.daemon;
    let result = match method {
        Method::POST | Method::PATCH => {
            let body: CategoryBody =
                match crate::web::parse(req, SMALL_BODY, ctx.body_timeout).await {
                    Ok(b) => b,
                    Err(resp) => return resp,
                };
            let mode = if method == Method::POST {
                CategoryMode::Create
            } else {
                CategoryMode::Edit
            };
            d.set_category(&body.name, body.save_path.trim(), mode, |_, _| {})
                .map(drop)
        }
        Method::DELETE => {
            let body: RemoveBody = match crate::web::parse(req, SMALL_BODY, ctx.body_timeout).await
            {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            d.remove_categories(&body.names, |_, _| {})
                .map_err(CategoryError::Daemon)
        }
        _ => return error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
    };
    match result {
        Ok(()) => json(StatusCode::OK, &list(ctx)),
        Err(e @ CategoryError::Exists(_)) => {
            error(StatusCode::CONFLICT, "duplicate", &e.to_string())
        }
        Err(e @ CategoryError::Missing(_)) => {
            error(StatusCode::NOT_FOUND, "not_found", &e.to_string())
        }
        Err(e @ CategoryError::TooMany) => error(StatusCode::CONFLICT, "too_many", &e.to_string()),
        Err(CategoryError::Daemon(e)) => daemon_error(&e),
    }
}
