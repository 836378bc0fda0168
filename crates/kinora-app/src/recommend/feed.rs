//! The For You service: a page ranked by the model, the access policy applied,
//! assembled from the replicas, all from memory; its cursors (sessions that never
//! repeat a video); "not interested"; the personalisation switch. The model and
//! its replicas of the database are the parent module's [`Recommender`].

use super::*;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{self, VideoView};
use kinora_core::{ErrorCode, Id};
use kinora_recommend::{Event, EventKind, PageRules};
use serde::Serialize;
use std::collections::HashSet;

/// A For You page with a reason per video.
#[derive(Debug, Serialize)]
pub struct ForYouPage {
    pub items: Vec<VideoView>,
    pub next_cursor: Option<String>,
    /// Whether this page was personalised (false: the feed without profiling).
    pub personalized: bool,
    /// Authors on this page the caller follows (for the web UI's Follow buttons).
    #[serde(skip)]
    pub followed_authors: HashSet<Id>,
}

/// `?cursor=` of For You: `r1.<session>.<position>` (hex; `r1.<session>` is
/// position 0).
fn parse_cursor(c: Option<&str>) -> AppResult<Option<(u64, usize)>> {
    let bad = || AppError::new(ErrorCode::InvalidField, "cursor: not a cursor this server issued");
    match c {
        None | Some("") => Ok(None),
        Some(c) => {
            let rest = c.strip_prefix("r1.").ok_or_else(bad)?;
            let (sid, pos) = rest.split_once('.').unwrap_or((rest, "0"));
            let sid = u64::from_str_radix(sid, 16).map_err(|_| bad())?;
            let pos = usize::from_str_radix(pos, 16).map_err(|_| bad())?;
            Ok(Some((sid, pos.min(MAX_REPLAY))))
        }
    }
}

impl Inner {
    /// A session for a cursor this process does not know: what the viewer was
    /// shown in the last hour (impressions, written by every node), and for the
    /// feed without profiling, its first `position` videos, replayed.
    fn rebuild_session(&self, owner: Option<Id>, viewer: Option<u32>, personalized: bool, position: usize, rules: &PageRules, now: i64) -> Session {
        let mut s = Session { owner, served: HashSet::new(), position: 0, last_creator: None, touched_ms: now };
        if position == 0 {
            return s;
        }
        if let Some(us) = viewer.and_then(|u| self.model.users.get(u as usize)) {
            s.served.extend(us.served.iter().filter(|(_, t)| now - **t < SESSION_MS).map(|(i, _)| *i));
        }
        if !personalized {
            // Replayed page by page as it was served, for at most 25 pages (so a
            // made-up cursor costs at most 25 rankings).
            let position = position.min(rules.size.saturating_mul(25));
            while s.position < position {
                let page = self.model.rank_unpersonalized_after(viewer, now, &s.served, rules, s.last_creator);
                if page.is_empty() {
                    break;
                }
                s.position += page.len();
                s.served.extend(page.iter().map(|p| p.item));
                s.last_creator = page.last().and_then(|p| self.model.items.get(p.item as usize)).map(|m| m.creator);
            }
        }
        s.position = position;
        s
    }
}

/// Whether the caller gets the personalised feed: signed in, `personalized_feed`
/// on (read with the account at sign-in, no extra query), and not asked otherwise.
pub fn wants_personalized(caller: &Caller, asked: Option<bool>) -> bool {
    asked != Some(false) && caller.account.as_ref().is_some_and(|a| a.personalized_feed)
}

