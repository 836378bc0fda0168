//! Moderation storage: the report queue, staff actions and their effects, appeals.
//! An action, its effect, the report's resolution and the affected person's
//! notification are written in one transaction.

use crate::{closed, col, now_ms, Db, DbError, Result};
use kinora_core::moderation::{ActionReason, ModAction, ReportReason, ReportStatus};
use kinora_core::Id;
use sqlx::any::AnyRow;

/// A report in the queue (an appeal is a report with `appeal_of`).
#[derive(Debug, Clone)]
pub struct ReportRow {
    pub id: Id,
    pub reporter_id: Id,
    pub video_id: Option<Id>,
    pub comment_id: Option<Id>,
    pub account_id: Option<Id>,
    pub reason: ReportReason,
    pub details: String,
    pub status: ReportStatus,
    pub appeal_of: Option<Id>,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
}

/// A moderation action as stored.
#[derive(Debug, Clone)]
pub struct ActionRow {
    pub id: Id,
    pub report_id: Id,
    pub actor_id: Option<Id>,
    pub action: ModAction,
    pub reason: ActionReason,
    pub note: String,
    pub subject_id: Option<Id>,
    pub video_id: Option<Id>,
    pub comment_id: Option<Id>,
    pub created_at: i64,
}

/// What a moderator does about a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing changes (a dismissed report, an upheld decision).
    None,
    /// The video is removed (status `removed`), or the comment is.
    Remove,
    /// The account is hidden from discovery.
    Restrict,
    /// The account is suspended.
    Suspend,
    /// The appealed action is undone.
    Reinstate,
}

/// A decision to store.
pub struct NewAction<'a> {
    pub report: &'a ReportRow,
    pub actor: &'a Id,
    pub action: ModAction,
    pub effect: Effect,
    pub reason: ActionReason,
    pub note: &'a str,
    /// The affected account (notified), if any.
    pub subject: Option<&'a Id>,
    pub video: Option<&'a Id>,
    pub comment: Option<&'a Id>,
    /// For `Reinstate`: the action undone.
    pub undoes: Option<&'a ActionRow>,
}

const RCOLS: &str = "id, reporter_id, video_id, comment_id, account_id, reason, details, status, appeal_of, created_at, resolved_at";
const ACOLS: &str = "id, report_id, actor_id, action, reason, note, subject_id, video_id, comment_id, created_at";

fn id_opt(r: &AnyRow, c: &str) -> Result<Option<Id>> {
    Ok(col::<Option<String>>(r, c)?.map(Id::from_trusted))
}

fn report_row(r: &AnyRow) -> Result<ReportRow> {
    Ok(ReportRow {
        id: Id::from_trusted(col(r, "id")?),
        reporter_id: Id::from_trusted(col(r, "reporter_id")?),
        video_id: id_opt(r, "video_id")?,
        comment_id: id_opt(r, "comment_id")?,
        account_id: id_opt(r, "account_id")?,
        reason: closed(r, "reason")?,
        details: col(r, "details")?,
        status: closed(r, "status")?,
        appeal_of: id_opt(r, "appeal_of")?,
        created_at: col(r, "created_at")?,
        resolved_at: col(r, "resolved_at")?,
    })
}

fn action_row(r: &AnyRow) -> Result<ActionRow> {
    Ok(ActionRow {
        id: Id::from_trusted(col(r, "id")?),
        report_id: Id::from_trusted(col(r, "report_id")?),
        actor_id: id_opt(r, "actor_id")?,
        action: closed(r, "action")?,
        reason: closed(r, "reason")?,
        note: col(r, "note")?,
        subject_id: id_opt(r, "subject_id")?,
        video_id: id_opt(r, "video_id")?,
        comment_id: id_opt(r, "comment_id")?,
        created_at: col(r, "created_at")?,
    })
}

