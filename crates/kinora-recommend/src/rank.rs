//! Making a page: candidates, scores, explanations, diversity, exploration.

use crate::{Creator, Item, ItemMeta, Model, Tag, User};
use rand::Rng;
use std::collections::{HashMap, HashSet};

/// Why a video is in the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReasonCode {
    Following,
    Similar,
    Topic,
    Trending,
    New,
    Exploration,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::Following => "following",
            ReasonCode::Similar => "similar",
            ReasonCode::Topic => "topic",
            ReasonCode::Trending => "trending",
            ReasonCode::New => "new",
            ReasonCode::Exploration => "exploration",
        }
    }
}

/// A reason with what it refers to (the caller turns it into text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reason {
    pub code: ReasonCode,
    /// `similar`: the watched video it is like.
    pub item: Option<Item>,
    /// `topic`: the hashtag.
    pub tag: Option<Tag>,
    /// `following`: the creator.
    pub creator: Option<Creator>,
}

impl Reason {
    fn of(code: ReasonCode) -> Reason {
        Reason { code, item: None, tag: None, creator: None }
    }
}

/// One video chosen for a page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    pub item: Item,
    pub score: f32,
    pub reason: Reason,
}

/// The rules every page keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageRules {
    pub size: usize,
    /// At most this many videos of one creator per page (and never two in a row).
    pub max_per_creator: usize,
    /// At most this many videos sharing a hashtag per page, and never three in a
    /// row (both relaxed only when nothing else is left).
    pub max_per_tag: usize,
    /// Slots per page reserved for videos with few impressions.
    pub explore_slots: usize,
}

impl Default for PageRules {
    fn default() -> Self {
        PageRules { size: 10, max_per_creator: 2, max_per_tag: 6, explore_slots: 2 }
    }
}

/// A page, best first.
pub type Page = Vec<Pick>;

/// Greedy diversity re-ranking: fills the page in order, taking from `explore` at
/// the exploration slots and from `main` elsewhere, skipping a candidate whose
/// creator was just shown or already has `max_per_creator` videos on the page, or
/// that shares a hashtag with both of the two videos before it or with
/// `max_per_tag` videos on the page already (the hashtag rules alone are relaxed
/// when nothing else fits). Candidates are assumed sorted best first and filtered.
pub fn rerank(main: &[Pick], explore: &[Pick], items: &[ItemMeta], rules: &PageRules) -> Page {
    rerank_after(main, explore, items, rules, None)
}

/// [`rerank`] for a page that follows one ending with a video by `prev_creator`.
/// When only candidates that break the creator rules are left (a small server
/// with few creators), the page takes them rather than stop: the rules hold
/// whenever there is any other choice.
pub fn rerank_after(main: &[Pick], explore: &[Pick], items: &[ItemMeta], rules: &PageRules, prev_creator: Option<Creator>) -> Page {
    let mut page: Page = Vec::with_capacity(rules.size);
    let mut used: HashSet<Item> = HashSet::new();
    let mut per_creator: HashMap<Creator, usize> = HashMap::new();
    let mut per_tag: HashMap<Tag, usize> = HashMap::new();
    // Exploration slots spread over the page: for 10 and 2, positions 2 and 7.
    let slots: HashSet<usize> = (0..rules.explore_slots).map(|k| (k * rules.size + rules.size / 4) / rules.explore_slots.max(1)).collect();
    let meta = |i: Item| items.get(i as usize);
    for pos in 0..rules.size {
        let last_creator = page.last().and_then(|p| meta(p.item)).map(|m| m.creator).or(if page.is_empty() { prev_creator } else { None });
        // Hashtags the last two videos share: a third in a row is not allowed.
        let run_tags: Vec<Tag> = match (page.len().checked_sub(2).and_then(|k| page.get(k)).and_then(|p| meta(p.item)), page.last().and_then(|p| meta(p.item)))
        {
            (Some(a), Some(b)) => a.tags.iter().filter(|t| b.tags.contains(t)).copied().collect(),
            _ => Vec::new(),
        };
        // Strictness: 0 all rules, 1 hashtags relaxed, 2 per-page creator limit
        // relaxed too, 3 anything not yet on the page.
        let fits = |p: &Pick, level: u8, used: &HashSet<Item>, per_creator: &HashMap<Creator, usize>, per_tag: &HashMap<Tag, usize>| {
            let Some(m) = meta(p.item) else { return false };
            let strict_tags = level == 0;
            !used.contains(&p.item)
                && (level >= 3 || Some(m.creator) != last_creator)
                && (level >= 2 || per_creator.get(&m.creator).copied().unwrap_or(0) < rules.max_per_creator)
                && (!strict_tags || m.tags.iter().all(|t| per_tag.get(t).copied().unwrap_or(0) < rules.max_per_tag && !run_tags.contains(t)))
        };
        let pools: [&[Pick]; 2] = if slots.contains(&pos) { [explore, main] } else { [main, explore] };
        let mut chosen = None;
        'search: for level in 0..4u8 {
            for pool in pools {
                if let Some(p) = pool.iter().find(|p| fits(p, level, &used, &per_creator, &per_tag)) {
                    chosen = Some(*p);
                    break 'search;
                }
            }
        }
        let Some(p) = chosen else { break };
        used.insert(p.item);
        if let Some(m) = meta(p.item) {
            *per_creator.entry(m.creator).or_default() += 1;
            for t in &m.tags {
                *per_tag.entry(*t).or_default() += 1;
            }
        }
        page.push(p);
    }
    page
}

