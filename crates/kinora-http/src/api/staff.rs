//! `/api/v1/staff/access` (staff only; everyone else gets a 404) and the subject's
//! side, `/api/v1/me/access-log`.

use crate::error::ApiResult;
use crate::extract::{body, JsonBody, Viewer};
use axum::extract::State;
use axum::Json;
use kinora_app::staff::{self, Access, AccessHistory, AccessRequest};
use kinora_app::AppState;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct AccessBody {
    subject: Option<String>,
    scopes: Option<Vec<String>>,
    reason: Option<String>,
    reference: Option<String>,
}

/// `POST /api/v1/staff/access`: the entry is in the log before the data is read.
pub async fn access(State(st): State<AppState>, viewer: Viewer, b: JsonBody<AccessBody>) -> ApiResult<Json<Access>> {
    // Non-staff learn nothing, not even whether their body was well-formed.
    staff::role(&st, &viewer.caller).await?;
    let b = body(b)?;
    let r = AccessRequest {
        subject: b.subject.unwrap_or_default(),
        scopes: b.scopes.unwrap_or_default(),
        reason: b.reason.unwrap_or_default(),
        reference: b.reference.unwrap_or_default(),
    };
    Ok(Json(staff::access(&st, &viewer.caller, r).await?))
}

/// `GET /api/v1/me/access-log`: every logged access to the caller's data, each with
/// an inclusion proof against the signed checkpoint included.
pub async fn my_access_log(State(st): State<AppState>, viewer: Viewer) -> ApiResult<Json<AccessHistory>> {
    Ok(Json(staff::history(&st, &viewer.caller).await?))
}
