//! For You on the server: the online model of `kinora-recommend`, fed from the
//! database. At start it replays every event the database holds (views, likes,
//! comments, follows, "not interested", impressions), so its state can always be
//! rebuilt, on any node; afterwards it polls for new events every two seconds (and
//! at once when this process records one). Pages come from the model and are
//! assembled from memory, with no query: the cards (row and served objects) of
//! every video For You may show anyone (`policy::discoverable`), and per viewer the
//! creators kept away from them (blocks either way, mutes). Both are replicas of
//! the database that this process updates before answering whatever request changed
//! them, and that catches changes made elsewhere (another node, the CLI) within a
//! second; the access policy is applied to every page last, from them. Counts on
//! cards are re-read every 30 s.
//!
//! Feed sessions (what a cursor has served, so pages never repeat) live in memory
//! for an hour. A cursor this process does not know (from another node, or from
//! before a restart) rebuilds its session: for a signed-in viewer from the
//! impressions every node writes (all they were shown in the last hour), and for
//! the feed without profiling, which is the same everywhere, by replaying it up to
//! the position the cursor names.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{self, VideoView};
use kinora_core::{ErrorCode, Id};
use kinora_db::{MediaObject, RecEvent, VideoRow};
use kinora_recommend::{Event, EventKind, ItemMeta, Model, PageRules, Params, Reason, ReasonCode};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

/// A cursor's position is honoured up to this many videos when its session is
/// rebuilt by replaying.
const MAX_REPLAY: usize = 500;
/// How long a feed session (its cursor) is remembered.
const SESSION_MS: i64 = 60 * 60 * 1000;
/// At most this many sessions are remembered (oldest dropped first).
const MAX_SESSIONS: usize = 100_000;
/// Events are re-read with this much overlap (and deduplicated), so an event
/// committed a moment late is not missed.
const OVERLAP_MS: i64 = 5_000;

#[derive(Debug)]
struct Session {
    /// The account the session belongs to (a cursor works for its viewer only).
    owner: Option<Id>,
    served: HashSet<u32>,
    /// How many videos this session's pages showed (the cursor's position).
    position: usize,
    last_creator: Option<u32>,
    touched_ms: i64,
}

/// What a feed card shows of a video: its row and served objects.
#[derive(Debug)]
struct Card {
    row: VideoRow,
    objects: Vec<MediaObject>,
    loaded_ms: i64,
}

#[derive(Debug, Default)]
struct Inner {
    /// Cards of the videos For You may show anyone, by item.
    cards: HashMap<u32, Card>,
    /// `feed_hidden_fingerprint` when blocks and mutes were last read, and the
    /// viewers that have creators kept away from them.
    hidden_fp: (i64, i64),
    hidden_viewers: HashSet<u32>,
    /// Viewers that follow hashtags.
    tag_viewers: HashSet<u32>,
    model: Model,
    video_index: HashMap<Id, u32>,
    video_ids: Vec<Id>,
    durations: Vec<i64>,
    account_index: HashMap<Id, u32>,
    /// Account index -> id.
    account_ids: Vec<Id>,
    /// Creator (account index) -> username, for explanations.
    usernames: HashMap<u32, String>,
    tag_index: HashMap<String, u32>,
    tag_names: Vec<String>,
    /// The newest event time read, and the events read at or after
    /// `watermark - OVERLAP_MS` (to skip them when read again).
    watermark: i64,
    recent: HashSet<RecEvent>,
    loaded: bool,
    /// `rec_fingerprint` when videos were last loaded, and when it was last checked.
    fingerprint: (i64, i64, i64),
    checked_ms: i64,
}

/// The recommender a server holds.
#[derive(Debug, Default)]
pub struct Recommender {
    inner: tokio::sync::RwLock<Inner>,
    /// Wakes the poller: an event was just recorded.
    pub wake: tokio::sync::Notify,
    next_session: AtomicU64,
    /// Set when this process changed what For You may show (a video published,
    /// edited, deleted, moderated; an account made private): the next page reloads
    /// video eligibility instead of waiting for the periodic check.
    changed: std::sync::atomic::AtomicBool,
    /// Set when this process made or undid a block or mute.
    relations_changed: std::sync::atomic::AtomicBool,
    /// Videos edited in this process whose cards are re-read before the next page.
    dirty_cards: std::sync::Mutex<HashSet<Id>>,
    /// Feed sessions, apart from the model so pages rank under a read lock.
    sessions: std::sync::Mutex<HashMap<u64, Session>>,
    /// Impressions served and not yet written: the poller writes them in one
    /// transaction (and reads them back as events), so a page never waits on a write.
    pending_impressions: std::sync::Mutex<Vec<(Id, Id, i64)>>,
}