/// Applies (`on`) or undoes a decision's effect: `remove` hides the comment (and
/// corrects its video's count) or marks the video removed; `restrict` and
/// `suspend` set or clear the account's time. Anything else changes nothing.
async fn set_effect(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    action: ModAction,
    on: bool,
    video: Option<&Id>,
    comment: Option<&Id>,
    subject: Option<&Id>,
    now: i64,
) -> Result<()> {
    match (action, comment, video, subject) {
        (ModAction::Remove, Some(c), _, _) => {
            let hide = if on {
                "deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL"
            } else {
                "deleted_at = NULL WHERE id = $2 AND deleted_at IS NOT NULL AND $1 = $1"
            };
            let r = sqlx::query(&format!("UPDATE comments SET {hide}")).bind(now).bind(c.as_str()).execute(&mut **tx).await?;
            let n = r.rows_affected() as i64;
            sqlx::query("UPDATE videos SET comments = comments + $1 WHERE id = (SELECT video_id FROM comments WHERE id = $2)")
                .bind(if on { -n } else { n })
                .bind(c.as_str())
                .execute(&mut **tx)
                .await?;
        }
        (ModAction::Remove, None, Some(v), _) => {
            let (to, from) = if on { ("removed", "ready") } else { ("ready", "removed") };
            sqlx::query("UPDATE videos SET status = $1 WHERE id = $2 AND status = $3").bind(to).bind(v.as_str()).bind(from).execute(&mut **tx).await?;
        }
        (ModAction::Restrict | ModAction::Suspend, _, _, Some(s)) => {
            let col = if action == ModAction::Restrict { "restricted_at" } else { "suspended_at" };
            let sql = if on {
                format!("UPDATE accounts SET {col} = $1 WHERE id = $2 AND {col} IS NULL")
            } else {
                format!("UPDATE accounts SET {col} = NULL WHERE id = $2 AND $1 = $1")
            };
            sqlx::query(&sql).bind(now).bind(s.as_str()).execute(&mut **tx).await?;
        }
        _ => {}
    }
    Ok(())
}

impl Db {
    /// The queue: reports with `status` (any if `None`), optionally only appeals or
    /// only first reports, oldest first (first come, first served), after `(created_at, id)`.
    pub async fn reports(&self, status: Option<ReportStatus>, appeals: Option<bool>, after: Option<(i64, &str)>, limit: i64) -> Result<Vec<ReportRow>> {
        let (k, id) = after.unwrap_or((i64::MIN, ""));
        let appeal_sql = match appeals {
            None => "",
            Some(true) => "AND appeal_of IS NOT NULL",
            Some(false) => "AND appeal_of IS NULL",
        };
        let rows = sqlx::query(&format!(
            "SELECT {RCOLS} FROM reports WHERE (status = $1 OR $1 = '') {appeal_sql} AND (created_at, id) > ($2, $3) \
             ORDER BY created_at, id LIMIT $4"
        ))
        .bind(status.map_or("", ReportStatus::as_str))
        .bind(k)
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(report_row).collect()
    }

    pub async fn report_by_id(&self, id: &Id) -> Result<Option<ReportRow>> {
        let r = sqlx::query(&format!("SELECT {RCOLS} FROM reports WHERE id = $1")).bind(id.as_str()).fetch_optional(self.pool()).await?;
        r.as_ref().map(report_row).transpose()
    }

