//! Moderation: staff work the report queue and act (remove a video or comment,
//! restrict or suspend an account, dismiss); the affected person is notified with
//! what and why and may appeal each action once; appeals enter the same queue,
//! where staff reinstate or uphold (dismiss).
//!
//! Staff see a reported item in the queue only as far as they could see it as an
//! ordinary user. Opening one they could not is a staff access: an entry with reason
//! `report-review` and the report as reference goes to the transparency log first.

use crate::access;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::staff;
use crate::state::AppState;
use crate::views::{self, rfc3339, BriefAccount};
use kinora_core::moderation::{AccessReason, AccessScope, ActionReason, ModAction, ReportReason, ReportStatus, ReportedKind};
use kinora_core::policy;
use kinora_core::{ErrorCode, Id};
use kinora_db::{AccountRepo, ActionRow, Effect, NewAction, ReportRow, VideoRepo, VideoRow};
use serde::Serialize;

/// A reported item as the queue shows it.
#[derive(Debug, Serialize)]
pub struct ReportedItem {
    pub kind: ReportedKind,
    pub id: Option<String>,
    /// The account the item belongs to (the one an action would affect).
    pub account: Option<BriefAccount>,
    /// Whether the moderator could see it as an ordinary user. If not, `summary`
    /// is empty and opening the report is a logged access.
    pub visible_to_you: bool,
    /// The caption, comment text or display name, when visible.
    pub summary: Option<String>,
}

