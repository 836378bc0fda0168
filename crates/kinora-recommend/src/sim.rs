//! A synthetic population driving the real ranking code: viewers with hidden tastes
//! over topics (hashtags) and creators, a watch-time model with skips, and three
//! feeds served the same way: personalised ([`Model::rank`]), not personalised
//! ([`Model::rank_unpersonalized`]) and random. Reports watch time per session,
//! the share of each viewer's feed in their favourite topic after 10, 50 and 200
//! swipes, and how many impressions a new video gets in its first requests.

use crate::{Event, EventKind, ItemMeta, Model, PageRules, Params};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashSet};

/// The population's size.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    pub viewers: usize,
    pub topics: usize,
    pub creators: usize,
    pub videos: usize,
    pub swipes: usize,
    /// Swipes per session (for watch time per session).
    pub session: usize,
    /// Page requests after which the new video's impressions are counted.
    pub new_video_requests: usize,
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig { viewers: 200, topics: 12, creators: 60, videos: 1200, swipes: 200, session: 20, new_video_requests: 200, seed: 7 }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FeedResult {
    pub name: String,
    pub watch_time_per_session_s: f64,
    /// Share of the last 10 videos served in the viewer's favourite topic, after
    /// 10, 50 and 200 swipes.
    pub favourite_share: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SimReport {
    pub feeds: Vec<FeedResult>,
    /// Impressions a video uploaded mid-run gets in the next `new_video_requests`
    /// personalised page requests.
    pub new_video_impressions: u32,
    pub new_video_requests: usize,
}

struct World {
    meta: Vec<ItemMeta>,
    quality: Vec<f32>,
    duration_ms: Vec<u32>,
    /// (favourite topic, second topic, liked creators)
    tastes: Vec<(u32, u32, HashSet<u32>)>,
}

fn world(c: &SimConfig, rng: &mut StdRng) -> World {
    let creator_topic: Vec<u32> = (0..c.creators).map(|k| (k % c.topics) as u32).collect();
    let mut meta = Vec::new();
    let (mut quality, mut duration_ms) = (Vec::new(), Vec::new());
    for v in 0..c.videos {
        let creator = rng.gen_range(0..c.creators) as u32;
        let mut tags = vec![creator_topic[creator as usize]];
        if rng.gen_bool(0.3) {
            let t = rng.gen_range(0..c.topics) as u32;
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        meta.push(ItemMeta { creator, tags, created_ms: (v as i64) * 1000, eligible: true });
        quality.push(rng.gen_range(0.2..1.0));
        duration_ms.push(rng.gen_range(8_000..60_000));
    }
    let tastes = (0..c.viewers)
        .map(|_| {
            let f = rng.gen_range(0..c.topics) as u32;
            let s = rng.gen_range(0..c.topics) as u32;
            let liked = (0..3).map(|_| rng.gen_range(0..c.creators) as u32).collect();
            (f, s, liked)
        })
        .collect();
    World { meta, quality, duration_ms, tastes }
}

/// How a viewer reacts to a video: (watched ms, completed, liked). A video uploaded
/// during the run (not in the world) is of average quality and 20 s long.
fn react(w: &World, model: &Model, viewer: usize, item: usize, rng: &mut StdRng) -> (u32, bool, bool) {
    let (fav, second, liked) = &w.tastes[viewer];
    let m = w.meta.get(item).unwrap_or(&model.items[item]);
    let quality = w.quality.get(item).copied().unwrap_or(0.6);
    let d = w.duration_ms.get(item).copied().unwrap_or(20_000);
    let interest = if m.tags.contains(fav) {
        0.85
    } else if m.tags.contains(second) {
        0.45
    } else {
        0.08
    } + if liked.contains(&m.creator) { 0.15 } else { 0.0 };
    let p = (interest * (0.5 + 0.5 * quality)).min(0.97);
    if rng.gen_bool(f64::from(p)) {
        let completed = rng.gen_bool(0.8);
        let watched = if completed { d } else { (d as f32 * rng.gen_range(0.5..0.95)) as u32 };
        (watched, completed, rng.gen_bool(f64::from(p) * 0.3))
    } else {
        // A skip: one or two seconds.
        (rng.gen_range(500..2_000), false, false)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Personalized,
    Unpersonalized,
    Random,
}

fn run_feed(c: &SimConfig, kind: Kind, name: &str) -> (FeedResult, u32) {
    let mut rng = StdRng::seed_from_u64(c.seed);
    let w = world(c, &mut rng);
    let mut model = Model::new(Params::default());
    for (i, m) in w.meta.iter().enumerate() {
        model.upsert_item(i as u32, m.clone());
    }
    let rules = PageRules::default();
    let mut served: Vec<Vec<usize>> = vec![Vec::new(); c.viewers];
    let mut sessions: Vec<HashSet<u32>> = vec![HashSet::new(); c.viewers];
    let mut watch_ms = vec![0u64; c.viewers];
    let mut share: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    let checkpoints = [10usize, 50, 200];
    let mut now: i64 = c.videos as i64 * 1000 + 1;
    let mut new_item: Option<u32> = None;
    let mut new_impressions = 0u32;
    let mut requests_since_new = 0usize;
    let pages = c.swipes.div_ceil(rules.size);
    for round in 0..pages {
        for v in 0..c.viewers {
            if served[v].len() >= c.swipes {
                continue;
            }
            now += 1000;
            let page: Vec<u32> = match kind {
                Kind::Personalized => model.rank(v as u32, now, &sessions[v], &rules, &mut rng).into_iter().map(|p| p.item).collect(),
                Kind::Unpersonalized => model.rank_unpersonalized(now, &sessions[v], &rules).into_iter().map(|p| p.item).collect(),
                Kind::Random => (0..rules.size).map(|_| rng.gen_range(0..model.n_items()) as u32).collect(),
            };
            if new_item.is_some() && requests_since_new < c.new_video_requests && kind == Kind::Personalized {
                requests_since_new += 1;
                new_impressions += page.iter().filter(|i| Some(**i) == new_item).count() as u32;
            }
            for item in page {
                if served[v].len() >= c.swipes {
                    break;
                }
                sessions[v].insert(item);
                model.observe(&Event { user: v as u32, item, kind: EventKind::Impression, time_ms: now });
                let (ms, completed, liked) = react(&w, &model, v, item as usize, &mut rng);
                watch_ms[v] += u64::from(ms);
                now += i64::from(ms);
                let dur = *w.duration_ms.get(item as usize).unwrap_or(&20_000);
                model.observe(&Event { user: v as u32, item, kind: EventKind::View { watched_ms: ms, duration_ms: dur, completed, replays: 0 }, time_ms: now });
                if liked {
                    model.observe(&Event { user: v as u32, item, kind: EventKind::Like, time_ms: now });
                }
                served[v].push(item as usize);
                let n = served[v].len();
                if checkpoints.contains(&n) {
                    let last = &served[v][n.saturating_sub(10)..];
                    let fav = w.tastes[v].0;
                    let hits = last.iter().filter(|&&i| model.items[i].tags.contains(&fav)).count();
                    let e = share.entry(n).or_default();
                    e.0 += hits as f64 / last.len() as f64;
                    e.1 += 1.0;
                }
                if n.is_multiple_of(c.session) {
                    sessions[v].clear();
                }
            }
        }
        // Halfway through, a new creator uploads a video.
        if round == pages / 2 && new_item.is_none() {
            let i = model.n_items() as u32;
            model.upsert_item(i, ItemMeta { creator: c.creators as u32 + 1, tags: vec![0], created_ms: now, eligible: true });
            new_item = Some(i);
        }
    }
    let sessions_total: f64 = served.iter().map(|s| s.len() as f64 / c.session as f64).sum();
    let watch_total: f64 = watch_ms.iter().map(|&m| m as f64 / 1000.0).sum();
    let favourite_share = share.into_iter().map(|(k, (s, n))| (k.to_string(), if n > 0.0 { s / n } else { 0.0 })).collect();
    (FeedResult { name: name.to_owned(), watch_time_per_session_s: watch_total / sessions_total.max(1.0), favourite_share }, new_impressions)
}

/// Runs the three feeds on the same population.
pub fn simulate(c: &SimConfig) -> SimReport {
    let (p, new_video_impressions) = run_feed(c, Kind::Personalized, "personalized");
    let (u, _) = run_feed(c, Kind::Unpersonalized, "non-personalized");
    let (r, _) = run_feed(c, Kind::Random, "random");
    SimReport { feeds: vec![p, u, r], new_video_impressions, new_video_requests: c.new_video_requests }
}
