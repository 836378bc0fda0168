//! `/admin` (staff only; everyone else gets the not-found page): the moderation
//! queue with filters, and a report opened for review. Opening an item the
//! moderator could not otherwise see goes through `kinora_app::moderation::review`,
//! which logs the access first; decisions are made with `POST /api/v1/staff/actions`.

use super::{not_found_page, page_error, render, Layout};
use crate::extract::Viewer;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use kinora_app::moderation::{self, QueueFilter, ReportView};
use kinora_app::views::PageRequest;
use kinora_app::{staff, AppState};
use kinora_core::moderation::{ActionReason, ModAction, ReportReason, ReportStatus, ReportedKind, StaffRole};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct QueueParams {
    status: Option<String>,
    kind: Option<String>,
    reason: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct QueuePage {
    layout: Layout,
    role: StaffRole,
    items: Vec<ReportView>,
    next: Option<String>,
    status: String,
    kind: String,
    reason: String,
    reasons: Vec<&'static str>,
    open_reports: i64,
    open_appeals: i64,
}

/// "2026-11-29 21:33 UTC" from an RFC 3339 time.
fn when(t: &str) -> String {
    match (t.get(..10), t.get(11..16)) {
        (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
        _ => t.to_owned(),
    }
}

impl ReportPage {
    // Templates call methods on `self`.
    #[allow(clippy::unused_self)]
    fn when(&self, t: &str) -> String {
        when(t)
    }
}

impl QueuePage {
    // Templates call methods on `self`.
    #[allow(clippy::unused_self)]
    fn when(&self, t: &str) -> String {
        when(t)
    }

    fn next_href(&self) -> Option<String> {
        self.next.as_ref().map(|c| format!("/admin?status={}&kind={}&reason={}&cursor={}", self.status, self.kind, self.reason, c))
    }
}

/// `GET /admin`: the queue, oldest first.
pub async fn admin_queue(State(st): State<AppState>, viewer: Viewer, Query(p): Query<QueueParams>) -> Response {
    if viewer.account().is_none() {
        return Redirect::to("/login?next=/admin").into_response();
    }
    let Ok(role) = staff::role(&st, &viewer.caller).await else { return not_found_page(&viewer) };
    let f = QueueFilter { status: p.status.clone(), kind: p.kind.clone(), reason: p.reason.clone() };
    let page = match PageRequest::parse(p.cursor.as_deref(), Some("20")) {
        Ok(page) => page,
        Err(e) => return page_error(&viewer, e),
    };
    match moderation::queue(&st, &viewer.caller, &f, &page).await {
        Ok(q) => {
            let reasons = ReportReason::ALL.iter().map(|r| r.as_str()).collect();
            render(QueuePage {
                layout: Layout::new(&viewer, "me"),
                role,
                items: q.items,
                next: q.next_cursor,
                status: p.status.unwrap_or_else(|| "open".into()),
                kind: p.kind.unwrap_or_else(|| "all".into()),
                reason: p.reason.unwrap_or_else(|| "all".into()),
                reasons,
                open_reports: q.open.reports,
                open_appeals: q.open.appeals,
            })
        }
        Err(e) => page_error(&viewer, e),
    }
}

#[derive(Template)]
#[template(path = "admin-report.html")]
struct ReportPage {
    layout: Layout,
    r: ReportView,
    log_index: Option<u64>,
    needs_open: bool,
    /// A playable rendition and poster (time-limited links for this moderator).
    video_src: Option<String>,
    poster: Option<String>,
    /// The caption, comment text or account's name and bio.
    text: String,
    author: Option<String>,
    state: String,
    actions: Vec<ModAction>,
    reasons: Vec<ActionReason>,
}

#[derive(Deserialize)]
pub struct OpenedQuery {
    opened: Option<String>,
}

/// `GET /admin/reports/{id}[?opened=N]`: the report and its item, then the decision
/// form. A hidden item is shown only under the moderator's own recent opening (log
/// entry N, made by the page's "Open" button, a POST); this GET never appends.
pub async fn admin_report(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>, Query(q): Query<OpenedQuery>) -> Response {
    if viewer.account().is_none() {
        return Redirect::to("/login?next=/admin").into_response();
    }
    if staff::role(&st, &viewer.caller).await.is_err() {
        return not_found_page(&viewer);
    }
    let how = match q.opened.as_deref().and_then(|n| n.parse::<u64>().ok()) {
        Some(n) => moderation::Opening::Opened(n),
        None => moderation::Opening::Look,
    };
    let rv = match moderation::review(&st, &viewer.caller, &id, how).await {
        Ok(rv) => rv,
        Err(e) => return page_error(&viewer, e),
    };
    let d = &rv.data;
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let media: Vec<String> =
        d.get("media").and_then(|m| m.as_array()).map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_owned)).collect()).unwrap_or_default();
    // The smallest rendition plays soonest on a phone.
    let video_src = media
        .iter()
        .filter(|u| u.contains(".mp4"))
        .min_by_key(|u| u.split('/').nth(3).and_then(|n| n.split(['-', 'p', '.']).find_map(|x| x.parse::<u32>().ok())).unwrap_or(u32::MAX))
        .cloned();
    let poster = media.iter().find(|u| u.contains("/poster-")).cloned();
    let (text, author, state) = match rv.report.item.kind {
        ReportedKind::Video => {
            (s("caption").unwrap_or_default(), s("author"), format!("{} · {}", s("visibility").unwrap_or_default(), s("status").unwrap_or_default()))
        }
        ReportedKind::Comment => (
            s("text").unwrap_or_default(),
            s("author"),
            if d.get("removed").and_then(|v| v.as_bool()) == Some(true) { "removed".into() } else { "visible".into() },
        ),
        ReportedKind::Account => (
            format!("{} — {}", s("display_name").unwrap_or_default(), s("bio").unwrap_or_default()),
            s("username"),
            format!("{} · {}", if d.get("private").and_then(|v| v.as_bool()) == Some(true) { "private" } else { "public" }, s("standing").unwrap_or_default()),
        ),
        ReportedKind::Gone => ("This item no longer exists.".into(), None, "gone".into()),
    };
    use ModAction::{Dismiss, Reinstate, Remove, Restrict, Suspend};
    let actions = if rv.report.status != ReportStatus::Open {
        vec![]
    } else if rv.report.kind == "appeal" {
        vec![Reinstate, Dismiss]
    } else {
        match rv.report.item.kind {
            ReportedKind::Video | ReportedKind::Comment => vec![Remove, Restrict, Suspend, Dismiss],
            ReportedKind::Account => vec![Restrict, Suspend, Dismiss],
            ReportedKind::Gone => vec![Dismiss],
        }
    };
    render(ReportPage {
        layout: Layout::new(&viewer, "me"),
        log_index: rv.log_index,
        needs_open: rv.needs_open,
        r: rv.report,
        video_src,
        poster,
        text,
        author,
        state,
        actions,
        reasons: ActionReason::all(),
    })
}
