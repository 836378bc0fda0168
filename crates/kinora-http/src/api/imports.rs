//! `/api/v1/me/imports`: bring an export archive from another Kinora.

use crate::error::{ApiError, ApiResult};
use crate::extract::Viewer;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use futures_util::StreamExt;
use kinora_app::imports::{self, Imported};
use kinora_app::{AppError, AppState};
use kinora_core::{ErrorCode, Id};
use tokio::io::AsyncWriteExt;

/// `POST /api/v1/me/imports` with the ZIP as the body (`application/zip`) ->
/// 201 `{"username", "videos": [...]}`; the videos then process like uploads.
pub async fn create(State(st): State<AppState>, viewer: Viewer, headers: HeaderMap, body: Body) -> ApiResult<(StatusCode, Json<Imported>)> {
    viewer.caller.require()?;
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct != "application/zip" && ct != "application/octet-stream" {
        return Err(ApiError::new(ErrorCode::UnsupportedContentType, "send the export ZIP as the body with Content-Type: application/zip"));
    }
    let max = st.config().server.max_upload_bytes.saturating_mul(4);
    let dir = st.data_dir().join("staging");
    tokio::fs::create_dir_all(&dir).await.map_err(ApiError::internal)?;
    let path = dir.join(format!("import-{}.zip", Id::generate()));
    let result = async {
        let mut f = tokio::fs::File::create(&path).await.map_err(AppError::internal)?;
        let mut n = 0u64;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| AppError::bad_request(format!("reading the archive: {e}")))?;
            n += chunk.len() as u64;
            if n > max {
                return Err(AppError::new(ErrorCode::PayloadTooLarge, format!("the archive is larger than {} MiB", max >> 20)));
            }
            f.write_all(&chunk).await.map_err(AppError::internal)?;
        }
        f.sync_all().await.map_err(AppError::internal)?;
        imports::import_mine(&st, &viewer.caller, &path).await
    }
    .await;
    let _ = tokio::fs::remove_file(&path).await;
    Ok((StatusCode::CREATED, Json(result?)))
}
