//! The two API routes: a health check for the platform and the model manifest for the page.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::headers::none_match_hits;
use crate::App;

pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    let body = serde_json::json!({ "status": "ok", "model_sha256": app.model.sha256 }).to_string();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// The manifest with `model.url` absolute. `no-cache` + ETag: browsers revalidate on every load
/// (a new model must show up at once) but usually get a body-less 304.
pub async fn model(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let model = &app.model;
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let etag = (header::ETAG, model.etag.clone());
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|inm| none_match_hits(inm, &model.etag))
    {
        return (StatusCode::NOT_MODIFIED, [cache, etag]).into_response();
    }
    let content_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    ([content_type, cache, etag], model.json.clone()).into_response()
}