/// Why a video is in the feed, for people.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReasonView {
    /// `following`, `similar`, `topic`, `trending`, `new`, `exploration`.
    pub code: &'static str,
    pub text: String,
}

/// Gives each viewer in `by` its set (through `set`), empties the sets of the
/// viewers in `had` that are no longer in `by`, and remembers who has one.
fn replace_sets(model: &mut Model, had: &mut HashSet<u32>, by: HashMap<u32, HashSet<u32>>, set: fn(&mut Model, u32, HashSet<u32>)) {
    for v in std::mem::take(had) {
        if !by.contains_key(&v) {
            set(model, v, HashSet::new());
        }
    }
    for (v, s) in by {
        had.insert(v);
        set(model, v, s);
    }
}

impl Inner {
    fn account(&mut self, id: &Id) -> u32 {
        let n = self.account_index.len() as u32;
        let k = *self.account_index.entry(id.clone()).or_insert(n);
        if k == n {
            self.account_ids.push(id.clone());
        }
        k
    }

    fn tag(&mut self, t: &str) -> u32 {
        let n = self.tag_names.len() as u32;
        let k = *self.tag_index.entry(t.to_owned()).or_insert(n);
        if k == n {
            self.tag_names.push(t.to_owned());
        }
        k
    }

    fn video(&mut self, id: &Id) -> u32 {
        let n = self.video_ids.len() as u32;
        let k = *self.video_index.entry(id.clone()).or_insert(n);
        if k == n {
            self.video_ids.push(id.clone());
            self.durations.push(0);
        }
        k
    }

    /// Reloads videos if anything about their eligibility changed; checked at most
    /// twice a second, so a video that just became ready is in the next page.
    async fn refresh_if_changed(&mut self, db: &kinora_db::Db, now: i64) -> AppResult<()> {
        if now - self.checked_ms < 500 {
            return Ok(());
        }
        self.checked_ms = now;
        if db.rec_fingerprint().await? != self.fingerprint {
            self.refresh_videos(db).await?;
        }
        Ok(())
    }

    /// Loads every video's metadata and eligibility (new uploads, visibility
    /// changes, deletions, restrictions).
    async fn refresh_videos(&mut self, db: &kinora_db::Db) -> AppResult<()> {
        self.fingerprint = db.rec_fingerprint().await?;
        let videos = db.rec_videos().await?;
        let mut tags: HashMap<Id, Vec<String>> = HashMap::new();
        for (v, t) in db.rec_tags().await? {
            tags.entry(v).or_default().push(t);
        }
        let mut present = HashSet::new();
        for v in videos {
            let i = self.video(&v.id);
            present.insert(i);
            let creator = self.account(&v.account_id);
            self.usernames.insert(creator, v.username.clone());
            let t: Vec<u32> = tags
                .get(&v.id)
                .map(|ts| ts.iter().map(|x| self.tag(x)).collect())
                .unwrap_or_default();
            self.durations[i as usize] = v.duration_ms;
            let meta = ItemMeta {
                creator,
                tags: t,
                created_ms: v.created_at,
                eligible: v.eligible,
            };
            let same = self.model.items.get(i as usize).is_some_and(|m| {
                m.eligible == meta.eligible
                    && m.tags == meta.tags
                    && m.creator == meta.creator
                    && m.created_ms == meta.created_ms
            });
            if !same {
                self.model.upsert_item(i, meta);
            }
        }
        // Deleted videos are no longer eligible.
        for i in 0..self.model.n_items() as u32 {
            if !present.contains(&i) && self.model.items[i as usize].eligible {
                let mut m = self.model.items[i as usize].clone();
                m.eligible = false;
                self.model.upsert_item(i, m);
            }
        }
        self.load_missing_cards(db).await
    }

