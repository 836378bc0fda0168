//! For You, pure: an online recommender over events, with no IO.
//!
//! * [`Model`] learns from events as they arrive ([`Model::observe`]): item-to-next
//!   transitions and windowed co-engagement between the videos a viewer watched
//!   through (item-to-item, learned online), time-decayed popularity, each viewer's
//!   affinity to hashtags and creators, each video's watch-through rate (a Beta
//!   posterior), "not interested" marks, follows, what each viewer completed.
//!   Its whole state follows from the events, so the server rebuilds it from the
//!   database after a restart or on another node.
//! * [`Model::rank`] makes a page: candidates from several sources (following,
//!   similar, topic, trending, new, exploration), scored by predicted engagement,
//!   re-ranked for diversity ([`rerank`]) with a guaranteed exploration share chosen
//!   by Thompson sampling, each with a [`Reason`]. [`Model::rank_unpersonalized`] is
//!   the feed without profiling: recency and engagement only, the same for everyone.
//! * [`eval`] replays MovieLens-style interaction logs through the model and the
//!   baselines (MostPop, ItemKNN, EASE) under leave-last-out with full ranking.
//!
//! The access policy is not here: the caller says which videos are eligible
//! ([`ItemMeta::eligible`]) and filters pages once more against the database.
// Dense vectors indexed by the ids this crate assigns (users, items, tags): an
// index out of range is a bug in the model that should fail loudly in its tests
// and its evaluation, not be read as an empty value. The rest of the workspace
// denies indexing outside tests (`indexing_slicing` in the workspace lints).
#![allow(clippy::indexing_slicing)]

pub mod eval;
mod rank;
pub mod sim;

pub use rank::{rerank, rerank_after, Page, PageRules, Pick, Reason, ReasonCode};

use std::collections::{HashMap, HashSet, VecDeque};

/// A dense id the caller assigns (videos, viewers, creators, hashtags).
pub type Item = u32;
pub type User = u32;
pub type Creator = u32;
pub type Tag = u32;

/// What a viewer did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventKind {
    /// The video was served in a page.
    Impression,
    /// The viewer watched `watched_ms` of a video `duration_ms` long.
    View {
        watched_ms: u32,
        duration_ms: u32,
        completed: bool,
        replays: u8,
    },
    Like,
    Share,
    Comment,
    /// The viewer followed the video's creator (from the video).
    Follow,
    NotInterested,
    /// The viewer took back a "not interested".
    Interested,
    /// An interaction with no watch time known (a rating in MovieLens): counts as
    /// a watch-through.
    Interaction,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub user: User,
    pub item: Item,
    pub kind: EventKind,
    pub time_ms: i64,
}

/// A video as the model knows it.
#[derive(Debug, Clone, Default)]
pub struct ItemMeta {
    pub creator: Creator,
    pub tags: Vec<Tag>,
    pub created_ms: i64,
    /// May appear in For You at all (ready, public, public account, good standing).
    pub eligible: bool,
}