/// The action an appeal contests.
#[derive(Debug, Serialize)]
pub struct ActionView {
    pub id: Id,
    pub action: ModAction,
    pub reason: ActionReason,
    pub note: String,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct ReportView {
    pub id: Id,
    pub reason: ReportReason,
    pub details: String,
    pub status: ReportStatus,
    /// `report` or `appeal`.
    pub kind: &'static str,
    pub created_at: String,
    pub item: ReportedItem,
    /// For an appeal: the action appealed.
    pub appeal_of: Option<ActionView>,
    /// Decisions taken on this report.
    pub decisions: Vec<ActionView>,
}

#[derive(Debug, Serialize)]
pub struct ReportPage {
    pub items: Vec<ReportView>,
    pub next_cursor: Option<String>,
    /// Open reports and open appeals, whatever the filter.
    pub open: OpenCounts,
}

#[derive(Debug, Serialize)]
pub struct OpenCounts {
    pub reports: i64,
    pub appeals: i64,
}

/// A report opened for review: the item in full, through the door.
#[derive(Debug, Serialize)]
pub struct ReviewView {
    pub report: ReportView,
    /// Set when opening it was a logged staff access.
    pub log_index: Option<u64>,
    /// The item is hidden from the moderator as an ordinary user and was not opened:
    /// `data` is null until they open it (`POST .../open`, a logged access).
    pub needs_open: bool,
    /// The item's data: video (with time-limited media links), comment or account.
    pub data: serde_json::Value,
}

fn action_view(a: &ActionRow) -> ActionView {
    ActionView { id: a.id.clone(), action: a.action, reason: a.reason, note: a.note.clone(), created_at: rfc3339(a.created_at) }
}

/// The reported items of many reports, in four queries whatever their number
/// (comments, videos, accounts, the caller's relations to their owners): each
/// item, the account it belongs to, and whether the caller may see it as an
/// ordinary user (the same rules as `access::visible_comment`, `visible_video` and
/// `visible_account`).
async fn resolve_items(st: &AppState, caller: &Caller, reports: &[ReportRow]) -> AppResult<Vec<(ReportedItem, Option<Id>)>> {
    let comment_ids: Vec<Id> = reports.iter().filter_map(|r| r.comment_id.clone()).collect();
    let comments = st.db.comments_any_state(&comment_ids).await?;
    let mut video_ids: Vec<Id> = reports.iter().filter(|r| r.comment_id.is_none()).filter_map(|r| r.video_id.clone()).collect();
    video_ids.extend(comments.values().map(|(video, ..)| video.clone()));
    let videos = st.db.videos_by_ids(&video_ids).await?;
    let mut account_ids: Vec<Id> = reports.iter().filter(|r| r.comment_id.is_none() && r.video_id.is_none()).filter_map(|r| r.account_id.clone()).collect();
    account_ids.extend(comments.values().map(|(_, author, ..)| author.clone()));
    account_ids.extend(videos.values().map(|v| v.account_id.clone()));
    let accounts = st.db.accounts_by_ids(&account_ids).await?;
    let rels = access::relations(st, caller, &account_ids).await?;
    let may_see_account = |id: &Id| rels.get(id).is_some_and(|rel| policy::can_view_account(*rel));
    let may_see_video = |v: &VideoRow| rels.get(&v.account_id).is_some_and(|rel| policy::can_view_video(*rel, v.visibility, v.account_private, v.status));
    let mut out = Vec::new();
    for r in reports {
        let mut item = ReportedItem { kind: ReportedKind::Gone, id: None, account: None, visible_to_you: false, summary: None };
        let mut owner = None;
        if let Some(cid) = &r.comment_id {
            if let Some((video, author, body, deleted)) = comments.get(cid) {
                item.kind = ReportedKind::Comment;
                item.id = Some(cid.to_string());
                owner = Some(author.clone());
                if !deleted && videos.get(video).is_some_and(&may_see_video) && may_see_account(author) {
                    item.visible_to_you = true;
                    item.summary = Some(body.clone());
                }
            }
        } else if let Some(vid) = &r.video_id {
            if let Some(v) = videos.get(vid) {
                item.kind = ReportedKind::Video;
                item.id = Some(vid.to_string());
                owner = Some(v.account_id.clone());
                if may_see_video(v) {
                    item.visible_to_you = true;
                    item.summary = Some(v.caption.as_str().to_owned());
                }
            }
        } else if let Some(aid) = &r.account_id {
            if let Some(a) = accounts.get(aid) {
                item.kind = ReportedKind::Account;
                item.id = Some(a.username.to_string());
                owner = Some(a.id.clone());
                if may_see_account(&a.id) {
                    item.visible_to_you = true;
                    item.summary = Some(views::display_name(a));
                }
            }
        }
        if let Some(o) = &owner {
            item.account = accounts.get(o).map(views::brief);
        }
        out.push((item, owner));
    }
    Ok(out)
}

/// The views of many reports, in six queries whatever their number: the items
/// ([`resolve_items`]), the actions appealed, the decisions taken.
async fn report_views(st: &AppState, caller: &Caller, reports: &[ReportRow]) -> AppResult<Vec<(ReportView, Option<Id>)>> {
    let items = resolve_items(st, caller, reports).await?;
    let appealed: Vec<Id> = reports.iter().filter_map(|r| r.appeal_of.clone()).collect();
    let appealed: std::collections::HashMap<Id, ActionRow> = st.db.actions_by_ids(&appealed).await?.into_iter().map(|a| (a.id.clone(), a)).collect();
    let report_ids: Vec<Id> = reports.iter().map(|r| r.id.clone()).collect();
    let mut decisions: std::collections::HashMap<Id, Vec<ActionView>> = Default::default();
    for a in st.db.actions_for_reports(&report_ids).await? {
        decisions.entry(a.report_id.clone()).or_default().push(action_view(&a));
    }
    Ok(reports
        .iter()
        .zip(items)
        .map(|(r, (item, owner))| {
            let view = ReportView {
                id: r.id.clone(),
                reason: r.reason,
                details: r.details.clone(),
                status: r.status,
                kind: if r.appeal_of.is_some() { "appeal" } else { "report" },
                created_at: rfc3339(r.created_at),
                item,
                appeal_of: r.appeal_of.as_ref().and_then(|a| appealed.get(a)).map(action_view),
                decisions: decisions.remove(&r.id).unwrap_or_default(),
            };
            (view, owner)
        })
        .collect())
}

async fn report_view(st: &AppState, caller: &Caller, r: &ReportRow) -> AppResult<(ReportView, Option<Id>)> {
    report_views(st, caller, std::slice::from_ref(r)).await?.pop().ok_or_else(|| AppError::internal("no view for a report"))
}

/// The account a report's item belongs to, and the item as the queue shows it.
async fn resolve_item(st: &AppState, caller: &Caller, r: &ReportRow) -> AppResult<(ReportedItem, Option<Id>)> {
    resolve_items(st, caller, std::slice::from_ref(r)).await?.pop().ok_or_else(|| AppError::internal("no item for a report"))
}

/// Queue filters, parsed at the edge.
#[derive(Debug, Default)]
pub struct QueueFilter {
    pub status: Option<String>,
    /// `report`, `appeal` or any.
    pub kind: Option<String>,
    pub reason: Option<String>,
}

/// `GET /api/v1/staff/reports`: the queue, oldest first.
pub async fn queue(st: &AppState, caller: &Caller, f: &QueueFilter, page: &views::PageRequest) -> AppResult<ReportPage> {
    staff::role(st, caller).await?;
    let status = match f.status.as_deref().unwrap_or("open") {
        "all" | "" => None,
        s => Some(ReportStatus::parse(s).ok_or_else(|| AppError::new(ErrorCode::InvalidField, format!("status: one of {}, all", ReportStatus::allowed())))?),
    };
    let appeals = match f.kind.as_deref().unwrap_or("") {
        "" | "all" => None,
        "report" => Some(false),
        "appeal" => Some(true),
        _ => return Err(AppError::new(ErrorCode::InvalidField, "kind: report, appeal or all")),
    };
    let reason = match f.reason.as_deref().unwrap_or("") {
        "" | "all" => None,
        r => Some(ReportReason::parse(r).ok_or_else(|| AppError::new(ErrorCode::InvalidField, format!("reason: one of {}", ReportReason::allowed())))?),
    };
    // Filtering by reason happens over a window of the queue; the cursor still moves
    // over every report, so pages may be short but nothing is skipped.
    let after = page.cursor.as_ref().map(|c| (c.key, c.id.as_str()));
    let rows = st.db.reports(status, appeals, after, page.limit).await?;
    let next_cursor = page.next(&rows, |r| (r.created_at, &r.id));
    let shown: Vec<ReportRow> = rows.iter().filter(|r| reason.is_none_or(|x| r.reason == x)).cloned().collect();
    let items = report_views(st, caller, &shown).await?.into_iter().map(|(view, _)| view).collect();
    let (reports, appeals) = st.db.open_report_counts().await?;
    Ok(ReportPage { items, next_cursor, open: OpenCounts { reports, appeals } })
}

async fn report_row(st: &AppState, id: &str) -> AppResult<ReportRow> {
    let id = Id::parse(id).ok_or_else(AppError::not_found)?;
    st.db.report_by_id(&id).await?.ok_or_else(AppError::not_found)
}

/// How a report is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// `GET`: the report, and its item only if the moderator could see it anyway.
    /// Never appends to the log (a link on another site cannot make a moderator's
    /// browser log accesses).
    Look,
    /// `POST .../open`: a hidden item is opened, a logged access.
    Open,
    /// `GET` after an opening: the item is shown again under log entry N when that
    /// entry is this moderator's opening of this report, less than
    /// [`staff::MEDIA_GRANT_SECS`] ago; else as [`Opening::Look`].
    Opened(u64),
}