    fn install_cards(&mut self, cards: Vec<(VideoRow, Vec<MediaObject>)>, loaded_ms: i64) {
        for (row, objects) in cards {
            let i = self.video(&row.id);
            // A card re-read after this read started (an edit) is newer: kept.
            if self.cards.get(&i).is_some_and(|c| c.loaded_ms > loaded_ms) {
                continue;
            }
            self.cards.insert(
                i,
                Card {
                    row,
                    objects,
                    loaded_ms,
                },
            );
        }
    }

    /// Cards for eligible videos that have none (just published, made public);
    /// cards of videos no longer eligible go.
    async fn load_missing_cards(&mut self, db: &kinora_db::Db) -> AppResult<()> {
        let items = &self.model.items;
        self.cards
            .retain(|i, _| items.get(*i as usize).is_some_and(|m| m.eligible));
        let missing: Vec<Id> = (0..self.model.items.len())
            .filter(|&i| self.model.items[i].eligible && !self.cards.contains_key(&(i as u32)))
            .filter_map(|i| self.video_ids.get(i).cloned())
            .collect();
        for chunk in missing.chunks(500) {
            let now = kinora_db::now_ms();
            let c = db.feed_cards(Some(chunk)).await?;
            self.install_cards(c, now);
        }
        Ok(())
    }

    /// Re-reads who is kept away from whom if blocks or mutes changed (`force`:
    /// without asking).
    async fn reload_hidden(&mut self, db: &kinora_db::Db, force: bool) -> AppResult<()> {
        let fp = db.feed_hidden_fingerprint().await?;
        if !force && fp == self.hidden_fp {
            return Ok(());
        }
        let mut by: HashMap<u32, HashSet<u32>> = HashMap::new();
        for (viewer, creator) in db.feed_hidden_pairs().await? {
            let (v, c) = (self.account(&viewer), self.account(&creator));
            by.entry(v).or_default().insert(c);
        }
        replace_sets(&mut self.model, &mut self.hidden_viewers, by, Model::set_hidden_creators);
        // Followed hashtags, the same way.
        let mut tags: HashMap<u32, HashSet<u32>> = HashMap::new();
        for (viewer, tag) in db.feed_tag_follows().await? {
            let (v, t) = (self.account(&viewer), self.tag(&tag));
            tags.entry(v).or_default().insert(t);
        }
        replace_sets(&mut self.model, &mut self.tag_viewers, tags, Model::set_followed_tags);
        self.hidden_fp = fp;
        Ok(())
    }

    /// The access policy, last, from the replicas: a card exists (the video is
    /// discoverable), and nothing keeps it from this viewer.
    fn may_show(&self, viewer: Option<u32>, item: u32) -> bool {
        self.cards.contains_key(&item)
            && self
                .model
                .items
                .get(item as usize)
                .is_some_and(|m| m.eligible)
            && !self.model.hidden(viewer, item)
    }

    fn apply(&mut self, e: &RecEvent) {
        let user = self.account(&e.account);
        let kind = match e.kind {
            "view" => {
                let Some(v) = &e.video else { return };
                let i = self.video(v);
                let d = self.durations.get(i as usize).copied().unwrap_or(0).max(0);
                EventKind::View {
                    watched_ms: u32::try_from(e.watched_ms.max(0)).unwrap_or(u32::MAX),
                    duration_ms: u32::try_from(d).unwrap_or(u32::MAX),
                    completed: e.completed,
                    replays: u8::try_from(e.replays.clamp(0, 255)).unwrap_or(0),
                }
            }
            "like" => EventKind::Like,
            "share" => EventKind::Share,
            "comment" => EventKind::Comment,
            "not_interested" => EventKind::NotInterested,
            "impression" => EventKind::Impression,
            "follow" => {
                // A follow is about a creator: learned as engagement with the video
                // it was made from, or (made elsewhere) with their newest video.
                let Some(f) = &e.followee else { return };
                let c = self.account(f);
                if let Some(v) = &e.video {
                    let item = self.video(v);
                    if self
                        .model
                        .items
                        .get(item as usize)
                        .is_some_and(|m| m.creator == c)
                    {
                        self.model.observe(&Event {
                            user,
                            item,
                            kind: EventKind::Follow,
                            time_ms: e.created_at,
                        });
                        return;
                    }
                }
                let Some(&item) = self.model.items_by_creator(c).last() else {
                    // No videos yet: remembered directly.
                    let u = user as usize;
                    if self.model.users.len() <= u {
                        self.model.users.resize(u + 1, Default::default());
                    }
                    self.model.users[u].follows.insert(c);
                    return;
                };
                self.model.observe(&Event {
                    user,
                    item,
                    kind: EventKind::Follow,
                    time_ms: e.created_at,
                });
                return;
            }
            _ => return,
        };
        let Some(v) = &e.video else { return };
        let item = self.video(v);
        self.model.observe(&Event {
            user,
            item,
            kind,
            time_ms: e.created_at,
        });
    }