/// The model's knobs. `Params::default()` is what `kinora recommend eval` tuned on
/// MovieLens-100K's validation split plus the video-specific weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Weight of item-to-next transitions from the viewer's last `k_hist` items.
    pub a_trans: f32,
    pub k_hist: usize,
    pub trans_decay: f32,
    /// Weight of windowed co-engagement with the viewer's last `co_hist` items.
    pub a_co: f32,
    pub co_window: usize,
    pub co_hist: usize,
    pub co_decay: f32,
    /// Popularity debiasing of co-engagement (divide by popularity^beta).
    pub beta: f32,
    /// Transitions and co-engagement fade with this time constant: what people
    /// watch together now counts more than what they watched together months ago.
    pub tau_edges_ms: f64,
    /// Weight of time-decayed popularity, and its half-life-like time constant.
    pub a_pop: f32,
    pub tau_ms: f64,
    /// Hashtag and creator affinity, following.
    pub a_tag: f32,
    pub a_creator: f32,
    pub a_follow: f32,
    /// Weight of the video's own watch-through rate (posterior mean).
    pub a_quality: f32,
    /// Freshness bonus for videos younger than `fresh_ms`.
    pub a_fresh: f32,
    pub fresh_ms: i64,
    /// Videos with fewer impressions than this are "new" for exploration.
    pub explore_below: u32,
    /// Completed videos are not shown again for this long.
    pub seen_ms: i64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            a_trans: 0.5,
            k_hist: 5,
            trans_decay: 0.5,
            a_co: 3.0,
            co_window: 10,
            co_hist: 10,
            co_decay: 0.8,
            beta: 0.3,
            // Fading edges measured worse on MovieLens (0.19 -> 0.18 at 30 days): off.
            tau_edges_ms: 3650.0 * 86_400_000.0,
            a_pop: 0.5,
            tau_ms: 7.0 * 86_400_000.0,
            a_tag: 1.0,
            a_creator: 0.6,
            a_follow: 0.8,
            a_quality: 0.8,
            a_fresh: 0.3,
            fresh_ms: 2 * 86_400_000,
            explore_below: 50,
            seen_ms: 3 * 86_400_000,
        }
    }
}

impl Params {
    /// Sets one knob by name (`kinora recommend eval --set a_co=3`); times in days.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let f = || value.parse::<f64>().map_err(|_| format!("{key}: {value:?} is not a number"));
        let days = |d: f64| d * 86_400_000.0;
        match key {
            "a_trans" => self.a_trans = f()? as f32,
            "k_hist" => self.k_hist = f()? as usize,
            "trans_decay" => self.trans_decay = f()? as f32,
            "a_co" => self.a_co = f()? as f32,
            "co_window" => self.co_window = f()? as usize,
            "co_hist" => self.co_hist = f()? as usize,
            "co_decay" => self.co_decay = f()? as f32,
            "beta" => self.beta = f()? as f32,
            "tau_edges_days" => self.tau_edges_ms = days(f()?),
            "a_pop" => self.a_pop = f()? as f32,
            "tau_days" => self.tau_ms = days(f()?),
            _ => return Err(format!("unknown parameter {key}")),
        }
        Ok(())
    }
}

/// A video's engagement as learned online.
#[derive(Debug, Clone, Default)]
pub struct ItemStats {
    pub impressions: u32,
    /// Views weighted by how much was watched (1.0 = watched through).
    pub watch_through: f32,
    /// Views that were skips (under 2 s or 15 %).
    pub skips: u32,
    pub views: u32,
    pub likes: u32,
    pub shares: u32,
    pub comments: u32,
    pub not_interested: u32,
}

impl ItemStats {
    /// Posterior mean of the watch-through rate, Beta(1 + wt, 1 + non-wt).
    pub fn wtr(&self) -> f32 {
        let n = self.views as f32;
        (1.0 + self.watch_through) / (2.0 + n)
    }
}

/// One viewer's state.
#[derive(Debug, Clone, Default)]
pub struct UserState {
    /// Recently engaged items, oldest first (at most `HIST` long).
    pub hist: VecDeque<Item>,
    /// Everything interacted with (for full-ranking evaluation: never recommend again).
    pub touched: HashSet<Item>,
    /// Completed videos and when.
    pub completed: HashMap<Item, i64>,
    pub tag_aff: HashMap<Tag, f32>,
    pub creator_aff: HashMap<Creator, f32>,
    pub not_interested: HashSet<Item>,
    pub ni_creators: HashMap<Creator, u8>,
    pub follows: HashSet<Creator>,
    /// Items served recently and when (no repeats across pages or soon after).
    pub served: HashMap<Item, i64>,
    pub events: u32,
    /// Videos the viewer liked: For You does not offer them again (so a card there
    /// is never one the viewer already liked).
    pub liked: HashSet<Item>,
    /// Creators the viewer blocked, muted or was blocked by: set by the server
    /// from its policy data, never shown in either feed.
    pub hidden_creators: HashSet<Creator>,
    /// Hashtags the viewer follows (set by the server): a candidate source, and
    /// the "following" feature like a followed creator.
    pub followed_tags: HashSet<Tag>,
}