/// Does log entry `index` record `actor` opening report `report_id` recently?
async fn covered_by(st: &AppState, index: u64, actor: &str, report_id: &Id) -> AppResult<bool> {
    let Ok(i) = i64::try_from(index) else { return Ok(false) };
    let Some(text) = st.db.log_entries(i, i.saturating_add(1)).await?.into_iter().next() else { return Ok(false) };
    let Ok(e) = kinora_translog::Entry::parse(text.as_bytes()) else { return Ok(false) };
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(&e.time) else { return Ok(false) };
    let age_ms = kinora_db::now_ms() - at.timestamp_millis();
    Ok(e.actor == actor
        && e.reason == AccessReason::ReportReview.as_str()
        && e.reference == format!("report:{report_id}")
        && (0..staff::MEDIA_GRANT_SECS * 1000).contains(&age_ms))
}

/// A report with its item. If the moderator could not see the item as an ordinary
/// user, reading it is a staff access (reason `report-review`, reference
/// `report:<id>`), logged before anything is read, and only on [`Opening::Open`].
pub async fn review(st: &AppState, caller: &Caller, id: &str, how: Opening) -> AppResult<ReviewView> {
    let role = staff::role(st, caller).await?;
    let me = caller.require()?;
    let r = report_row(st, id).await?;
    let (view, owner) = report_view(st, caller, &r).await?;
    let mut log_index = None;
    if !view.item.visible_to_you && owner.is_some() {
        let covered = match how {
            Opening::Opened(n) if covered_by(st, n, me.username.as_str(), &r.id).await? => Some(n),
            _ => None,
        };
        if let Some(n) = covered {
            log_index = Some(n);
        } else if how != Opening::Open {
            return Ok(ReviewView { report: view, log_index: None, needs_open: true, data: serde_json::Value::Null });
        }
    }
    if !view.item.visible_to_you && log_index.is_none() {
        if let Some(owner) = &owner {
            let scope = match view.item.kind {
                ReportedKind::Video => AccessScope::Videos,
                ReportedKind::Comment => AccessScope::Comments,
                ReportedKind::Account | ReportedKind::Gone => AccessScope::Profile,
            };
            let e = staff::entry(
                me.username.as_str(),
                role,
                crate::transparency::commit(st, owner),
                &[scope],
                AccessReason::ReportReview,
                &format!("report:{}", r.id),
            );
            log_index = Some(st.log.append(&st.db, &e, Some(owner)).await?);
        }
    }
    // From here on the item may be read: it is visible to the moderator anyway, or
    // the access is in the log.
    let data = match view.item.kind {
        ReportedKind::Video => {
            let vid = r.video_id.clone().ok_or_else(AppError::not_found)?;
            let v = st.db.video_by_id(&vid).await?.ok_or_else(AppError::not_found)?;
            let media = staff::media_links(st, &me.id, std::slice::from_ref(&vid)).await?.remove(&vid).unwrap_or_default();
            serde_json::json!({
                "id": v.id, "caption": v.caption.as_str(), "visibility": v.visibility, "status": v.status,
                "author": v.username.as_str(), "created_at": rfc3339(v.created_at),
                "media": media, "media_expires_in_s": staff::MEDIA_GRANT_SECS,
            })
        }
        ReportedKind::Comment => {
            let cid = r.comment_id.clone().ok_or_else(AppError::not_found)?;
            let (video_id, author, body, removed) = st.db.comment_any_state(&cid).await?.ok_or_else(AppError::not_found)?;
            let author = st.db.account_by_id(&author).await?.map(|a| a.username.to_string());
            serde_json::json!({"id": cid, "video_id": video_id, "author": author, "text": body, "removed": removed})
        }
        ReportedKind::Account => {
            let a = st.db.account_by_id(owner.as_ref().ok_or_else(AppError::not_found)?).await?.ok_or_else(AppError::not_found)?;
            serde_json::json!({
                "username": a.username.as_str(), "display_name": views::display_name(&a), "bio": a.bio,
                "private": a.private, "avatar_url": views::avatar_url(&a), "created_at": rfc3339(a.created_at),
                "standing": standing_str(a.standing),
            })
        }
        _ => serde_json::Value::Null,
    };
    Ok(ReviewView { report: view, log_index, needs_open: false, data })
}