    async fn poll(&mut self, db: &kinora_db::Db) -> AppResult<usize> {
        self.reload_hidden(db, false).await?;
        let since = (self.watermark - OVERLAP_MS).max(0);
        let events = db.rec_events(since).await?;
        let mut n = 0;
        for e in &events {
            if self.recent.contains(e) {
                continue;
            }
            self.apply(e);
            n += 1;
        }
        if let Some(last) = events.last() {
            self.watermark = self.watermark.max(last.created_at);
        }
        let cut = self.watermark - OVERLAP_MS;
        self.recent.retain(|e| e.created_at >= cut);
        self.recent
            .extend(events.into_iter().filter(|e| e.created_at >= cut));
        Ok(n)
    }

    fn reason_text(&self, r: &Reason) -> String {
        let name = |c: u32| self.usernames.get(&c).cloned().unwrap_or_default();
        match r.code {
            ReasonCode::Following => match (r.creator, r.tag.and_then(|t| self.tag_names.get(t as usize))) {
                (Some(c), _) => format!("Because you follow @{}", name(c)),
                (None, Some(t)) => format!("Because you follow #{t}"),
                (None, None) => "From accounts you follow".into(),
            },
            ReasonCode::Similar => match r.item.and_then(|i| self.model.items.get(i as usize)) {
                Some(m) => format!("Because you watched a video by @{}", name(m.creator)),
                None => "Similar to what you watched".into(),
            },
            ReasonCode::Topic => match r.tag.and_then(|t| self.tag_names.get(t as usize)) {
                Some(t) => format!("Because you watched videos tagged #{t}"),
                None => "On topics you watch".into(),
            },
            ReasonCode::Trending => "Popular on this server right now".into(),
            ReasonCode::New => "New on this server".into(),
            ReasonCode::Exploration => {
                "A new video we are showing to a few viewers to see if people like it".into()
            }
        }
    }
}

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

impl Recommender {
    /// Rebuilds the model from the database (all of it).
    pub async fn load(&self, db: &kinora_db::Db) -> AppResult<()> {
        let mut g = self.inner.write().await;
        let mut fresh = Inner {
            model: Model::new(Params::default()),
            ..Inner::default()
        };
        // All cards in one read (refresh_videos then only fills gaps).
        let t = kinora_db::now_ms();
        let cards = db.feed_cards(None).await?;
        fresh.install_cards(cards, t);
        fresh.refresh_videos(db).await?;
        fresh.poll(db).await?;
        fresh.model.refresh_caches();
        fresh.loaded = true;
        *g = fresh;
        Ok(())
    }

    /// Writes the impressions pages served since the last call.
    pub async fn flush_impressions(&self, db: &kinora_db::Db) -> AppResult<()> {
        let pending = std::mem::take(
            &mut *self
                .pending_impressions
                .lock()
                .map_err(|_| AppError::internal("impressions lock"))?,
        );
        let mut by: HashMap<(Id, i64), Vec<Id>> = HashMap::new();
        for (a, v, t) in pending {
            by.entry((a, t)).or_default().push(v);
        }
        for ((a, t), vs) in by {
            db.record_impressions(&a, &vs, t).await?;
        }
        Ok(())
    }

    /// New events and video changes since the last call.
    pub async fn refresh(&self, db: &kinora_db::Db, videos_too: bool) -> AppResult<usize> {
        let mut g = self.inner.write().await;
        if !g.loaded {
            drop(g);
            self.load(db).await?;
            return Ok(0);
        }
        if videos_too {
            g.refresh_videos(db).await?;
        } else {
            let now = kinora_db::now_ms();
            g.refresh_if_changed(db, now).await?;
        }
        let n = g.poll(db).await?;
        g.model.refresh_caches();
        Ok(n)
    }

