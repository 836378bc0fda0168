//! Reports: anyone may report what they can see; the queue is
//! [`crate::moderation`].

use crate::access;
use crate::accounts::clean_text;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use kinora_core::moderation::ReportReason;
use kinora_core::{ErrorCode, Id};
use kinora_db::NewReport;
use serde::Serialize;

/// What a report is about: exactly one target.
#[derive(Debug, Default)]
pub struct Report {
    pub video_id: Option<String>,
    pub comment_id: Option<String>,
    pub account: Option<String>,
    pub reason: Option<String>,
    pub details: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Reported {
    pub id: Id,
    pub status: &'static str,
}

/// Files a report about something the caller can see.
pub async fn report(st: &AppState, caller: &Caller, r: Report) -> AppResult<Reported> {
    let me = caller.require()?;
    let choosable = || ReportReason::choosable().map(ReportReason::as_str).collect::<Vec<_>>().join(", ");
    let reason = r
        .reason
        .as_deref()
        .and_then(ReportReason::parse)
        .filter(|r| *r != ReportReason::Appeal)
        .ok_or_else(|| AppError::new(ErrorCode::InvalidField, format!("reason: one of {}", choosable())))?;
    let details = clean_text("details", r.details.as_deref().unwrap_or(""), 2000)?;
    let targets = [r.video_id.is_some(), r.comment_id.is_some(), r.account.is_some()].iter().filter(|x| **x).count();
    if targets != 1 {
        return Err(AppError::invalid("video_id: report exactly one of video_id, comment_id or account"));
    }
    let (mut video, mut comment, mut account) = (None, None, None);
    if let Some(v) = &r.video_id {
        video = Some(access::visible_video(st, caller, v).await?.id.to_string());
    }
    if let Some(c) = &r.comment_id {
        comment = Some(access::visible_comment(st, caller, c).await?.0.id.to_string());
    }
    if let Some(a) = &r.account {
        account = Some(access::visible_account(st, caller, a).await?.0.id.to_string());
    }
    let id = st
        .db
        .create_report(NewReport {
            reporter: &me.id,
            video_id: video.as_deref(),
            comment_id: comment.as_deref(),
            account_id: account.as_deref(),
            reason,
            details: &details,
        })
        .await?;
    Ok(Reported { id, status: "open" })
}