fn standing_str(s: policy::Standing) -> &'static str {
    match s {
        policy::Standing::Good => "good",
        policy::Standing::Restricted => "restricted",
        policy::Standing::Suspended => "suspended",
    }
}

/// A decision, parsed at the edge ([`Decision::parse`]).
#[derive(Debug)]
pub struct Decision {
    pub report_id: String,
    pub action: ModAction,
    pub reason: ActionReason,
    pub note: String,
}

impl Decision {
    /// From the API's or the form's fields, with a clear error naming the field.
    pub fn parse(report_id: String, action: &str, reason: &str, note: String) -> AppResult<Decision> {
        let action = ModAction::parse(action).ok_or_else(|| AppError::new(ErrorCode::InvalidField, format!("action: one of {}", ModAction::allowed())))?;
        let reason =
            ActionReason::parse(reason).ok_or_else(|| AppError::new(ErrorCode::InvalidField, format!("reason: one of {}", ActionReason::allowed())))?;
        Ok(Decision { report_id, action, reason, note })
    }
}

#[derive(Debug, Serialize)]
pub struct Decided {
    pub id: Id,
    pub report_id: Id,
    pub action: ModAction,
    pub reason: ActionReason,
    /// The report's status now: `actioned` or `dismissed`.
    pub report_status: ReportStatus,
}