/// A Gamma(shape, 1) sample (Marsaglia and Tsang), for Beta sampling.
fn gamma(rng: &mut impl Rng, shape: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        // A standard normal by Box-Muller.
        let (u1, u2): (f64, f64) = (rng.gen_range(f64::MIN_POSITIVE..1.0), rng.gen());
        let x = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A Beta(a, b) sample.
pub fn beta_sample(rng: &mut impl Rng, a: f64, b: f64) -> f64 {
    let x = gamma(rng, a);
    let y = gamma(rng, b);
    if x + y == 0.0 {
        0.5
    } else {
        x / (x + y)
    }
}

impl Model {
    /// Whether `user` should not be shown `i` now: ineligible, served in this
    /// session, completed recently, marked not interested, or by a creator they
    /// marked twice.
    fn excluded(&self, user: Option<User>, i: Item, now: i64, session: &HashSet<Item>) -> bool {
        let Some(m) = self.items.get(i as usize) else {
            return true;
        };
        if !m.eligible || session.contains(&i) {
            return true;
        }
        let Some(us) = user.and_then(|u| self.users.get(u as usize)) else {
            return false;
        };
        us.hidden_creators.contains(&m.creator)
            || us.liked.contains(&i)
            || us.not_interested.contains(&i)
            || us.ni_creators.get(&m.creator).copied().unwrap_or(0) >= 2
            || us.completed.get(&i).is_some_and(|t| now - t < self.params.seen_ms)
    }

    /// Whether `i` is kept from `user` in any feed, personalised or not: its
    /// creator is hidden from them (blocks, mutes).
    pub fn hidden(&self, user: Option<User>, i: Item) -> bool {
        let (Some(us), Some(m)) = (user.and_then(|u| self.users.get(u as usize)), self.items.get(i as usize)) else {
            return false;
        };
        us.hidden_creators.contains(&m.creator)
    }

    /// Replaces the hashtags `user` follows.
    pub fn set_followed_tags(&mut self, user: User, tags: HashSet<Tag>) {
        if tags.is_empty() && self.users.get(user as usize).is_none_or(|u| u.followed_tags.is_empty()) {
            return;
        }
        self.ensure_user(user);
        self.users[user as usize].followed_tags = tags;
    }

    /// Replaces the creators hidden from `user` (see [`UserState::hidden_creators`]).
    pub fn set_hidden_creators(&mut self, user: User, creators: HashSet<Creator>) {
        if creators.is_empty() && self.users.get(user as usize).is_none_or(|u| u.hidden_creators.is_empty()) {
            return;
        }
        self.ensure_user(user);
        self.users[user as usize].hidden_creators = creators;
    }

    /// Recomputes the trending, fresh and exploration lists pages draw from (a scan
    /// of every video); until the next call they may lag by the events since.
    pub fn refresh_caches(&mut self) {
        self.caches = None;
        let c = crate::Caches { trending: self.trending(300), fresh: self.fresh(100), explore: self.explore_pool(400) };
        self.caches = Some(c);
    }

    fn cached_trending(&self, n: usize) -> Vec<Item> {
        match &self.caches {
            Some(c) => c.trending.iter().take(n).copied().collect(),
            None => self.trending(n),
        }
    }

    fn cached_fresh(&self, n: usize) -> Vec<Item> {
        match &self.caches {
            Some(c) => c.fresh.iter().take(n).copied().collect(),
            None => self.fresh(n),
        }
    }

    fn cached_explore(&self, n: usize) -> Vec<Item> {
        match &self.caches {
            Some(c) => c.explore.iter().take(n).copied().filter(|&i| self.stats[i as usize].impressions < self.params.explore_below).collect(),
            None => self.explore_pool(n),
        }
    }

    /// Eligible items ordered by time-decayed engagement (trending), at most `n`.
    pub fn trending(&self, n: usize) -> Vec<Item> {
        let mut v: Vec<(f64, Item)> =
            self.items.iter().enumerate().filter(|(_, m)| m.eligible).map(|(i, _)| (self.pop[i], i as Item)).filter(|(p, _)| *p > 0.0).collect();
        let k = n.min(v.len());
        if k > 0 && k < v.len() {
            v.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            v.truncate(k);
        }
        v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        v.into_iter().map(|(_, i)| i).collect()
    }

    /// The newest eligible items, at most `n`.
    pub fn fresh(&self, n: usize) -> Vec<Item> {
        let mut v: Vec<(i64, Item)> = self.items.iter().enumerate().filter(|(_, m)| m.eligible).map(|(i, m)| (m.created_ms, i as Item)).collect();
        let k = n.min(v.len());
        if k > 0 && k < v.len() {
            v.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
            v.truncate(k);
        }
        v.sort_by(|a, b| b.cmp(a));
        v.into_iter().map(|(_, i)| i).collect()
    }

    /// Sequence scores for candidates with the watched item behind each.
    fn similar(&self, user: User) -> HashMap<Item, (f32, Item)> {
        let mut out: HashMap<Item, (f32, Item)> = HashMap::new();
        let Some(us) = self.users.get(user as usize) else {
            return out;
        };
        let p = &self.params;
        let mut add = |j: Item, w: f32, from: Item| {
            let e = out.entry(j).or_insert((0.0, from));
            if w > 0.0 {
                e.0 += w;
            }
        };
        let one = self.edge_scale(self.now_ms);
        for (m, &x) in us.hist.iter().rev().take(p.k_hist.max(10)).enumerate() {
            let wt = p.trans_decay.powi(m as i32) * p.a_trans / (self.trans_sum[x as usize] + one);
            for (&j, &c) in &self.trans[x as usize] {
                add(j, wt * c, x);
            }
            let wc = p.co_decay.powi(m as i32) * p.a_co / (self.co_sum[x as usize] + one);
            for (&j, &c) in &self.co[x as usize] {
                add(j, wc * c / (self.pop_total[j as usize] + 1.0).powf(p.beta), x);
            }
        }
        let max = out.values().map(|v| v.0).fold(0.0, f32::max);
        if max > 0.0 {
            for v in out.values_mut() {
                v.0 = (v.0 / max) * (p.a_trans + p.a_co) / 2.0;
            }
        }
        out
    }

    /// A personalised page for `user` at `now`, minus `session` (what this feed
    /// session served already).
    pub fn rank(&self, user: User, now: i64, session: &HashSet<Item>, rules: &PageRules, rng: &mut impl Rng) -> Page {
        self.rank_after(user, now, session, rules, None, rng)
    }

    /// [`Model::rank`] for a page that follows one ending with `prev_creator`.
    pub fn rank_after(&self, user: User, now: i64, session: &HashSet<Item>, rules: &PageRules, prev_creator: Option<Creator>, rng: &mut impl Rng) -> Page {
        let p = &self.params;
        let u = self.users.get(user as usize);
        let mut cands: HashMap<Item, Reason> = HashMap::new();
        let offer = |i: Item, r: Reason, cands: &mut HashMap<Item, Reason>| {
            if !self.excluded(Some(user), i, now, session) {
                cands.entry(i).or_insert(r);
            }
        };
        // Sources.
        let sim = self.similar(user);
        let mut sim_top: Vec<(&Item, &(f32, Item))> = sim.iter().collect();
        let by_score = |a: &(&Item, &(f32, Item)), b: &(&Item, &(f32, Item))| b.1 .0.total_cmp(&a.1 .0).then(a.0.cmp(b.0));
        if sim_top.len() > 200 {
            sim_top.select_nth_unstable_by(199, by_score);
            sim_top.truncate(200);
        }
        sim_top.sort_by(by_score);
        for (&j, &(_, from)) in sim_top.iter().take(200) {
            offer(j, Reason { code: ReasonCode::Similar, item: Some(from), tag: None, creator: None }, &mut cands);
        }
        if let Some(us) = u {
            for c in &us.follows {
                for &i in self.items_by_creator(*c).iter().rev().take(30) {
                    offer(i, Reason { code: ReasonCode::Following, item: None, tag: None, creator: Some(*c) }, &mut cands);
                }
            }
            for t in &us.followed_tags {
                for &i in self.items_by_tag(*t).iter().rev().take(30) {
                    offer(i, Reason { code: ReasonCode::Following, item: None, tag: Some(*t), creator: None }, &mut cands);
                }
            }
            let mut tags: Vec<(&Tag, &f32)> = us.tag_aff.iter().filter(|(_, a)| **a > 0.0).collect();
            tags.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
            for (t, _) in tags.iter().take(4) {
                for &i in self.items_by_tag(**t).iter().rev().take(60) {
                    offer(i, Reason { code: ReasonCode::Topic, item: None, tag: Some(**t), creator: None }, &mut cands);
                }
            }
        }
        for i in self.cached_trending(100) {
            offer(i, Reason::of(ReasonCode::Trending), &mut cands);
        }
        for i in self.cached_fresh(60) {
            offer(i, Reason::of(ReasonCode::New), &mut cands);
        }
        // Scores: predicted engagement.
        let mut scored: Vec<Pick> = cands
            .into_iter()
            .map(|(i, reason)| {
                let (s, r) = self.score(u, i, now, sim.get(&i).map(|v| v.0).unwrap_or(0.0), reason);
                Pick { item: i, score: s, reason: r }
            })
            .collect();
        scored.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
        // Exploration: videos with few impressions, by Thompson sampling on their
        // watch-through rate. One the viewer follows (its creator or a hashtag)
        // says so rather than "exploration".
        let followed: HashMap<Item, Reason> = scored.iter().filter(|p| p.reason.code == ReasonCode::Following).map(|p| (p.item, p.reason)).collect();
        let mut explore: Vec<Pick> = self
            .cached_explore(120)
            .into_iter()
            .filter(|&i| !self.excluded(Some(user), i, now, session))
            .map(|i| {
                let s = &self.stats[i as usize];
                let a = 1.0 + f64::from(s.watch_through);
                let b = 1.0 + (f64::from(s.views) - f64::from(s.watch_through)).max(0.0);
                // Fewer impressions, more room to prove itself: the sample is lifted
                // for videos that have hardly been seen.
                let novelty = 1.0 - (s.impressions as f32 / self.params.explore_below.max(1) as f32).min(1.0);
                Pick {
                    item: i,
                    score: beta_sample(rng, a, b) as f32 + 0.5 * novelty,
                    reason: followed.get(&i).copied().unwrap_or(Reason::of(ReasonCode::Exploration)),
                }
            })
            .collect();
        explore.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
        // The first exploration slot goes to the least-seen recent upload, so a new
        // creator's first video reaches viewers within a few page requests; the
        // others follow the bandit.
        let newest_least_seen = explore
            .iter()
            .enumerate()
            .filter(|(_, c)| now - self.items[c.item as usize].created_ms < p.fresh_ms)
            .min_by_key(|(_, c)| (self.stats[c.item as usize].impressions, -self.items[c.item as usize].created_ms))
            .map(|(k, _)| k);
        if let Some(k) = newest_least_seen {
            let c = explore.remove(k);
            explore.insert(0, c);
        }
        rerank_after(&scored, &explore, &self.items, rules, prev_creator)
    }

    /// Eligible videos with fewer than `explore_below` impressions, newest first.
    pub fn explore_pool(&self, n: usize) -> Vec<Item> {
        let mut v: Vec<(i64, Item)> = self
            .items
            .iter()
            .enumerate()
            .filter(|(i, m)| m.eligible && self.stats[*i].impressions < self.params.explore_below)
            .map(|(i, m)| (m.created_ms, i as Item))
            .collect();
        v.sort_by(|a, b| b.cmp(a));
        v.truncate(n);
        v.into_iter().map(|(_, i)| i).collect()
    }

    /// Predicted engagement of `i` for the viewer, and the reason that explains most of it.
    fn score(&self, u: Option<&crate::UserState>, i: Item, now: i64, sim: f32, source: Reason) -> (f32, Reason) {
        let m = &self.items[i as usize];
        // Predicted engagement: the learned weights over the features, plus the
        // sequence similarity (its weight is tuned offline, see eval).
        let x = self.features(u, i, now);
        let w = &self.weights;
        let mut parts: Vec<(f32, Reason)> = vec![(w[0] * x[0], Reason::of(ReasonCode::Trending)), (w[1] * x[1], Reason::of(ReasonCode::New))];
        if sim > 0.0 {
            let r = if source.code == ReasonCode::Similar { source } else { Reason::of(ReasonCode::Similar) };
            parts.push((sim, r));
        }
        if let Some(us) = u {
            let best_tag = m.tags.iter().map(|t| (*t, us.tag_aff.get(t).copied().unwrap_or(0.0))).filter(|(_, a)| *a > 0.0).max_by(|a, b| a.1.total_cmp(&b.1));
            parts.push((w[2] * x[2], Reason { code: ReasonCode::Topic, item: None, tag: best_tag.map(|b| b.0), creator: None }));
            parts.push((w[3] * x[3], Reason { code: ReasonCode::Following, item: None, tag: None, creator: Some(m.creator) }));
            if x[4] > 0.0 {
                // Followed: the creator, or else one of the video's hashtags.
                let followed_tag = (!us.follows.contains(&m.creator)).then(|| m.tags.iter().copied().find(|t| us.followed_tags.contains(t))).flatten();
                parts.push((
                    w[4] * x[4],
                    Reason { code: ReasonCode::Following, item: None, tag: followed_tag, creator: followed_tag.is_none().then_some(m.creator) },
                ));
            }
        }
        let total: f32 = parts.iter().map(|x| x.0).sum::<f32>() + w[5] * x[5];
        let mut reason = parts.iter().filter(|x| x.0 > 0.0).max_by(|a, b| a.0.total_cmp(&b.0)).map_or(source, |x| x.1);
        // "following" is only a reason if the viewer follows; creator affinity alone
        // reads as "similar".
        if reason.code == ReasonCode::Following
            && !u.is_some_and(|us| us.follows.contains(&m.creator) || reason.tag.is_some_and(|t| us.followed_tags.contains(&t)))
        {
            reason = if sim > 0.0 { parts.iter().find(|x| x.1.code == ReasonCode::Similar).map_or(source, |x| x.1) } else { source };
        }
        if reason.code == ReasonCode::Topic && reason.tag.is_none() {
            reason = source;
        }
        (total, reason)
    }

    /// The feed without profiling: ranked by engagement (time-decayed) and recency
    /// only, the same for everyone; diversity rules hold.
    pub fn rank_unpersonalized(&self, now: i64, session: &HashSet<Item>, rules: &PageRules) -> Page {
        self.rank_unpersonalized_after(None, now, session, rules, None)
    }

    /// [`Model::rank_unpersonalized`] after a page ending with `prev_creator`.
    /// `viewer` only keeps out what [`Model::hidden`] says (blocks, mutes);
    /// nothing else about them is used.
    pub fn rank_unpersonalized_after(&self, viewer: Option<User>, now: i64, session: &HashSet<Item>, rules: &PageRules, prev_creator: Option<Creator>) -> Page {
        let pmax = self.cached_trending(1).first().map_or(0.0, |&i| self.pop[i as usize]);
        let mut cands: HashSet<Item> = self.cached_trending(300).into_iter().collect();
        cands.extend(self.cached_fresh(100));
        let mut scored: Vec<Pick> = cands
            .into_iter()
            .filter(|&i| !self.excluded(None, i, now, session) && !self.hidden(viewer, i))
            .map(|i| {
                let m = &self.items[i as usize];
                let pop = if pmax > 0.0 { (self.pop[i as usize] / pmax) as f32 } else { 0.0 };
                let age_days = ((now - m.created_ms).max(0) as f32) / 86_400_000.0;
                let recency = 1.0 / (1.0 + age_days / 3.0);
                let score = pop + 0.5 * self.stats[i as usize].wtr() + 0.6 * recency;
                let code = if pop >= 0.6 * recency { ReasonCode::Trending } else { ReasonCode::New };
                Pick { item: i, score, reason: Reason::of(code) }
            })
            .collect();
        scored.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
        rerank_after(&scored, &[], &self.items, &PageRules { explore_slots: 0, ..*rules }, prev_creator)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{Event, EventKind, ItemMeta, Params};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// `videos` videos over `creators` creators and `topics` hashtags.
    fn model(videos: u32, creators: u32, topics: u32, rng: &mut StdRng) -> Model {
        let mut m = Model::new(Params::default());
        for i in 0..videos {
            let creator = rng.gen_range(0..creators);
            let mut tags = vec![creator % topics];
            if rng.gen_bool(0.3) {
                tags.push(rng.gen_range(0..topics));
                tags.dedup();
            }
            m.upsert_item(i, ItemMeta { creator, tags, created_ms: i64::from(i) * 1000, eligible: true });
        }
        m
    }

    fn view(m: &mut Model, user: u32, item: u32, t: i64, through: bool) {
        m.observe(&Event { user, item, kind: EventKind::Impression, time_ms: t });
        let kind = if through {
            EventKind::View { watched_ms: 20_000, duration_ms: 20_000, completed: true, replays: 0 }
        } else {
            EventKind::View { watched_ms: 800, duration_ms: 20_000, completed: false, replays: 0 }
        };
        m.observe(&Event { user, item, kind, time_ms: t + 1 });
    }

    fn check_rules(m: &Model, page: &Page, rules: &PageRules) {
        assert!(page.len() <= rules.size);
        let mut per_creator: HashMap<Creator, usize> = HashMap::new();
        let mut seen = HashSet::new();
        for (k, p) in page.iter().enumerate() {
            assert!(seen.insert(p.item), "a video twice on one page");
            let c = m.items[p.item as usize].creator;
            *per_creator.entry(c).or_default() += 1;
            if k > 0 {
                assert_ne!(m.items[page[k - 1].item as usize].creator, c, "one creator twice in a row: {page:?}");
            }
        }
        assert!(per_creator.values().all(|n| *n <= rules.max_per_creator), "{per_creator:?}");
    }

    #[test]
    fn a_followed_hashtag_brings_its_videos_as_following() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut m = model(300, 30, 10, &mut rng);
        let mut t = 1_000_000;
        for _ in 0..400 {
            t += 1000;
            view(&mut m, rng.gen_range(0..10), rng.gen_range(0..300), t, rng.gen_bool(0.6));
        }
        m.refresh_caches();
        let user = 42;
        let tag: Tag = 7;
        m.set_followed_tags(user, HashSet::from([tag]));
        let page = m.rank(user, t, &HashSet::new(), &PageRules::default(), &mut rng);
        let tagged: Vec<&Pick> = page.iter().filter(|p| m.items[p.item as usize].tags.contains(&tag)).collect();
        assert!(tagged.len() >= 3, "a followed hashtag fills part of a first page: {page:?}");
        assert!(tagged.iter().any(|p| p.reason.code == ReasonCode::Following && p.reason.tag == Some(tag)), "{tagged:?}");
        m.set_followed_tags(user, HashSet::new());
        let page = m.rank(user, t, &HashSet::new(), &PageRules::default(), &mut rng);
        assert!(page.iter().all(|p| !(p.reason.code == ReasonCode::Following && p.reason.tag.is_some())));
    }

    #[test]
    fn hidden_creators_and_liked_videos_never_come() {
        for seed in 0..10 {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut m = model(200, 20, 5, &mut rng);
            let mut t = 1_000_000;
            for _ in 0..300 {
                t += 1000;
                view(&mut m, rng.gen_range(0..10), rng.gen_range(0..200), t, rng.gen_bool(0.6));
            }
            let user = 3;
            let hidden: HashSet<Creator> = (0..5).map(|_| rng.gen_range(0..20)).collect();
            m.set_hidden_creators(user, hidden.clone());
            let liked = rng.gen_range(0..200);
            m.observe(&Event { user, item: liked, kind: EventKind::Like, time_ms: t });
            m.refresh_caches();
            let rules = PageRules::default();
            let mut session = HashSet::new();
            for _ in 0..8 {
                let page = m.rank(user, t, &session, &rules, &mut rng);
                let plain = m.rank_unpersonalized_after(Some(user), t, &session, &rules, None);
                for p in page.iter().chain(&plain) {
                    assert!(!hidden.contains(&m.items[p.item as usize].creator), "a hidden creator's video");
                }
                assert!(page.iter().all(|p| p.item != liked), "a liked video offered again");
                session.extend(page.iter().map(|p| p.item));
            }
            // Others still get those creators; undoing brings them back.
            let everything = PageRules { size: 100, max_per_creator: 100, max_per_tag: 100, explore_slots: 0 };
            let has_hidden = |m: &Model, viewer: User| {
                m.rank_unpersonalized_after(Some(viewer), t, &HashSet::new(), &everything, None)
                    .iter()
                    .any(|p| hidden.contains(&m.items[p.item as usize].creator))
            };
            assert!(has_hidden(&m, 4));
            m.set_hidden_creators(user, HashSet::new());
            assert!(has_hidden(&m, user));
        }
    }

    #[test]
    fn diversity_rules_hold_on_every_page() {
        for seed in 0..30 {
            let mut rng = StdRng::seed_from_u64(seed);
            // Enough creators and videos that the rules can always hold.
            let (videos, creators) = (rng.gen_range(150..300), rng.gen_range(12..40));
            let mut m = model(videos, creators, rng.gen_range(1..12), &mut rng);
            let rules = PageRules::default();
            let mut t = 1_000_000;
            for _ in 0..rng.gen_range(0..400) {
                t += 1000;
                view(&mut m, rng.gen_range(0..20), rng.gen_range(0..videos), t, rng.gen_bool(0.5));
            }
            for user in 0..5 {
                let mut session = HashSet::new();
                for _ in 0..4 {
                    let page = m.rank(user, t, &session, &rules, &mut rng);
                    check_rules(&m, &page, &rules);
                    for p in &page {
                        assert!(session.insert(p.item), "no repeats within a session");
                    }
                }
                check_rules(&m, &m.rank_unpersonalized(t, &HashSet::new(), &rules), &rules);
            }
        }
    }

    #[test]
    fn a_small_server_still_shows_everything() {
        // One creator, three videos: the creator rules cannot hold, the feed does
        // not stall.
        let mut rng = StdRng::seed_from_u64(1);
        let m = model(3, 1, 1, &mut rng);
        let rules = PageRules::default();
        assert_eq!(m.rank_unpersonalized(10_000, &HashSet::new(), &rules).len(), 3);
        assert_eq!(m.rank(0, 10_000, &HashSet::new(), &rules, &mut rng).len(), 3);
    }

    #[test]
    fn a_viewer_who_watches_one_topic_gets_mostly_that_topic() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut m = model(600, 60, 10, &mut rng);
        let rules = PageRules::default();
        let (user, topic) = (1, 4);
        let mut t = 10_000_000;
        let mut session = HashSet::new();
        let mut shares = Vec::new();
        for _ in 0..6 {
            let page = m.rank(user, t, &session, &rules, &mut rng);
            let on = page.iter().filter(|p| m.items[p.item as usize].tags.contains(&topic)).count();
            shares.push(on as f32 / page.len().max(1) as f32);
            for p in &page {
                session.insert(p.item);
                t += 1000;
                let through = m.items[p.item as usize].tags.contains(&topic);
                view(&mut m, user, p.item, t, through);
            }
        }
        assert!(shares[0] < 0.5, "cold start is not already that topic: {shares:?}");
        // The ranking weights learned it too: hashtag affinity predicts watching through.
        assert!(m.weights[2] > Params::default().a_tag, "the hashtag weight grew: {:?}", m.weights);
        assert!(shares[4] >= 0.5 && shares[5] >= 0.5, "mostly that topic within a few pages: {shares:?}");
    }

    #[test]
    fn not_interested_never_comes_back_and_two_marks_drop_the_creator() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut m = model(200, 20, 5, &mut rng);
        let rules = PageRules::default();
        let user = 2;
        let t = 5_000_000;
        let page = m.rank(user, t, &HashSet::new(), &rules, &mut rng);
        let first = page[0].item;
        let creator = m.items[first as usize].creator;
        m.observe(&Event { user, item: first, kind: EventKind::NotInterested, time_ms: t });
        let other = m.items_by_creator(creator).iter().copied().find(|i| *i != first).expect("the creator has two videos");
        m.observe(&Event { user, item: other, kind: EventKind::NotInterested, time_ms: t });
        for k in 0..30 {
            let page = m.rank(user, t + k, &HashSet::new(), &rules, &mut rng);
            assert!(page.iter().all(|p| p.item != first && p.item != other), "a not-interested video came back");
            assert!(page.iter().all(|p| m.items[p.item as usize].creator != creator), "two marks: no more of that creator");
        }
        // Taking one back lifts the creator rule, not the other mark.
        m.observe(&Event { user, item: other, kind: EventKind::Interested, time_ms: t });
        let pages: Vec<Item> = (0..30).flat_map(|k| m.rank(user, t + k, &HashSet::new(), &rules, &mut rng)).map(|p| p.item).collect();
        assert!(!pages.contains(&first));
    }

    #[test]
    fn the_unpersonalized_feed_is_the_same_for_everyone_and_new_videos_appear() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut m = model(300, 30, 6, &mut rng);
        let mut t = 1_000_000;
        for _ in 0..500 {
            t += 1000;
            view(&mut m, rng.gen_range(0..10), rng.gen_range(0..300), t, rng.gen_bool(0.6));
        }
        // Two viewers with different histories: one of them watched a lot.
        for i in 0..40 {
            view(&mut m, 20, i, t + i64::from(i), true);
        }
        let rules = PageRules::default();
        let a = m.rank_unpersonalized(t, &HashSet::new(), &rules);
        let b = m.rank_unpersonalized(t, &HashSet::new(), &rules);
        assert_eq!(a, b);
        assert_eq!(a.len(), rules.size);
        // A new upload gets exploration impressions from personalised feeds soon.
        let new = 300;
        m.upsert_item(new, ItemMeta { creator: 99, tags: vec![0], created_ms: t, eligible: true });
        let shown = (0..50).filter(|k| m.rank(k % 10, t, &HashSet::new(), &rules, &mut rng).iter().any(|p| p.item == new)).count();
        assert!(shown >= 5, "a new video is explored: shown in {shown} of 50 pages");
        // Every pick says why.
        let page = m.rank(20, t, &HashSet::new(), &rules, &mut rng);
        assert!(page.iter().any(|p| p.reason.code == ReasonCode::Exploration));
        assert!(page.iter().any(|p| matches!(p.reason.code, ReasonCode::Similar | ReasonCode::Topic | ReasonCode::Trending)), "{page:?}");
    }
}
