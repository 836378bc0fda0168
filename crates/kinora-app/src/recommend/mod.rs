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

mod feed;
pub use feed::{for_you, not_interested, set_personalized, wants_personalized, ForYouPage, NotInterested};

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use kinora_core::Id;
use kinora_db::{MediaObject, RecEvent, RecEventKind, VideoRow};
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
    /// Bumped when a catch-up applied what this process changed: a poller read
    /// that started before is older and is not applied (it is read again).
    local_epoch: u64,
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
    /// What this process changed that For You shows or keeps away: re-read
    /// (only that) before the next page.
    dirty: std::sync::Mutex<Dirty>,
    /// Changes signalled, and the count up to which they are applied: a page
    /// goes on only when they are equal (after waiting for the catch-up).
    changes: AtomicU64,
    applied: AtomicU64,
    /// One catch-up at a time, in order.
    catching_up: tokio::sync::Mutex<()>,
    /// Feed sessions, apart from the model so pages rank under a read lock.
    sessions: std::sync::Mutex<HashMap<u64, Session>>,
    /// Impressions served and not yet written: the poller writes them in one
    /// transaction (and reads them back as events), so a page never waits on a write.
    pending_impressions: std::sync::Mutex<Vec<(Id, Id, i64)>>,
}

/// Changes this process made since the last page: videos (published, edited,
/// deleted, moderated), accounts (made private, restricted, suspended, scheduled
/// for erasure or back), and relations (blocks, mutes, hashtags followed).
#[derive(Debug, Default)]
struct Dirty {
    videos: HashSet<Id>,
    accounts: HashSet<Id>,
    relations: bool,
}

/// Videos as read for the model, without holding it.
struct VideoRead {
    /// `rec_fingerprint` for a read of every video; `None` for a subset.
    fingerprint: Option<(i64, i64, i64)>,
    rows: Vec<kinora_db::RecVideo>,
    tags: HashMap<Id, Vec<String>>,
    /// For a subset: the ids asked for (one not returned is gone).
    asked: Vec<Id>,
}

/// A read of every video (`only` none) carries the fingerprint read before it:
/// `fingerprint` if the caller just read it, else read here.
async fn read_videos(db: &kinora_db::Db, only: Option<kinora_db::Subset<'_>>, fingerprint: Option<(i64, i64, i64)>) -> AppResult<VideoRead> {
    let fingerprint = match (only, fingerprint) {
        (None, Some(fp)) => Some(fp),
        (None, None) => Some(db.rec_fingerprint().await?),
        (Some(_), _) => None,
    };
    let rows = db.rec_videos(only).await?;
    let mut tags: HashMap<Id, Vec<String>> = HashMap::new();
    for (v, t) in db.rec_tags(only).await? {
        tags.entry(v).or_default().push(t);
    }
    Ok(VideoRead { fingerprint, rows, tags, asked: only.map(|o| o.videos.to_vec()).unwrap_or_default() })
}

/// What applying a [`VideoRead`] changes: the rows that are new or differ, and
/// the videos that are gone.
struct VideoPlan {
    fingerprint: Option<(i64, i64, i64)>,
    rows: Vec<kinora_db::RecVideo>,
    tags: HashMap<Id, Vec<String>>,
    gone: Vec<Id>,
}

/// Blocks, mutes and followed hashtags, read together with their fingerprint.
struct RelationsRead {
    fingerprint: (i64, i64),
    hidden: Vec<(Id, Id)>,
    tags: Vec<(Id, String)>,
}