/// A For You page: ranked, then the access policy, then assembled, all from
/// memory (see the module comment); and the cursor.
async fn page(
    st: &AppState,
    caller: &Caller,
    personalized: bool,
    cursor: Option<&str>,
    limit: i64,
) -> AppResult<(Vec<VideoView>, Option<String>, HashSet<Id>)> {
    let sid = parse_cursor(cursor)?;
    let now = kinora_db::now_ms();
    let rec = &st.recommender;
    if !rec.inner.read().await.loaded {
        rec.load(&st.db).await?;
    }
    let size = usize::try_from(limit.clamp(1, 100)).unwrap_or(20);
    let rules = PageRules {
        size,
        // "At most two per page of ten", for any page size.
        max_per_creator: (size * 2).div_ceil(10).max(1),
        max_per_tag: (size * 6).div_ceil(10).max(1),
        explore_slots: if personalized { (size * 2) / 10 } else { 0 },
    };
    // What this process just changed is in this page: the replicas catch up
    // before ranking.
    rec.catch_up(&st.db).await?;
    let (items, picks, sid, ids, position, followed) = {
        let g = rec.inner.read().await;
        let viewer = caller.id().and_then(|id| g.account_index.get(id).copied());
        let mut sessions = rec.sessions.lock().map_err(|_| AppError::internal("sessions lock"))?;
        // A session of someone else's is not continued (a new one starts); one
        // this process does not know is rebuilt.
        let (sid, position) = match sid {
            Some((s, _)) if sessions.get(&s).is_some_and(|x| x.owner.as_ref() != caller.id()) => (rec.new_session_id(), 0),
            Some((s, pos)) => (s, pos),
            None => (rec.new_session_id(), 0),
        };
        // Expired sessions go; a cap keeps memory bounded.
        if sessions.len() > MAX_SESSIONS {
            let mut by_age: Vec<(i64, u64)> = sessions.iter().map(|(k, s)| (s.touched_ms, *k)).collect();
            by_age.sort_unstable();
            for (_, k) in by_age.into_iter().take(MAX_SESSIONS / 10) {
                sessions.remove(&k);
            }
        }
        sessions.retain(|_, s| now - s.touched_ms < SESSION_MS);
        let known = sessions.remove(&sid);
        drop(sessions);
        let mut session = known.unwrap_or_else(|| g.rebuild_session(caller.id().cloned(), viewer, personalized, position, &rules, now));
        let mut rng = rand::thread_rng();
        let page = match (personalized, viewer) {
            (true, Some(u)) => g.model.rank_after(u, now, &session.served, &rules, session.last_creator, &mut rng),
            // A viewer the model has never seen: cold start is the personalised
            // ranking with no history (user ids past the end have none).
            (true, None) => g.model.rank_after(u32::MAX, now, &session.served, &rules, session.last_creator, &mut rng),
            _ => g.model.rank_unpersonalized_after(viewer, now, &session.served, &rules, session.last_creator),
        };
        for p in &page {
            session.served.insert(p.item);
        }
        session.position += page.len();
        session.last_creator = page.last().and_then(|p| g.model.items.get(p.item as usize)).map(|m| m.creator);
        session.touched_ms = now;
        // The access policy, last: only what For You may show this viewer.
        let mut items = Vec::with_capacity(page.len());
        let mut ids = Vec::with_capacity(page.len());
        for p in page.iter().filter(|p| g.may_show(viewer, p.item)) {
            let Some(card) = g.cards.get(&p.item) else {
                continue;
            };
            // The personalised feed offers nothing the viewer liked; the other one
            // asks below.
            let mut v = views::video_from(st, &card.row, &card.objects, false);
            v.reason = Some(ReasonView { code: p.reason.code.as_str(), text: g.reason_text(&p.reason) });
            ids.push(card.row.id.clone());
            items.push(v);
        }
        // Whom of these authors the caller follows (as far as the model knows: a
        // follow made elsewhere arrives within seconds).
        let follows = viewer.and_then(|u| g.model.users.get(u as usize)).map(|us| &us.follows);
        let followed: HashSet<Id> = page
            .iter()
            .filter_map(|p| g.model.items.get(p.item as usize))
            .filter(|m| follows.is_some_and(|f| f.contains(&m.creator)))
            .filter_map(|m| g.account_ids.get(m.creator as usize).cloned())
            .collect();
        let position = session.position;
        rec.sessions.lock().map_err(|_| AppError::internal("sessions lock"))?.insert(sid, session);
        (items, page.len(), sid, ids, position, followed)
    };
    let mut items = items;
    if let (false, Some(me)) = (personalized, caller.id()) {
        let liked = st.db.liked_among(me, &ids).await?;
        for v in &mut items {
            v.liked_by_me = liked.contains(&v.id);
        }
    }
    if let Some(me) = caller.id() {
        // Written by the poller within a second, then learned from.
        let mut p = rec.pending_impressions.lock().map_err(|_| AppError::internal("impressions lock"))?;
        p.extend(ids.into_iter().map(|v| (me.clone(), v, now)));
        rec.wake.notify_one();
    }
    let next = (picks == size).then(|| format!("r1.{sid:x}.{position:x}"));
    Ok((items, next, followed))
}

/// `GET /api/v1/feed/for-you`.
pub async fn for_you(st: &AppState, caller: &Caller, personalized: Option<bool>, cursor: Option<&str>, limit: i64) -> AppResult<ForYouPage> {
    let personalized = wants_personalized(caller, personalized);
    let (items, next_cursor, followed_authors) = page(st, caller, personalized, cursor, limit).await?;
    Ok(ForYouPage { items, next_cursor, personalized, followed_authors })
}

/// `POST`/`DELETE /api/v1/videos/{id}/not-interested`.
pub async fn not_interested(st: &AppState, caller: &Caller, id: &str, on: bool) -> AppResult<NotInterested> {
    let me = caller.require()?;
    let v = crate::access::visible_video(st, caller, id).await?;
    st.db.set_not_interested(&me.id, &v.id, on).await?;
    let mut g = st.recommender.inner.write().await;
    let user = g.account(&me.id);
    let item = g.video(&v.id);
    // Applied at once; when the poller reads the mark back, applying it again
    // changes nothing the feed uses.
    g.model.observe(&Event { user, item, kind: if on { EventKind::NotInterested } else { EventKind::Interested }, time_ms: kinora_db::now_ms() });
    Ok(NotInterested { video_id: v.id, not_interested: on })
}

#[derive(Debug, Serialize)]
pub struct NotInterested {
    pub video_id: Id,
    pub not_interested: bool,
}

/// `PATCH /api/v1/me` `personalized_feed`.
pub async fn set_personalized(st: &AppState, caller: &Caller, on: bool) -> AppResult<()> {
    let me = caller.require()?;
    st.db.set_personalized_feed(&me.id, on).await?;
    Ok(())
}
