//! Reports as filed by anyone (the queue and decisions are `moderation`).

use crate::{now_ms, Db, Result};
use kinora_core::Id;

/// A report for the moderation queue.
pub struct NewReport<'a> {
    pub reporter: &'a Id,
    pub video_id: Option<&'a str>,
    pub comment_id: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub reason: kinora_core::moderation::ReportReason,
    pub details: &'a str,
}

impl Db {
    pub async fn create_report(&self, r: NewReport<'_>) -> Result<Id> {
        let id = Id::generate();
        sqlx::query(
            "INSERT INTO reports (id, reporter_id, video_id, comment_id, account_id, reason, details, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8)",
        )
        .bind(id.as_str())
        .bind(r.reporter.as_str())
        .bind(r.video_id)
        .bind(r.comment_id)
        .bind(r.account_id)
        .bind(r.reason.as_str())
        .bind(r.details)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(id)
    }
}