/// The relations, unless their fingerprint is still `known`.
async fn read_relations(db: &kinora_db::Db, known: Option<(i64, i64)>) -> AppResult<Option<RelationsRead>> {
    let fingerprint = db.feed_hidden_fingerprint().await?;
    if known == Some(fingerprint) {
        return Ok(None);
    }
    Ok(Some(RelationsRead { fingerprint, hidden: db.feed_hidden_pairs().await?, tags: db.feed_tag_follows().await? }))
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

    /// Applies videos as read: metadata and eligibility (new uploads, visibility
    /// changes, deletions, restrictions). A read of every video also makes those
    /// it did not return ineligible; a subset, those of its ids it did not return.
    fn apply_videos(&mut self, read: VideoRead) {
        let plan = self.plan_videos(read);
        self.apply_plan(plan);
    }

    /// What applying `read` would change, worked out without changing anything
    /// (so under a read lock, while pages go on): the rows that are new or
    /// differ, and the videos that are gone. At 100k videos nearly every row is
    /// unchanged, and applying the plan takes a moment instead of 100 ms.
    fn plan_videos(&self, read: VideoRead) -> VideoPlan {
        let full = read.fingerprint.is_some();
        let mut present: HashSet<u32> = HashSet::new();
        let mut changed = Vec::new();
        for v in read.rows {
            let known = self.video_index.get(&v.id).copied().and_then(|i| {
                present.insert(i);
                let creator = *self.account_index.get(&v.account_id)?;
                let tags: Option<Vec<u32>> = read.tags.get(&v.id).map_or(Some(Vec::new()), |ts| ts.iter().map(|t| self.tag_index.get(t).copied()).collect());
                let m = self.model.items.get(i as usize)?;
                let same = m.eligible == v.eligible
                    && m.creator == creator
                    && m.created_ms == v.created_at
                    && tags.as_ref() == Some(&m.tags)
                    && self.durations.get(i as usize) == Some(&v.duration_ms)
                    && self.usernames.get(&creator) == Some(&v.username);
                same.then_some(())
            });
            if known.is_none() {
                changed.push(v);
            }
        }
        let gone: Vec<Id> = if full {
            (0..self.model.n_items())
                .filter(|i| !present.contains(&(*i as u32)) && self.model.items.get(*i).is_some_and(|m| m.eligible))
                .filter_map(|i| self.video_ids.get(i).cloned())
                .collect()
        } else {
            read.asked.iter().filter(|id| self.video_index.get(*id).is_some_and(|i| !present.contains(i))).cloned().collect()
        };
        let tags = changed.iter().filter_map(|v| read.tags.get(&v.id).map(|t| (v.id.clone(), t.clone()))).collect();
        VideoPlan { fingerprint: read.fingerprint, rows: changed, tags, gone }
    }

    /// Applies a plan: its rows, then its videos that are gone.
    fn apply_plan(&mut self, read: VideoPlan) {
        if let Some(fp) = read.fingerprint {
            self.fingerprint = fp;
        }
        for v in read.rows {
            let i = self.video(&v.id);
            let creator = self.account(&v.account_id);
            self.usernames.insert(creator, v.username.clone());
            let t: Vec<u32> = read.tags.get(&v.id).map(|ts| ts.iter().map(|x| self.tag(x)).collect()).unwrap_or_default();
            if let Some(d) = self.durations.get_mut(i as usize) {
                *d = v.duration_ms;
            }
            let meta = ItemMeta { creator, tags: t, created_ms: v.created_at, eligible: v.eligible };
            let same = self
                .model
                .items
                .get(i as usize)
                .is_some_and(|m| m.eligible == meta.eligible && m.tags == meta.tags && m.creator == meta.creator && m.created_ms == meta.created_ms);
            if !same {
                self.model.upsert_item(i, meta);
            }
        }
        let gone: Vec<u32> = read.gone.iter().filter_map(|id| self.video_index.get(id).copied()).collect();
        for i in gone {
            if let Some(m) = self.model.items.get(i as usize).filter(|m| m.eligible) {
                let mut m = m.clone();
                m.eligible = false;
                self.model.upsert_item(i, m);
            }
        }
    }

    fn install_cards(&mut self, cards: Vec<(VideoRow, Vec<MediaObject>)>, loaded_ms: i64) {
        for (row, objects) in cards {
            let i = self.video(&row.id);
            // A card re-read after this read started (an edit) is newer: kept.
            if self.cards.get(&i).is_some_and(|c| c.loaded_ms > loaded_ms) {
                continue;
            }
            self.cards.insert(i, Card { row, objects, loaded_ms });
        }
    }

    /// Drops the cards of videos no longer eligible; the ids of eligible videos
    /// without a card (just published, made public), to read.
    fn cardless(&mut self) -> Vec<Id> {
        let items = &self.model.items;
        self.cards.retain(|i, _| items.get(*i as usize).is_some_and(|m| m.eligible));
        (0..self.model.items.len())
            .filter(|&i| self.model.items.get(i).is_some_and(|m| m.eligible) && !self.cards.contains_key(&(i as u32)))
            .filter_map(|i| self.video_ids.get(i).cloned())
            .collect()
    }

    /// Applies blocks, mutes and followed hashtags as read.
    fn apply_relations(&mut self, read: RelationsRead) {
        let mut by: HashMap<u32, HashSet<u32>> = HashMap::new();
        for (viewer, creator) in read.hidden {
            let (v, c) = (self.account(&viewer), self.account(&creator));
            by.entry(v).or_default().insert(c);
        }
        replace_sets(&mut self.model, &mut self.hidden_viewers, by, Model::set_hidden_creators);
        let mut tags: HashMap<u32, HashSet<u32>> = HashMap::new();
        for (viewer, tag) in read.tags {
            let (v, t) = (self.account(&viewer), self.tag(&tag));
            tags.entry(v).or_default().insert(t);
        }
        replace_sets(&mut self.model, &mut self.tag_viewers, tags, Model::set_followed_tags);
        self.hidden_fp = read.fingerprint;
    }

    /// The access policy, last, from the replicas: a card exists (the video is
    /// discoverable), and nothing keeps it from this viewer.
    fn may_show(&self, viewer: Option<u32>, item: u32) -> bool {
        self.cards.contains_key(&item) && self.model.items.get(item as usize).is_some_and(|m| m.eligible) && !self.model.hidden(viewer, item)
    }

    fn apply(&mut self, e: &RecEvent) {
        let user = self.account(&e.account);
        let kind = match e.kind {
            RecEventKind::View => {
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
            RecEventKind::Like => EventKind::Like,
            RecEventKind::Share => EventKind::Share,
            RecEventKind::Comment => EventKind::Comment,
            RecEventKind::NotInterested => EventKind::NotInterested,
            RecEventKind::Impression => EventKind::Impression,
            RecEventKind::Follow => {
                // A follow is about a creator: learned as engagement with the video
                // it was made from, or (made elsewhere) with their newest video.
                let Some(f) = &e.followee else { return };
                let c = self.account(f);
                // The video it was made from (if it is theirs), else their newest.
                let from = e.video.as_ref().map(|v| self.video(v)).filter(|&i| self.model.items.get(i as usize).is_some_and(|m| m.creator == c));
                let Some(item) = from.or_else(|| self.model.items_by_creator(c).last().copied()) else {
                    // No videos yet: remembered directly.
                    let u = user as usize;
                    if self.model.users.len() <= u {
                        self.model.users.resize(u + 1, Default::default());
                    }
                    if let Some(us) = self.model.users.get_mut(u) {
                        us.follows.insert(c);
                    }
                    return;
                };
                self.model.observe(&Event { user, item, kind: EventKind::Follow, time_ms: e.created_at });
                return;
            }
        };
        let Some(v) = &e.video else { return };
        let item = self.video(v);
        self.model.observe(&Event { user, item, kind, time_ms: e.created_at });
    }

    /// Learns from events read since `watermark - OVERLAP_MS` (each once).
    fn apply_events(&mut self, events: Vec<RecEvent>) -> usize {
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
        self.recent.extend(events.into_iter().filter(|e| e.created_at >= cut));
        n
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
            ReasonCode::Exploration => "A new video we are showing to a few viewers to see if people like it".into(),
        }
    }
}