    /// Re-reads every card (counts change all the time; captions when edited
    /// elsewhere). The read runs without holding the model.
    pub async fn reload_cards(&self, db: &kinora_db::Db) -> AppResult<()> {
        let t = kinora_db::now_ms();
        let cards = db.feed_cards(None).await?;
        let mut g = self.inner.write().await;
        g.install_cards(cards, t);
        let items = &g.model.items;
        let keep: HashSet<u32> = g
            .cards
            .keys()
            .copied()
            .filter(|i| items.get(*i as usize).is_some_and(|m| m.eligible))
            .collect();
        g.cards.retain(|i, _| keep.contains(i));
        Ok(())
    }

    /// `follower` stopped following `followee` in this process (the events the
    /// model reads are rows, and an unfollow removes one).
    pub async fn unfollowed(&self, follower: &Id, followee: &Id) {
        let mut g = self.inner.write().await;
        let (Some(&u), Some(&c)) = (g.account_index.get(follower), g.account_index.get(followee))
        else {
            return;
        };
        if let Some(us) = g.model.users.get_mut(u as usize) {
            us.follows.remove(&c);
        }
    }

    /// A block or mute was made or undone in this process.
    pub fn relations_changed(&self) {
        self.relations_changed.store(true, Ordering::SeqCst);
    }

    /// A video was edited in this process: its card is re-read before the next page.
    pub fn card_changed(&self, video: &Id) {
        if let Ok(mut d) = self.dirty_cards.lock() {
            d.insert(video.clone());
        }
        self.videos_changed();
    }

    /// Events, videos, the model's memory and the cards' (estimated from sizes
    /// and string lengths), for the benchmark.
    pub async fn stats(&self) -> (u64, usize, usize, usize) {
        let g = self.inner.read().await;
        let cards: usize = g
            .cards
            .values()
            .map(|c| {
                let r = &c.row;
                let strings = r.id.as_str().len()
                    + r.account_id.as_str().len()
                    + r.username.as_str().len()
                    + r.caption.as_str().len()
                    + r.region.len()
                    + r.original_key.len();
                let objects: usize = c
                    .objects
                    .iter()
                    .map(|o| {
                        std::mem::size_of::<MediaObject>()
                            + o.name.len()
                            + o.object_key.len()
                            + o.mime.len()
                            + o.sha256.len()
                    })
                    .sum();
                std::mem::size_of::<(u32, Card)>() + strings + objects
            })
            .sum();
        (
            g.model.events,
            g.model.n_items(),
            g.model.memory_bytes(),
            cards,
        )
    }

    /// Something that decides For You eligibility changed in this process.
    pub fn videos_changed(&self) {
        self.changed.store(true, Ordering::SeqCst);
    }

    fn new_session_id(&self) -> u64 {
        let r: u64 = rand::random();
        r ^ self.next_session.fetch_add(1, Ordering::Relaxed)
    }
}

