//! The transparency log over HTTP, as C2SP tlog-tiles: `/log/checkpoint` (a signed
//! note), `/log/key` (the verifier key), `/log/tile/<L>/<N>[.p/<W>]` (hash tiles) and
//! `/log/tile/entries/<N>[.p/<W>]` (entry bundles). Full tiles never change and are
//! cached for long; the checkpoint is not cached.

use crate::error::ApiResult;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kinora_app::AppState;

pub async fn checkpoint(State(st): State<AppState>) -> ApiResult<Response> {
    let note = kinora_app::transparency::checkpoint(&st).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], note).into_response())
}

pub async fn key(State(st): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{}\n", kinora_app::transparency::verifier_key(&st))).into_response()
}

pub async fn tile(State(st): State<AppState>, Path(path): Path<String>) -> ApiResult<Response> {
    let bytes = kinora_app::transparency::tile(&st, &path).await?;
    let cache = if path.contains(".p/") { "no-store" } else { "public, max-age=31536000, immutable" };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, cache)], bytes).into_response())
}