/// `POST /api/v1/staff/actions`.
#[tracing::instrument(name = "moderation.act", skip_all, fields(report = %d.report_id, action = %d.action))]
pub async fn act(st: &AppState, caller: &Caller, d: Decision) -> AppResult<Decided> {
    staff::role(st, caller).await?;
    let me = caller.require()?;
    let note = crate::accounts::clean_text("note", &d.note, 1000)?;
    let r = report_row(st, &d.report_id).await?;
    if r.status != ReportStatus::Open {
        return Err(AppError::new(ErrorCode::Conflict, format!("report {} is {} already", r.id, r.status)));
    }
    let (item, owner) = resolve_item(st, caller, &r).await?;
    if owner.as_ref() == Some(&me.id) {
        return Err(AppError::forbidden("a report about your own content or account is for another moderator"));
    }
    let undoes = match &r.appeal_of {
        Some(a) => Some(st.db.action_by_id(a).await?.ok_or_else(AppError::not_found)?),
        None => None,
    };
    let effect = match (d.action, undoes.is_some()) {
        (ModAction::Dismiss, _) => Effect::None,
        (ModAction::Reinstate, true) => Effect::Reinstate,
        (ModAction::Reinstate, false) => return Err(AppError::new(ErrorCode::InvalidField, "action: reinstate answers an appeal; this is a report")),
        (_, true) => return Err(AppError::new(ErrorCode::InvalidField, "action: an appeal is answered with reinstate or dismiss (the decision stands)")),
        (ModAction::Remove, false) if matches!(item.kind, ReportedKind::Video | ReportedKind::Comment) => Effect::Remove,
        (ModAction::Remove, false) => {
            return Err(AppError::new(ErrorCode::InvalidField, "action: remove takes a video or a comment; restrict or suspend an account"))
        }
        (ModAction::Restrict, false) => Effect::Restrict,
        (ModAction::Suspend, false) => Effect::Suspend,
    };
    if effect != Effect::None && effect != Effect::Reinstate && owner.is_none() {
        return Err(AppError::new(ErrorCode::Conflict, "the reported item no longer exists; dismiss the report"));
    }
    let (video, comment) = match (effect, &undoes) {
        (Effect::Reinstate, Some(u)) => (u.video_id.clone(), u.comment_id.clone()),
        _ => (r.video_id.clone(), r.comment_id.clone()),
    };
    // The person affected: the item's owner (for an appeal, the appellant).
    let subject = match &undoes {
        Some(u) => u.subject_id.clone(),
        None if effect == Effect::None => None,
        None => owner.clone(),
    };
    let video_for_notice = if comment.is_some() { None } else { video.clone() };
    let id = st
        .db
        .act(NewAction {
            report: &r,
            actor: &me.id,
            action: d.action,
            effect,
            reason: d.reason,
            note: &note,
            subject: subject.as_ref(),
            video: video_for_notice.as_ref(),
            comment: comment.as_ref(),
            undoes: undoes.as_ref(),
        })
        .await
        .map_err(|e| if e.is_conflict() { AppError::new(ErrorCode::Conflict, "another moderator decided this report first") } else { e.into() })?;
    if effect != Effect::None {
        if let Some(v) = &video {
            st.recommender.video_changed(v);
        }
        if let Some(a) = &subject {
            st.recommender.account_changed(a);
        }
    }
    Ok(Decided {
        id,
        report_id: r.id,
        action: d.action,
        reason: d.reason,
        report_status: if effect == Effect::None { ReportStatus::Dismissed } else { ReportStatus::Actioned },
    })
}

/// What a `moderation` notification tells the affected person.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub action_id: Id,
    pub action: ModAction,
    pub reason: ActionReason,
    pub note: String,
    /// `video`, `comment` or `account`.
    pub target: &'static str,
    /// `none` (may appeal), `open`, `upheld`, `reinstated`; `final` for decisions on
    /// an appeal, which cannot be appealed again.
    pub appeal: &'static str,
    pub can_appeal: bool,
}

/// The notice for a moderation notification.
pub async fn notice(st: &AppState, action: &Id) -> AppResult<Option<Notice>> {
    Ok(notices(st, std::slice::from_ref(action)).await?.remove(action))
}