const HIST: usize = 50;

/// Ranking features: recent popularity, freshness, hashtag affinity, creator
/// affinity, following, the video's watch-through rate.
pub const FEATURES: usize = 6;
/// Step size of the online logistic regression.
const LEARNING_RATE: f32 = 0.02;

/// Sparse weighted edges from an item.
type Row = HashMap<Item, f32>;

/// The online model.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub params: Params,
    pub items: Vec<ItemMeta>,
    pub stats: Vec<ItemStats>,
    trans: Vec<Row>,
    trans_sum: Vec<f32>,
    co: Vec<Row>,
    co_sum: Vec<f32>,
    /// Popularity scaled by exp(t / tau) relative to `pop_epoch` (so nothing needs
    /// decaying on each event); renormalised when it grows large.
    pop: Vec<f64>,
    pop_epoch: f64,
    pop_total: Vec<f32>,
    /// Edge weights are stored scaled by exp((t - edge_epoch) / tau_edges).
    edge_epoch: f64,
    pub users: Vec<UserState>,
    /// Items by hashtag, newest last.
    by_tag: HashMap<Tag, Vec<Item>>,
    by_creator: HashMap<Creator, Vec<Item>>,
    /// The latest event time seen.
    pub now_ms: i64,
    pub events: u64,
    /// The ranking's weights over [`FEATURES`], learned online: every view is a
    /// labelled example (watched through or not) for a logistic regression over the
    /// features the video had for that viewer just before; they start from the
    /// parameters' hand-set weights.
    pub weights: [f32; FEATURES],
    pub bias: f32,
    /// Trending, fresh and exploration lists, recomputed by [`Model::refresh_caches`]
    /// (the server does it after each poll); `None` while stale (computed per page).
    caches: Option<Caches>,
}

#[derive(Debug, Clone, Default)]
struct Caches {
    trending: Vec<Item>,
    fresh: Vec<Item>,
    explore: Vec<Item>,
}

/// How much of a view counts as watching through (0..=1), and whether it was a skip.
pub fn watch_fraction(watched_ms: u32, duration_ms: u32, completed: bool) -> (f32, bool) {
    if completed {
        return (1.0, false);
    }
    let f = if duration_ms == 0 { 0.0 } else { (watched_ms as f32 / duration_ms as f32).min(1.0) };
    let skip = watched_ms < 2000 || f < 0.15;
    (f, skip)
}

impl Model {
    pub fn new(params: Params) -> Model {
        let weights = [params.a_pop, params.a_fresh, params.a_tag, params.a_creator, params.a_follow, params.a_quality];
        Model { params, weights, bias: -1.0, ..Model::default() }
    }

    /// The features of item `i` for a viewer at `now` (see [`FEATURES`]).
    pub fn features(&self, u: Option<&UserState>, i: Item, now: i64) -> [f32; FEATURES] {
        let p = &self.params;
        let m = &self.items[i as usize];
        // Recent popularity, saturating: about 0.63 at five recent watch-throughs.
        let pop = 1.0 - (-(self.popularity_at(i, now) as f32) / 5.0).exp();
        let age = (now - m.created_ms).max(0);
        let fresh = if age < p.fresh_ms { 1.0 - age as f32 / p.fresh_ms as f32 } else { 0.0 };
        let (mut tag, mut ca, mut follow) = (0.0, 0.0, 0.0);
        if let Some(us) = u {
            let tag_sum: f32 = m.tags.iter().map(|t| us.tag_aff.get(t).copied().unwrap_or(0.0)).sum();
            tag = (tag_sum / 4.0).tanh();
            ca = (us.creator_aff.get(&m.creator).copied().unwrap_or(0.0) / 4.0).tanh();
            follow = if us.follows.contains(&m.creator) || m.tags.iter().any(|t| us.followed_tags.contains(t)) { 1.0 } else { 0.0 };
        }
        [pop, fresh, tag, ca, follow, self.stats[i as usize].wtr()]
    }