/// Runs for the life of the server: new events reach the model within seconds.
pub async fn poll_loop(st: AppState) {
    let mut round: u64 = 0;
    loop {
        if let Err(e) = st.recommender.flush_impressions(&st.db).await {
            tracing::warn!(error = %e.message, "writing feed impressions failed");
        }
        // All video metadata every 30 s (hashtag edits); eligibility whenever its
        // fingerprint changes; events always.
        let videos_too = round % 30 == 0;
        if let Err(e) = st.recommender.refresh(&st.db, videos_too).await {
            tracing::warn!(error = %e.message, "recommender refresh failed");
        }
        if videos_too && round > 0 {
            if let Err(e) = st.recommender.reload_cards(&st.db).await {
                tracing::warn!(error = %e.message, "re-reading feed cards failed");
            }
        }
        round += 1;
        tokio::select! {
            () = st.recommender.wake.notified() => {
                // Let a burst of events land together.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// `?cursor=` of For You: `r1.<session>.<position>` (hex; `r1.<session>` is
/// position 0).
fn parse_cursor(c: Option<&str>) -> AppResult<Option<(u64, usize)>> {
    let bad = || {
        AppError::new(
            ErrorCode::InvalidField,
            "cursor: not a cursor this server issued",
        )
    };
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
    fn rebuild_session(
        &self,
        owner: Option<Id>,
        viewer: Option<u32>,
        personalized: bool,
        position: usize,
        rules: &PageRules,
        now: i64,
    ) -> Session {
        let mut s = Session {
            owner,
            served: HashSet::new(),
            position: 0,
            last_creator: None,
            touched_ms: now,
        };
        if position == 0 {
            return s;
        }
        if let Some(us) = viewer.and_then(|u| self.model.users.get(u as usize)) {
            s.served.extend(
                us.served
                    .iter()
                    .filter(|(_, t)| now - **t < SESSION_MS)
                    .map(|(i, _)| *i),
            );
        }
        if !personalized {
            while s.position < position {
                let page = self.model.rank_unpersonalized_after(
                    viewer,
                    now,
                    &s.served,
                    rules,
                    s.last_creator,
                );
                if page.is_empty() {
                    break;
                }
                s.position += page.len();
                s.served.extend(page.iter().map(|p| p.item));
                s.last_creator = page
                    .last()
                    .and_then(|p| self.model.items.get(p.item as usize))
                    .map(|m| m.creator);
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
    let videos = rec.changed.swap(false, Ordering::SeqCst);
    let relations = rec.relations_changed.swap(false, Ordering::SeqCst);
    let dirty: Vec<Id> = std::mem::take(
        &mut *rec
            .dirty_cards
            .lock()
            .map_err(|_| AppError::internal("cards lock"))?,
    )
    .into_iter()
    .collect();
    if videos || relations || !dirty.is_empty() {
        // This process just changed what may be shown: the replicas catch up
        // before ranking (on failure the flags stay set for the next page).
        let mut g = rec.inner.write().await;
        let caught_up = async {
            if !dirty.is_empty() {
                let t = kinora_db::now_ms();
                let cards = st.db.feed_cards(Some(&dirty)).await?;
                for id in &dirty {
                    if let Some(i) = g.video_index.get(id).copied() {
                        g.cards.remove(&i);
                    }
                }
                g.install_cards(cards, t);
            }
            if videos {
                g.checked_ms = 0;
                g.refresh_if_changed(&st.db, now).await?;
            }
            if relations {
                g.reload_hidden(&st.db, true).await?;
            }
            AppResult::Ok(())
        }
        .await;
        if let Err(e) = caught_up {
            rec.changed.fetch_or(videos, Ordering::SeqCst);
            rec.relations_changed.fetch_or(relations, Ordering::SeqCst);
            if let Ok(mut d) = rec.dirty_cards.lock() {
                d.extend(dirty);
            }
            return Err(e);
        }
        g.model.refresh_caches();
    }
    let (items, picks, sid, ids, position, followed) = {
        let g = rec.inner.read().await;
        let viewer = caller.id().and_then(|id| g.account_index.get(id).copied());
        let mut sessions = rec
            .sessions
            .lock()
            .map_err(|_| AppError::internal("sessions lock"))?;
        // A session of someone else's is not continued (a new one starts); one
        // this process does not know is rebuilt.
        let (sid, position) = match sid {
            Some((s, _))
                if sessions
                    .get(&s)
                    .is_some_and(|x| x.owner.as_ref() != caller.id()) =>
            {
                (rec.new_session_id(), 0)
            }
            Some((s, pos)) => (s, pos),
            None => (rec.new_session_id(), 0),
        };
        // Expired sessions go; a cap keeps memory bounded.
        if sessions.len() > MAX_SESSIONS {
            let mut by_age: Vec<(i64, u64)> =
                sessions.iter().map(|(k, s)| (s.touched_ms, *k)).collect();
            by_age.sort_unstable();
            for (_, k) in by_age.into_iter().take(MAX_SESSIONS / 10) {
                sessions.remove(&k);
            }
        }
        sessions.retain(|_, s| now - s.touched_ms < SESSION_MS);
        let known = sessions.remove(&sid);
        drop(sessions);
        let mut session = known.unwrap_or_else(|| {
            g.rebuild_session(
                caller.id().cloned(),
                viewer,
                personalized,
                position,
                &rules,
                now,
            )
        });
        let mut rng = rand::thread_rng();
        let page = match (personalized, viewer) {
            (true, Some(u)) => g.model.rank_after(
                u,
                now,
                &session.served,
                &rules,
                session.last_creator,
                &mut rng,
            ),
            // A viewer the model has never seen: cold start is the personalised
            // ranking with no history (user ids past the end have none).
            (true, None) => g.model.rank_after(
                u32::MAX,
                now,
                &session.served,
                &rules,
                session.last_creator,
                &mut rng,
            ),
            _ => g.model.rank_unpersonalized_after(
                viewer,
                now,
                &session.served,
                &rules,
                session.last_creator,
            ),
        };
        for p in &page {
            session.served.insert(p.item);
        }
        session.position += page.len();
        session.last_creator = page
            .last()
            .and_then(|p| g.model.items.get(p.item as usize))
            .map(|m| m.creator);
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
            v.reason = Some(ReasonView {
                code: p.reason.code.as_str(),
                text: g.reason_text(&p.reason),
            });
            ids.push(card.row.id.clone());
            items.push(v);
        }
        // Whom of these authors the caller follows (as far as the model knows: a
        // follow made elsewhere arrives within seconds).
        let follows = viewer
            .and_then(|u| g.model.users.get(u as usize))
            .map(|us| &us.follows);
        let followed: HashSet<Id> = page
            .iter()
            .filter_map(|p| g.model.items.get(p.item as usize))
            .filter(|m| follows.is_some_and(|f| f.contains(&m.creator)))
            .filter_map(|m| g.account_ids.get(m.creator as usize).cloned())
            .collect();
        let position = session.position;
        rec.sessions
            .lock()
            .map_err(|_| AppError::internal("sessions lock"))?
            .insert(sid, session);
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
        let mut p = rec
            .pending_impressions
            .lock()
            .map_err(|_| AppError::internal("impressions lock"))?;
        p.extend(ids.into_iter().map(|v| (me.clone(), v, now)));
        rec.wake.notify_one();
    }
    let next = (picks == size).then(|| format!("r1.{sid:x}.{position:x}"));
    Ok((items, next, followed))
}

/// `GET /api/v1/feed/for-you`.
pub async fn for_you(
    st: &AppState,
    caller: &Caller,
    personalized: Option<bool>,
    cursor: Option<&str>,
    limit: i64,
) -> AppResult<ForYouPage> {
    let personalized = wants_personalized(caller, personalized);
    let (items, next_cursor, followed_authors) =
        page(st, caller, personalized, cursor, limit).await?;
    Ok(ForYouPage {
        items,
        next_cursor,
        personalized,
        followed_authors,
    })
}

/// `POST`/`DELETE /api/v1/videos/{id}/not-interested`.
pub async fn not_interested(
    st: &AppState,
    caller: &Caller,
    id: &str,
    on: bool,
) -> AppResult<NotInterested> {
    let me = caller.require()?;
    let v = crate::access::visible_video(st, caller, id).await?;
    st.db.set_not_interested(&me.id, &v.id, on).await?;
    let mut g = st.recommender.inner.write().await;
    let user = g.account(&me.id);
    let item = g.video(&v.id);
    // Applied at once; when the poller reads the mark back, applying it again
    // changes nothing the feed uses.
    g.model.observe(&Event {
        user,
        item,
        kind: if on {
            EventKind::NotInterested
        } else {
            EventKind::Interested
        },
        time_ms: kinora_db::now_ms(),
    });
    Ok(NotInterested {
        video_id: v.id,
        not_interested: on,
    })
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

impl Recommender {
    /// Ranks one personalised page for `viewer` in memory only (no policy query,
    /// no impressions): the model's share of a request, for the benchmark.
    pub async fn rank_only(&self, viewer: &Id, size: usize) -> usize {
        let g = self.inner.read().await;
        let Some(&u) = g.account_index.get(viewer) else {
            return 0;
        };
        let rules = PageRules {
            size,
            ..PageRules::default()
        };
        g.model
            .rank(
                u,
                kinora_db::now_ms(),
                &HashSet::new(),
                &rules,
                &mut rand::thread_rng(),
            )
            .len()
    }
}