/// The notices of many moderation notifications, in three queries whatever their
/// number: the actions, the reports they decided, the appeals filed against them.
pub async fn notices(st: &AppState, actions: &[Id]) -> AppResult<std::collections::HashMap<Id, Notice>> {
    let actions = st.db.actions_by_ids(actions).await?;
    if actions.is_empty() {
        return Ok(Default::default());
    }
    let report_ids: Vec<Id> = actions.iter().map(|a| a.report_id.clone()).collect();
    let decided_appeals: std::collections::HashSet<Id> =
        st.db.reports_by_ids(&report_ids).await?.into_iter().filter(|r| r.appeal_of.is_some()).map(|r| r.id).collect();
    let action_ids: Vec<Id> = actions.iter().map(|a| a.id.clone()).collect();
    let appeals: std::collections::HashMap<Id, ReportRow> =
        st.db.appeals_of_actions(&action_ids).await?.into_iter().filter_map(|r| Some((r.appeal_of.clone()?, r))).collect();
    let mut out = std::collections::HashMap::new();
    for a in actions {
        let appeal = if decided_appeals.contains(&a.report_id) || a.action == ModAction::Dismiss {
            "final"
        } else {
            match appeals.get(&a.id) {
                None => "none",
                Some(r) if r.status == ReportStatus::Open => "open",
                Some(r) if r.status == ReportStatus::Actioned => "reinstated",
                Some(_) => "upheld",
            }
        };
        let target = if a.comment_id.is_some() {
            "comment"
        } else if a.video_id.is_some() {
            "video"
        } else {
            "account"
        };
        let notice = Notice { action_id: a.id.clone(), action: a.action, reason: a.reason, note: a.note.clone(), target, can_appeal: appeal == "none", appeal };
        out.insert(a.id, notice);
    }
    Ok(out)
}

#[derive(Debug, Serialize)]
pub struct Appealed {
    pub id: Id,
    pub status: &'static str,
}

/// `POST /api/v1/moderation/{action_id}/appeal`: once per action, by the person it
/// affected; anyone else gets a 404.
pub async fn appeal(st: &AppState, caller: &Caller, action: &str, text: &str) -> AppResult<Appealed> {
    let me = caller.require()?;
    let aid = Id::parse(action).ok_or_else(AppError::not_found)?;
    let a = st.db.action_by_id(&aid).await?.ok_or_else(AppError::not_found)?;
    if a.subject_id.as_ref() != Some(&me.id) {
        return Err(AppError::not_found());
    }
    let n = notice(st, &aid).await?.ok_or_else(AppError::not_found)?;
    if !n.can_appeal {
        return Err(AppError::new(ErrorCode::Conflict, format!("this decision cannot be appealed (appeal: {})", n.appeal)));
    }
    let text = crate::accounts::clean_text("text", text, 2000)?;
    if text.trim().is_empty() {
        return Err(AppError::new(ErrorCode::InvalidField, "text: say why the decision is wrong"));
    }
    let id = st.db.appeal(&a, &me.id, &text).await.map_err(|e| {
        if e.is_conflict() {
            AppError::new(ErrorCode::Conflict, "this decision was appealed already")
        } else {
            e.into()
        }
    })?;
    Ok(Appealed { id, status: "open" })
}

/// One row of the public report: in `month`, `count` actions of this kind and reason.
#[derive(Debug, Serialize)]
pub struct ActionCount {
    pub month: String,
    pub action: ModAction,
    pub reason: ActionReason,
    pub count: u64,
}

/// Moderation actions per month by kind and reason, for `/transparency`.
pub async fn action_counts(st: &AppState) -> AppResult<Vec<ActionCount>> {
    let mut tally: std::collections::BTreeMap<(String, ModAction, ActionReason), u64> = Default::default();
    for (at, action, reason) in st.db.action_tally(0).await? {
        let month = rfc3339(at).get(..7).unwrap_or("").to_owned();
        *tally.entry((month, action, reason)).or_default() += 1;
    }
    let mut rows: Vec<ActionCount> = tally.into_iter().map(|((month, action, reason), count)| ActionCount { month, action, reason, count }).collect();
    rows.sort_by(|a, b| b.month.cmp(&a.month).then(a.action.cmp(&b.action)).then(a.reason.cmp(&b.reason)));
    Ok(rows)
}