    /// One step of the online logistic regression: `x` led to `watched_through`.
    fn learn(&mut self, x: &[f32; FEATURES], watched_through: bool) {
        let z: f32 = self.bias + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f32>();
        let p = 1.0 / (1.0 + (-z).exp());
        let g = f32::from(u8::from(watched_through)) - p;
        for (w, v) in self.weights.iter_mut().zip(x) {
            *w = (*w + LEARNING_RATE * g * v).clamp(-5.0, 5.0);
        }
        self.bias = (self.bias + LEARNING_RATE * g).clamp(-5.0, 5.0);
    }

    fn ensure_item(&mut self, i: Item) {
        let n = i as usize + 1;
        if self.items.len() < n {
            self.items.resize(n, ItemMeta::default());
            self.stats.resize(n, ItemStats::default());
            self.trans.resize(n, Row::new());
            self.trans_sum.resize(n, 0.0);
            self.co.resize(n, Row::new());
            self.co_sum.resize(n, 0.0);
            self.pop.resize(n, 0.0);
            self.pop_total.resize(n, 0.0);
        }
    }

    fn ensure_user(&mut self, u: User) {
        let n = u as usize + 1;
        if self.users.len() < n {
            self.users.resize(n, UserState::default());
        }
    }

    /// Adds or updates a video's metadata (on upload, edit, visibility change).
    pub fn upsert_item(&mut self, i: Item, meta: ItemMeta) {
        self.caches = None;
        self.ensure_item(i);
        let old = std::mem::replace(&mut self.items[i as usize], meta);
        let new = &self.items[i as usize];
        for t in &old.tags {
            if !new.tags.contains(t) {
                if let Some(v) = self.by_tag.get_mut(t) {
                    v.retain(|x| *x != i);
                }
            }
        }
        let tags = new.tags.clone();
        let creator = new.creator;
        for t in tags {
            let v = self.by_tag.entry(t).or_default();
            if !v.contains(&i) {
                v.push(i);
            }
        }
        if old.creator != creator {
            if let Some(v) = self.by_creator.get_mut(&old.creator) {
                v.retain(|x| *x != i);
            }
        }
        let v = self.by_creator.entry(creator).or_default();
        if !v.contains(&i) {
            v.push(i);
        }
    }