impl Recommender {
    /// Rebuilds the model from the database (all of it).
    pub async fn load(&self, db: &kinora_db::Db) -> AppResult<()> {
        // Everything is read first, then applied to a fresh model; pages keep
        // using the old one until it is swapped in.
        let t = kinora_db::now_ms();
        let cards = db.feed_cards(None).await?;
        let videos = read_videos(db, None, None).await?;
        let relations = read_relations(db, None).await?;
        let events = db.rec_events(0).await?;
        let mut fresh = Inner { model: Model::new(Params::default()), ..Inner::default() };
        fresh.install_cards(cards, t);
        fresh.apply_videos(videos);
        if let Some(r) = relations {
            fresh.apply_relations(r);
        }
        fresh.apply_events(events);
        fresh.checked_ms = t;
        let missing = fresh.cardless();
        for chunk in missing.chunks(500) {
            let t = kinora_db::now_ms();
            let c = db.feed_cards(Some(kinora_db::Subset { videos: chunk, accounts: &[] })).await?;
            fresh.install_cards(c, t);
        }
        fresh.model.refresh_caches();
        fresh.loaded = true;
        *self.inner.write().await = fresh;
        Ok(())
    }

    /// Reads the cards of these videos (without holding the model) and installs them.
    async fn add_cards(&self, db: &kinora_db::Db, ids: &[Id]) -> AppResult<()> {
        for chunk in ids.chunks(500) {
            let t = kinora_db::now_ms();
            let c = db.feed_cards(Some(kinora_db::Subset { videos: chunk, accounts: &[] })).await?;
            self.inner.write().await.install_cards(c, t);
        }
        Ok(())
    }