    /// Open reports by status, for the queue's counters: (open reports, open appeals).
    pub async fn open_report_counts(&self) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM reports WHERE status = 'open' AND appeal_of IS NULL) AS reports, \
                    (SELECT COUNT(*) FROM reports WHERE status = 'open' AND appeal_of IS NOT NULL) AS appeals",
        )
        .fetch_one(self.pool())
        .await?;
        Ok((col(&r, "reports")?, col(&r, "appeals")?))
    }

    pub async fn action_by_id(&self, id: &Id) -> Result<Option<ActionRow>> {
        let r = sqlx::query(&format!("SELECT {ACOLS} FROM moderation_actions WHERE id = $1")).bind(id.as_str()).fetch_optional(self.pool()).await?;
        r.as_ref().map(action_row).transpose()
    }

    /// Actions by id, in one query.
    pub async fn actions_by_ids(&self, ids: &[Id]) -> Result<Vec<ActionRow>> {
        self.actions_where("id", ids).await
    }

    /// The actions taken on these reports, oldest first, in one query.
    pub async fn actions_for_reports(&self, reports: &[Id]) -> Result<Vec<ActionRow>> {
        self.actions_where("report_id", reports).await
    }

    async fn actions_where(&self, column: &str, ids: &[Id]) -> Result<Vec<ActionRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {ACOLS} FROM moderation_actions WHERE {column} IN ({}) ORDER BY created_at", crate::sql::placeholders(1, ids.len()));
        let q = crate::sql::bind_ids(sqlx::query(&sql), ids);
        q.fetch_all(self.pool()).await?.iter().map(action_row).collect()
    }

    /// Reports by id, in one query.
    pub async fn reports_by_ids(&self, ids: &[Id]) -> Result<Vec<ReportRow>> {
        self.reports_where("id", ids).await
    }

    /// The appeals filed against these actions, in one query.
    pub async fn appeals_of_actions(&self, actions: &[Id]) -> Result<Vec<ReportRow>> {
        self.reports_where("appeal_of", actions).await
    }

    async fn reports_where(&self, column: &str, ids: &[Id]) -> Result<Vec<ReportRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {RCOLS} FROM reports WHERE {column} IN ({})", crate::sql::placeholders(1, ids.len()));
        let q = crate::sql::bind_ids(sqlx::query(&sql), ids);
        q.fetch_all(self.pool()).await?.iter().map(report_row).collect()
    }

    /// The actions taken on a report (normally one).
    pub async fn actions_for_report(&self, report: &Id) -> Result<Vec<ActionRow>> {
        let rows = sqlx::query(&format!("SELECT {ACOLS} FROM moderation_actions WHERE report_id = $1 ORDER BY created_at"))
            .bind(report.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(action_row).collect()
    }

    /// Every action since `since_ms`: (created_at, action, reason), for the public report.
    pub async fn action_tally(&self, since_ms: i64) -> Result<Vec<(i64, ModAction, ActionReason)>> {
        let rows = sqlx::query("SELECT created_at, action, reason FROM moderation_actions WHERE created_at >= $1 ORDER BY created_at")
            .bind(since_ms)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((col(r, "created_at")?, closed(r, "action")?, closed(r, "reason")?))).collect()
    }

    /// Stores a decision and applies it, resolves the report (and, for a removal,
    /// restriction or suspension, every other open report about the same thing), and
    /// notifies the affected account. Returns the action's id.
    pub async fn act(&self, a: NewAction<'_>) -> Result<Id> {
        let now = now_ms();
        let id = Id::generate();
        let mut tx = self.begin_write().await?;
        // The report must still be open: two moderators cannot both decide it.
        let r = sqlx::query("UPDATE reports SET status = $1, resolved_at = $2 WHERE id = $3 AND status = 'open'")
            .bind(if a.effect == Effect::None { ReportStatus::Dismissed } else { ReportStatus::Actioned }.as_str())
            .bind(now)
            .bind(a.report.id.as_str())
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(DbError::Conflict);
        }
        sqlx::query(
            "INSERT INTO moderation_actions (id, report_id, actor_id, action, reason, note, subject_id, video_id, comment_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id.as_str())
        .bind(a.report.id.as_str())
        .bind(a.actor.as_str())
        .bind(a.action.as_str())
        .bind(a.reason.as_str())
        .bind(a.note)
        .bind(a.subject.map(|s| s.as_str().to_owned()))
        .bind(a.video.map(|s| s.as_str().to_owned()))
        .bind(a.comment.map(|s| s.as_str().to_owned()))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let same_target = |q: &str| {
            let (col, v) = match (a.comment, a.video, a.subject) {
                (Some(c), _, _) if a.effect == Effect::Remove => ("comment_id", c.as_str().to_owned()),
                (_, Some(v), _) if a.effect == Effect::Remove => ("video_id", v.as_str().to_owned()),
                (_, _, Some(s)) => ("account_id", s.as_str().to_owned()),
                _ => ("id", a.report.id.as_str().to_owned()),
            };
            (q.replace("{col}", col), v)
        };
        match (a.effect, a.undoes) {
            (Effect::Remove, _) => set_effect(&mut tx, ModAction::Remove, true, a.video, a.comment, a.subject, now).await?,
            (Effect::Restrict, _) => set_effect(&mut tx, ModAction::Restrict, true, a.video, a.comment, a.subject, now).await?,
            (Effect::Suspend, _) => set_effect(&mut tx, ModAction::Suspend, true, a.video, a.comment, a.subject, now).await?,
            (Effect::Reinstate, Some(u)) => {
                set_effect(&mut tx, u.action, false, u.video_id.as_ref(), u.comment_id.as_ref(), u.subject_id.as_ref(), now).await?;
            }
            (Effect::None | Effect::Reinstate, _) => {}
        }
        if matches!(a.effect, Effect::Remove | Effect::Restrict | Effect::Suspend) {
            // Other open first reports about the same thing are settled by this decision.
            let (q, v) = same_target("UPDATE reports SET status = 'actioned', resolved_at = $1 WHERE status = 'open' AND appeal_of IS NULL AND {col} = $2");
            sqlx::query(&q).bind(now).bind(v).execute(&mut *tx).await?;
        }
        if let Some(s) = a.subject {
            if a.effect != Effect::None || a.report.appeal_of.is_some() {
                // The affected person learns what and why (and, for an appeal, the answer).
                sqlx::query(
                    "INSERT INTO notifications (id, account_id, kind, actor_id, video_id, comment_id, created_at, action_id) \
                     VALUES ($1, $2, 'moderation', $2, $3, NULL, $4, $5)",
                )
                .bind(Id::generate().as_str())
                .bind(s.as_str())
                .bind(a.video.map(|v| v.as_str().to_owned()))
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Files the one appeal an action allows: a report in the queue whose
    /// `appeal_of` is the action. [`DbError::Conflict`] if it was appealed already.
    pub async fn appeal(&self, action: &ActionRow, appellant: &Id, text: &str) -> Result<Id> {
        let id = Id::generate();
        sqlx::query(
            "INSERT INTO reports (id, reporter_id, video_id, comment_id, account_id, reason, details, status, created_at, appeal_of) \
             VALUES ($1, $2, $3, $4, $5, 'appeal', $6, 'open', $7, $8)",
        )
        .bind(id.as_str())
        .bind(appellant.as_str())
        .bind(action.video_id.as_ref().map(|v| v.as_str().to_owned()))
        .bind(action.comment_id.as_ref().map(|v| v.as_str().to_owned()))
        .bind(if action.video_id.is_none() && action.comment_id.is_none() { Some(appellant.as_str().to_owned()) } else { None })
        .bind(text)
        .bind(now_ms())
        .bind(action.id.as_str())
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// The appeal filed against an action, if any.
    pub async fn appeal_of(&self, action: &Id) -> Result<Option<ReportRow>> {
        let r = sqlx::query(&format!("SELECT {RCOLS} FROM reports WHERE appeal_of = $1")).bind(action.as_str()).fetch_optional(self.pool()).await?;
        r.as_ref().map(report_row).transpose()
    }

    /// A comment by id whatever its state (for moderators and the removal notice).
    pub async fn comment_any_state(&self, id: &Id) -> Result<Option<(Id, Id, String, bool)>> {
        let r = sqlx::query("SELECT video_id, account_id, body, deleted_at FROM comments WHERE id = $1").bind(id.as_str()).fetch_optional(self.pool()).await?;
        r.map(|r| {
            Ok((
                Id::from_trusted(col(&r, "video_id")?),
                Id::from_trusted(col(&r, "account_id")?),
                col(&r, "body")?,
                col::<Option<i64>>(&r, "deleted_at")?.is_some(),
            ))
        })
        .transpose()
    }

    /// [`Db::comment_any_state`] for many comments in one query: id -> (video,
    /// author, text, deleted).
    pub async fn comments_any_state(&self, ids: &[Id]) -> Result<std::collections::HashMap<Id, (Id, Id, String, bool)>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!("SELECT id, video_id, account_id, body, deleted_at FROM comments WHERE id IN ({})", crate::sql::placeholders(1, ids.len()));
        let q = crate::sql::bind_ids(sqlx::query(&sql), ids);
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok((
                    Id::from_trusted(col(r, "id")?),
                    (
                        Id::from_trusted(col(r, "video_id")?),
                        Id::from_trusted(col(r, "account_id")?),
                        col(r, "body")?,
                        col::<Option<i64>>(r, "deleted_at")?.is_some(),
                    ),
                ))
            })
            .collect()
    }
}