    /// The number of items known.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    fn pop_scale(&self, t: i64) -> f64 {
        ((t as f64 - self.pop_epoch) / self.params.tau_ms).exp()
    }

    /// Time-decayed popularity of every item at `t` (relative, not normalised).
    pub fn popularity_at(&self, i: Item, t: i64) -> f64 {
        self.pop.get(i as usize).copied().unwrap_or(0.0) / self.pop_scale(t)
    }

    fn bump_pop(&mut self, i: Item, t: i64, w: f64) {
        let mut s = self.pop_scale(t);
        if s > 1e100 {
            // Renormalise: move the epoch to now.
            for p in &mut self.pop {
                *p /= s;
            }
            self.pop_epoch = t as f64;
            s = 1.0;
        }
        self.pop[i as usize] += w * s;
        self.pop_total[i as usize] += w as f32;
    }

    fn edge_scale(&self, t: i64) -> f32 {
        ((t as f64 - self.edge_epoch) / self.params.tau_edges_ms).exp() as f32
    }

    /// The weight a new edge gets at `t`, renormalising stored edges when the
    /// scale grows large.
    fn edge_weight(&mut self, t: i64) -> f32 {
        let s = self.edge_scale(t);
        if s < 1e12 {
            return s;
        }
        for row in self.trans.iter_mut().chain(self.co.iter_mut()) {
            for v in row.values_mut() {
                *v /= s;
            }
        }
        for v in self.trans_sum.iter_mut().chain(self.co_sum.iter_mut()) {
            *v /= s;
        }
        self.edge_epoch = t as f64;
        1.0
    }

    /// Learns from one event. Events should arrive roughly in time order.
    pub fn observe(&mut self, e: &Event) {
        self.ensure_item(e.item);
        self.ensure_user(e.user);
        self.now_ms = self.now_ms.max(e.time_ms);
        self.events += 1;
        let p = self.params.clone();
        let meta = self.items[e.item as usize].clone();
        let u = e.user as usize;
        self.users[u].events += 1;
        // Engagement strength of this event: positive pulls the viewer towards the
        // item's hashtags and creator; negative pushes away.
        let mut engaged: Option<f32> = None;
        match e.kind {
            EventKind::Impression => {
                self.stats[e.item as usize].impressions += 1;
                self.users[u].served.insert(e.item, e.time_ms);
            }
            EventKind::View { watched_ms, duration_ms, completed, replays } => {
                let (f, skip) = watch_fraction(watched_ms, duration_ms, completed);
                // A labelled example for the ranking weights, from the state just
                // before this view.
                let x = self.features(self.users.get(u), e.item, e.time_ms);
                self.learn(&x, !skip && f >= 0.5);
                let s = &mut self.stats[e.item as usize];
                s.views += 1;
                s.watch_through += f;
                if skip {
                    s.skips += 1;
                }
                if completed || f >= 0.95 {
                    self.users[u].completed.insert(e.item, e.time_ms);
                }
                let strength = if skip { -0.5 } else { f + 0.25 * f32::from(replays.min(4)) };
                engaged = Some(strength);
            }
            EventKind::Interaction => {
                let s = &mut self.stats[e.item as usize];
                s.views += 1;
                s.watch_through += 1.0;
                engaged = Some(1.0);
            }
            EventKind::Like => {
                self.stats[e.item as usize].likes += 1;
                self.users[u].liked.insert(e.item);
                engaged = Some(1.0);
            }
            EventKind::Share => {
                self.stats[e.item as usize].shares += 1;
                engaged = Some(1.5);
            }
            EventKind::Comment => {
                self.stats[e.item as usize].comments += 1;
                engaged = Some(0.8);
            }
            EventKind::Follow => {
                self.users[u].follows.insert(meta.creator);
                engaged = Some(1.0);
            }
            EventKind::NotInterested => {
                self.stats[e.item as usize].not_interested += 1;
                let us = &mut self.users[u];
                if us.not_interested.insert(e.item) {
                    *us.ni_creators.entry(meta.creator).or_default() += 1;
                }
                engaged = Some(-2.0);
            }
            EventKind::Interested => {
                let us = &mut self.users[u];
                if us.not_interested.remove(&e.item) {
                    if let Some(c) = us.ni_creators.get_mut(&meta.creator) {
                        *c = c.saturating_sub(1);
                    }
                }
            }
        }
        let Some(strength) = engaged else { return };
        // Affinities.
        {
            let us = &mut self.users[u];
            for t in &meta.tags {
                let a = us.tag_aff.entry(*t).or_default();
                *a = (*a * 0.98 + strength).clamp(-5.0, 20.0);
            }
            let a = us.creator_aff.entry(meta.creator).or_default();
            *a = (*a * 0.98 + strength).clamp(-5.0, 20.0);
        }
        // Sequence and co-engagement learn only from positive engagement that is a
        // watch (or an interaction), once per item per viewer.
        let positive_watch = strength > 0.3 && matches!(e.kind, EventKind::View { .. } | EventKind::Interaction);
        if !positive_watch {
            if strength > 0.0 {
                self.bump_pop(e.item, e.time_ms, f64::from(strength) * 0.5);
            }
            return;
        }
        self.bump_pop(e.item, e.time_ms, 1.0);
        let us = &self.users[u];
        if us.touched.contains(&e.item) {
            return;
        }
        let hist: Vec<Item> = us.hist.iter().copied().collect();
        let w = self.edge_weight(e.time_ms);
        if let Some(&last) = hist.last() {
            *self.trans[last as usize].entry(e.item).or_default() += w;
            self.trans_sum[last as usize] += w;
        }
        for &x in hist.iter().rev().take(p.co_window) {
            if x == e.item {
                continue;
            }
            *self.co[x as usize].entry(e.item).or_default() += w;
            self.co_sum[x as usize] += w;
            *self.co[e.item as usize].entry(x).or_default() += w;
            self.co_sum[e.item as usize] += w;
        }
        let us = &mut self.users[u];
        us.touched.insert(e.item);
        us.hist.push_back(e.item);
        if us.hist.len() > HIST {
            us.hist.pop_front();
        }
    }

    /// The sequence part of a score for every item in `out` (dense, length
    /// `n_items`): transitions from the last items and co-engagement with recent
    /// ones. Returns the item that contributed most to each, for explanations.
    pub fn sequence_scores(&self, user: User, out: &mut [f32]) {
        let Some(us) = self.users.get(user as usize) else {
            return;
        };
        let p = &self.params;
        let one = self.edge_scale(self.now_ms);
        let mut tr = vec![0f32; out.len()];
        for (m, &x) in us.hist.iter().rev().take(p.k_hist).enumerate() {
            let row = &self.trans[x as usize];
            let norm = self.trans_sum[x as usize] + one;
            let w = p.trans_decay.powi(m as i32);
            for (&j, &c) in row {
                if let Some(t) = tr.get_mut(j as usize) {
                    *t += w * c / norm;
                }
            }
        }
        let mut co = vec![0f32; out.len()];
        for (m, &x) in us.hist.iter().rev().take(p.co_hist).enumerate() {
            let row = &self.co[x as usize];
            let norm = self.co_sum[x as usize] + one;
            let w = p.co_decay.powi(m as i32);
            for (&j, &c) in row {
                if let Some(t) = co.get_mut(j as usize) {
                    *t += w * c / norm;
                }
            }
        }
        if p.beta > 0.0 {
            for (j, c) in co.iter_mut().enumerate() {
                if *c > 0.0 {
                    *c /= (self.pop_total[j] + 1.0).powf(p.beta);
                }
            }
        }
        let tmax = tr.iter().copied().fold(0.0, f32::max);
        let cmax = co.iter().copied().fold(0.0, f32::max);
        for (j, o) in out.iter_mut().enumerate() {
            if tmax > 0.0 {
                *o += p.a_trans * tr[j] / tmax;
            }
            if cmax > 0.0 {
                *o += p.a_co * co[j] / cmax;
            }
        }
    }

    /// Dense scores over all items for full-ranking evaluation: sequence plus
    /// time-decayed popularity.
    pub fn score_all(&self, user: User) -> Vec<f32> {
        // Popularity relative to the most popular item: the same at any moment,
        // since every item decays alike.
        let pmax = self.pop.iter().copied().fold(0.0, f64::max);
        let mut s: Vec<f32> = self.pop.iter().map(|p| if pmax > 0.0 { self.params.a_pop * (p / pmax) as f32 } else { 0.0 }).collect();
        self.sequence_scores(user, &mut s);
        s
    }

    /// Items a viewer has touched (for evaluation: excluded from rankings).
    pub fn touched(&self, user: User) -> Option<&HashSet<Item>> {
        self.users.get(user as usize).map(|u| &u.touched)
    }

    pub fn items_by_tag(&self, t: Tag) -> &[Item] {
        self.by_tag.get(&t).map_or(&[], Vec::as_slice)
    }

    pub fn items_by_creator(&self, c: Creator) -> &[Item] {
        self.by_creator.get(&c).map_or(&[], Vec::as_slice)
    }

    /// Rough memory use of the model's state, in bytes.
    pub fn memory_bytes(&self) -> usize {
        let rows: usize = self.trans.iter().chain(self.co.iter()).map(|r| r.capacity() * 12 + 48).sum();
        let users: usize = self
            .users
            .iter()
            .map(|u| {
                200 + u.hist.capacity() * 4
                    + u.touched.capacity() * 8
                    + u.completed.capacity() * 16
                    + u.tag_aff.capacity() * 12
                    + u.creator_aff.capacity() * 12
                    + u.served.capacity() * 16
            })
            .sum();
        let items = self.items.iter().map(|m| 48 + m.tags.capacity() * 4).sum::<usize>() + self.stats.len() * std::mem::size_of::<ItemStats>();
        rows + users + items + self.pop.len() * 12
    }
}