    /// Writes the impressions pages served since the last call.
    pub async fn flush_impressions(&self, db: &kinora_db::Db) -> AppResult<()> {
        let pending = std::mem::take(&mut *self.pending_impressions.lock().map_err(|_| AppError::internal("impressions lock"))?);
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
    /// New events and video changes since the last call (`videos_too`: re-read
    /// every video); returns how many events were new and how long the model was
    /// held to apply it all.
    pub async fn refresh(&self, db: &kinora_db::Db, videos_too: bool) -> AppResult<(usize, std::time::Duration)> {
        let (loaded, since, fingerprint, relations_fp, checked_ms, epoch) = {
            let g = self.inner.read().await;
            (g.loaded, (g.watermark - OVERLAP_MS).max(0), g.fingerprint, g.hidden_fp, g.checked_ms, g.local_epoch)
        };
        if !loaded {
            self.load(db).await?;
            return Ok((0, std::time::Duration::ZERO));
        }
        // The reads run without holding the model (a read of every video takes
        // about a second at 100k); only applying them does. The fingerprints are
        // checked at most once a second.
        let now = kinora_db::now_ms();
        let check = videos_too || now - checked_ms >= 1000;
        let now_fingerprint = if check { Some(db.rec_fingerprint().await?) } else { None };
        let videos = if videos_too || now_fingerprint.is_some_and(|fp| fp != fingerprint) { Some(read_videos(db, None, now_fingerprint).await?) } else { None };
        let relations = if check { read_relations(db, Some(relations_fp)).await? } else { None };
        let events = db.rec_events(since).await?;
        // Worked out under the read lock; only the differences are applied.
        let videos = match videos {
            Some(v) => Some(self.inner.read().await.plan_videos(v)),
            None => None,
        };
        let (n, missing, held) = {
            let mut g = self.inner.write().await;
            let started = std::time::Instant::now();
            if check {
                g.checked_ms = now;
            }
            // A catch-up applied newer reads meanwhile: these are older, and are
            // made again at the next check (the fingerprints stay as they were).
            if g.local_epoch == epoch {
                if let Some(v) = videos {
                    g.apply_plan(v);
                }
                if let Some(r) = relations {
                    g.apply_relations(r);
                }
            }
            let n = g.apply_events(events);
            g.model.refresh_caches();
            let missing = g.cardless();
            (n, missing, started.elapsed())
        };
        // Until their cards are in, new videos are ranked but not shown.
        self.add_cards(db, &missing).await?;
        Ok((n, held))
    }

    /// Re-reads every card (counts change all the time; captions when edited
    /// elsewhere). The read runs without holding the model.
    /// Returns how long that took and how long the model was locked for it.
    pub async fn reload_cards(&self, db: &kinora_db::Db) -> AppResult<(std::time::Duration, std::time::Duration)> {
        let all = std::time::Instant::now();
        let t = kinora_db::now_ms();
        let cards = db.feed_cards(None).await?;
        // The new map is built under the read lock (pages go on); the write lock
        // only swaps it in and carries over what is newer than this read.
        let fresh: HashMap<u32, Card> = {
            let g = self.inner.read().await;
            cards
                .into_iter()
                .filter_map(|(row, objects)| {
                    let i = g.video_index.get(&row.id).copied()?;
                    // Not known or not eligible yet: `refresh_videos` loads it when it is.
                    g.model.items.get(i as usize).is_some_and(|m| m.eligible).then_some((i, Card { row, objects, loaded_ms: t }))
                })
                .collect()
        };
        let started = std::time::Instant::now();
        let old = {
            let mut g = self.inner.write().await;
            let mut old = std::mem::replace(&mut g.cards, fresh);
            // Re-read since this read started (an edit), or eligible since and not
            // in this read (just published): kept.
            let carry: Vec<u32> = old.iter().filter(|(i, c)| c.loaded_ms > t || !g.cards.contains_key(i)).map(|(i, _)| *i).collect();
            for i in carry {
                if let Some(c) = old.remove(&i) {
                    if g.model.items.get(i as usize).is_some_and(|m| m.eligible) {
                        g.cards.insert(i, c);
                    }
                }
            }
            old
        };
        let held = started.elapsed();
        // The old cards are freed outside the lock.
        drop(old);
        tracing::debug!(held_us = held.as_micros() as u64, "feed cards re-read");
        Ok((all.elapsed(), held))
    }

    /// `follower` stopped following `followee` in this process (the events the
    /// model reads are rows, and an unfollow removes one).
    pub async fn unfollowed(&self, follower: &Id, followee: &Id) {
        let mut g = self.inner.write().await;
        let (Some(&u), Some(&c)) = (g.account_index.get(follower), g.account_index.get(followee)) else {
            return;
        };
        if let Some(us) = g.model.users.get_mut(u as usize) {
            us.follows.remove(&c);
        }
    }

    /// `viewer` unliked `video` in this process: the personalised feed may offer
    /// it again.
    pub async fn unliked(&self, viewer: &Id, video: &Id) {
        let mut g = self.inner.write().await;
        let (Some(&u), Some(&i)) = (g.account_index.get(viewer), g.video_index.get(video)) else {
            return;
        };
        if let Some(us) = g.model.users.get_mut(u as usize) {
            us.liked.remove(&i);
        }
    }

    /// A block, mute or hashtag follow was made or undone in this process.
    pub fn relations_changed(&self) {
        if let Ok(mut d) = self.dirty.lock() {
            d.relations = true;
        }
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// A video was published, edited, deleted or moderated in this process: it
    /// is re-read before the next page.
    pub fn video_changed(&self, video: &Id) {
        if let Ok(mut d) = self.dirty.lock() {
            d.videos.insert(video.clone());
        }
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// An account's videos may have changed for For You (made private,
    /// restricted, suspended, scheduled for erasure or back): re-read before the
    /// next page.
    pub fn account_changed(&self, account: &Id) {
        if let Ok(mut d) = self.dirty.lock() {
            d.accounts.insert(account.clone());
        }
        self.changes.fetch_add(1, Ordering::SeqCst);
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
                let objects: usize =
                    c.objects.iter().map(|o| std::mem::size_of::<MediaObject>() + o.name.len() + o.object_key.len() + o.mime.len() + o.sha256.len()).sum();
                std::mem::size_of::<(u32, Card)>() + strings + objects
            })
            .sum();
        (g.model.events, g.model.n_items(), g.model.memory_bytes(), cards)
    }

    /// Re-reads what this process changed since the last page (see [`Dirty`]):
    /// those videos, those accounts' videos and their cards, the relations. The
    /// reads run without holding the model; on failure the changes stay marked.
    async fn catch_up(&self, db: &kinora_db::Db) -> AppResult<()> {
        if self.applied.load(Ordering::SeqCst) >= self.changes.load(Ordering::SeqCst) {
            return Ok(());
        }
        // A page that comes while another catches up waits for it.
        let _one = self.catching_up.lock().await;
        let seen = self.changes.load(Ordering::SeqCst);
        if self.applied.load(Ordering::SeqCst) >= seen {
            return Ok(());
        }
        let dirty = self.dirty.lock().map(|mut d| std::mem::take(&mut *d)).unwrap_or_default();
        let videos: Vec<Id> = dirty.videos.iter().cloned().collect();
        let accounts: Vec<Id> = dirty.accounts.iter().cloned().collect();
        let t = kinora_db::now_ms();
        let read = async {
            // In chunks: a burst of changes stays within the databases' limits on
            // parameters.
            let (mut reads, mut cards) = (Vec::new(), Vec::new());
            let subsets = videos
                .chunks(400)
                .map(|c| kinora_db::Subset { videos: c, accounts: &[] })
                .chain(accounts.chunks(400).map(|c| kinora_db::Subset { videos: &[], accounts: c }));
            for only in subsets {
                reads.push(read_videos(db, Some(only), None).await?);
                cards.extend(db.feed_cards(Some(only)).await?);
            }
            let r = if dirty.relations { read_relations(db, None).await? } else { None };
            AppResult::Ok((reads, cards, r))
        }
        .await;
        let (reads, cards, relations) = match read {
            Ok(x) => x,
            Err(e) => {
                if let Ok(mut d) = self.dirty.lock() {
                    d.videos.extend(dirty.videos);
                    d.accounts.extend(dirty.accounts);
                    d.relations |= dirty.relations;
                }
                return Err(e);
            }
        };
        let mut g = self.inner.write().await;
        for v in reads {
            g.apply_videos(v);
        }
        // Their cards are replaced by what was just read (none: not discoverable).
        let mut stale: Vec<u32> = videos.iter().filter_map(|id| g.video_index.get(id).copied()).collect();
        for a in &accounts {
            if let Some(&c) = g.account_index.get(a) {
                stale.extend(g.model.items_by_creator(c).iter().copied());
            }
        }
        for i in stale {
            g.cards.remove(&i);
        }
        g.install_cards(cards, t);
        if let Some(r) = relations {
            g.apply_relations(r);
        }
        g.local_epoch += 1;
        g.model.refresh_caches();
        drop(g);
        self.applied.fetch_max(seen, Ordering::SeqCst);
        Ok(())
    }

    fn new_session_id(&self) -> u64 {
        let r: u64 = rand::random();
        r ^ self.next_session.fetch_add(1, Ordering::Relaxed)
    }
}

/// Runs for the life of the server: new events reach the model within seconds.
pub async fn poll_loop(st: AppState) {
    use std::time::{Duration, Instant};
    const EVERY: Duration = Duration::from_secs(30);
    // The two full re-reads are 15 s apart, not at the same moment.
    let (mut videos_at, mut cards_at) = (Instant::now(), Instant::now() + EVERY / 2);
    loop {
        if let Err(e) = st.recommender.flush_impressions(&st.db).await {
            tracing::warn!(error = %e.message, "writing feed impressions failed");
        }
        // What this process changed, even if no page asks for a while.
        if let Err(e) = st.recommender.catch_up(&st.db).await {
            tracing::warn!(error = %e.message, "recommender catch-up failed");
        }
        // All video metadata every 30 s by the clock (hashtag edits; the poller
        // wakes far more often under load); eligibility whenever its fingerprint
        // changes; events always.
        let videos_too = Instant::now() >= videos_at;
        if videos_too {
            videos_at = Instant::now() + EVERY;
        }
        if let Err(e) = st.recommender.refresh(&st.db, videos_too).await {
            tracing::warn!(error = %e.message, "recommender refresh failed");
        }
        // Counts on the cards: every 30 s, or less often on a server so large that
        // re-reading them takes long (at most 5 % of the time).
        if Instant::now() >= cards_at {
            match st.recommender.reload_cards(&st.db).await {
                Ok((took, _)) => cards_at = Instant::now() + EVERY.max(took * 20),
                Err(e) => {
                    cards_at = Instant::now() + EVERY;
                    tracing::warn!(error = %e.message, "re-reading feed cards failed");
                }
            }
        }
        tokio::select! {
            () = st.recommender.wake.notified() => {
                // Let a burst of events land together.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

impl Recommender {
    /// Ranks one personalised page for `viewer` in memory only (no policy query,
    /// no impressions): the model's share of a request, for the benchmark.
    pub async fn rank_only(&self, viewer: &Id, size: usize) -> usize {
        let g = self.inner.read().await;
        let Some(&u) = g.account_index.get(viewer) else {
            return 0;
        };
        let rules = PageRules { size, ..PageRules::default() };
        g.model.rank(u, kinora_db::now_ms(), &HashSet::new(), &rules, &mut rand::thread_rng()).len()
    }
}
