//! Offline evaluation on interaction logs (MovieLens-100K `u.data`, or RecBole's
//! `ml-100k.inter`): leave-last-out with full ranking. Each user's last interaction
//! (by time) is the test item, the one before it the validation item. The online
//! model replays every event in time order and is asked for its top 10 at the
//! moment of each held-out interaction, before it learns from it; the batch
//! baselines (MostPop, ItemKNN, EASE) train on everything but the held-out items.
//! Hit rate and NDCG at 10 over all items the user has not interacted with.

use crate::{Event, EventKind, Model, Params};
use std::collections::{HashMap, HashSet};

/// (user, item, time in seconds), ids dense from 0.
#[derive(Debug, Clone)]
pub struct Log {
    pub events: Vec<(u32, u32, i64)>,
    pub users: usize,
    pub items: usize,
}

/// Parses `user item rating timestamp` lines (tabs or spaces); a header line
/// (RecBole's `user_id:token ...`) is skipped.
pub fn parse(text: &str) -> Result<Log, String> {
    let mut raw = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || (n == 0 && f[0].contains(':')) {
            continue;
        }
        if f.len() < 4 {
            return Err(format!("line {}: expected user, item, rating, timestamp", n + 1));
        }
        let t = f[3].parse::<f64>().map_err(|_| format!("line {}: bad timestamp", n + 1))? as i64;
        raw.push((f[0].to_owned(), f[1].to_owned(), t));
    }
    if raw.is_empty() {
        return Err("no interactions".into());
    }
    let (mut us, mut is) = (HashMap::new(), HashMap::new());
    let mut events = Vec::with_capacity(raw.len());
    for (u, i, t) in raw {
        let nu = us.len() as u32;
        let u = *us.entry(u).or_insert(nu);
        let ni = is.len() as u32;
        let i = *is.entry(i).or_insert(ni);
        events.push((u, i, t));
    }
    // Time order; ties keep file order (a stable sort).
    events.sort_by_key(|e| e.2);
    Ok(Log { events, users: us.len(), items: is.len() })
}

/// Which held-out interaction is being predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Validation,
    Test,
}

/// Event indexes of each user's validation and test interactions.
fn holdouts(log: &Log) -> (HashMap<usize, u32>, HashMap<usize, u32>) {
    let mut per_user: Vec<Vec<usize>> = vec![Vec::new(); log.users];
    for (k, e) in log.events.iter().enumerate() {
        per_user[e.0 as usize].push(k);
    }
    let (mut val, mut test) = (HashMap::new(), HashMap::new());
    for (u, ks) in per_user.iter().enumerate() {
        if ks.len() >= 3 {
            test.insert(ks[ks.len() - 1], u as u32);
            val.insert(ks[ks.len() - 2], u as u32);
        }
    }
    (val, test)
}

/// Top 10 of `scores`, excluding `skip`.
fn top10(scores: &[f32], skip: &HashSet<u32>) -> Vec<u32> {
    let mut v: Vec<(f32, u32)> = scores.iter().enumerate().filter(|(j, _)| !skip.contains(&(*j as u32))).map(|(j, s)| (*s, j as u32)).collect();
    let k = 10.min(v.len());
    if k > 0 && k < v.len() {
        v.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        v.truncate(k);
    }
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    v.into_iter().map(|x| x.1).collect()
}

/// (HR@10, NDCG@10) accumulator.
#[derive(Debug, Default, Clone, Copy)]
struct Metric {
    hits: f64,
    ndcg: f64,
    n: f64,
}

impl Metric {
    fn add(&mut self, top: &[u32], truth: u32) {
        self.n += 1.0;
        if let Some(r) = top.iter().position(|x| *x == truth) {
            self.hits += 1.0;
            self.ndcg += 1.0 / ((r + 2) as f64).log2();
        }
    }

    fn get(&self) -> (f64, f64) {
        if self.n == 0.0 {
            (0.0, 0.0)
        } else {
            (self.hits / self.n, self.ndcg / self.n)
        }
    }
}

/// The online model, replayed: (HR@10, NDCG@10) on `target`.
pub fn online(log: &Log, params: &Params, target: Target) -> (f64, f64) {
    let (val, test) = holdouts(log);
    let mut m = Model::new(params.clone());
    for i in 0..log.items as u32 {
        m.upsert_item(i, crate::ItemMeta { eligible: true, ..Default::default() });
    }
    let mut metric = Metric::default();
    for (k, &(u, i, t)) in log.events.iter().enumerate() {
        let t_ms = t * 1000;
        let is_target = match target {
            Target::Validation => val.contains_key(&k),
            Target::Test => test.contains_key(&k),
        };
        if is_target {
            let scores = m.score_all(u);
            let empty = HashSet::new();
            let top = top10(&scores, m.touched(u).unwrap_or(&empty));
            metric.add(&top, i);
        }
        // Test interactions are never learned from (in either mode).
        if test.contains_key(&k) {
            continue;
        }
        m.observe(&Event { user: u, item: i, kind: EventKind::Interaction, time_ms: t_ms });
    }
    metric.get()
}

/// Training pairs for a batch model: every event but the held-out ones.
fn train_sets(log: &Log, target: Target) -> (Vec<HashSet<u32>>, Vec<(u32, u32)>) {
    let (val, test) = holdouts(log);
    let mut sets = vec![HashSet::new(); log.users];
    let mut truth = Vec::new();
    for (k, &(u, i, _)) in log.events.iter().enumerate() {
        let held = match target {
            Target::Validation => val.contains_key(&k) || test.contains_key(&k),
            Target::Test => test.contains_key(&k),
        };
        let is_truth = match target {
            Target::Validation => val.contains_key(&k),
            Target::Test => test.contains_key(&k),
        };
        if is_truth {
            truth.push((u, i));
        }
        if !held {
            sets[u as usize].insert(i);
        }
    }
    (sets, truth)
}

fn evaluate_batch(log: &Log, target: Target, score: impl Fn(&HashSet<u32>, &mut [f32])) -> (f64, f64) {
    let (sets, truth) = train_sets(log, target);
    let mut metric = Metric::default();
    for (u, i) in truth {
        let mut s = vec![0f32; log.items];
        score(&sets[u as usize], &mut s);
        let top = top10(&s, &sets[u as usize]);
        metric.add(&top, i);
    }
    metric.get()
}

/// MostPop: items by number of training interactions.
pub fn most_pop(log: &Log, target: Target) -> (f64, f64) {
    let (sets, _) = train_sets(log, target);
    let mut pop = vec![0f32; log.items];
    for s in &sets {
        for &i in s {
            pop[i as usize] += 1.0;
        }
    }
    evaluate_batch(log, target, |_, out| out.copy_from_slice(&pop))
}

/// Item-item co-occurrence counts of the training matrix (dense, items x items).
fn gram(log: &Log, sets: &[HashSet<u32>]) -> Vec<f64> {
    let n = log.items;
    let mut g = vec![0f64; n * n];
    for s in sets {
        let v: Vec<usize> = s.iter().map(|&i| i as usize).collect();
        for &a in &v {
            for &b in &v {
                g[a * n + b] += 1.0;
            }
        }
    }
    g
}

/// ItemKNN: cosine similarity between items, the `k` nearest neighbours of each,
/// scores summed over the user's items.
pub fn item_knn(log: &Log, target: Target, k: usize) -> (f64, f64) {
    let (sets, _) = train_sets(log, target);
    let n = log.items;
    let g = gram(log, &sets);
    let mut sim = vec![0f32; n * n];
    for a in 0..n {
        let mut row: Vec<(f64, usize)> =
            (0..n).filter(|&b| b != a && g[a * n + b] > 0.0).map(|b| (g[a * n + b] / ((g[a * n + a] * g[b * n + b]).sqrt() + 1e-9), b)).collect();
        row.sort_by(|x, y| y.0.total_cmp(&x.0));
        for (s, b) in row.into_iter().take(k) {
            sim[a * n + b] = s as f32;
        }
    }
    evaluate_batch(log, target, |items, out| {
        for &i in items {
            let row = &sim[i as usize * n..(i as usize + 1) * n];
            for (o, s) in out.iter_mut().zip(row) {
                *o += s;
            }
        }
    })
}

/// In-place inverse of a symmetric positive definite matrix (Cholesky).
fn spd_inverse(a: &mut [f64], n: usize) -> Result<(), String> {
    // a = L L^T, L stored in the lower triangle.
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 {
            return Err("matrix is not positive definite".into());
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    // Inverse of L (lower), in place.
    for j in 0..n {
        a[j * n + j] = 1.0 / a[j * n + j];
        for i in j + 1..n {
            let mut s = 0.0;
            for k in j..i {
                s -= a[i * n + k] * a[k * n + j];
            }
            a[i * n + j] = s / a[i * n + i];
        }
    }
    // A^-1 = L^-T L^-1: entry (i, j) for i >= j is sum_k>=i Linv[k][i] Linv[k][j].
    let mut out = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = 0.0;
            for k in i..n {
                s += a[k * n + i] * a[k * n + j];
            }
            out[i * n + j] = s;
            out[j * n + i] = s;
        }
    }
    a.copy_from_slice(&out);
    Ok(())
}

/// EASE (Steck 2019): B = I - P diag(1/diag(P)), P = (X^T X + lambda I)^-1, zero diagonal.
pub fn ease(log: &Log, target: Target, lambda: f64) -> Result<(f64, f64), String> {
    let (sets, _) = train_sets(log, target);
    let n = log.items;
    let mut p = gram(log, &sets);
    for i in 0..n {
        p[i * n + i] += lambda;
    }
    spd_inverse(&mut p, n)?;
    let mut b = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                b[i * n + j] = (-p[i * n + j] / p[j * n + j]) as f32;
            }
        }
    }
    Ok(evaluate_batch(log, target, |items, out| {
        for &i in items {
            let row = &b[i as usize * n..(i as usize + 1) * n];
            for (o, s) in out.iter_mut().zip(row) {
                *o += s;
            }
        }
    }))
}

/// One model's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelResult {
    pub name: String,
    pub online: bool,
    pub hr_at_10: f64,
    pub ndcg_at_10: f64,
    /// What was chosen on the validation split.
    pub tuned: String,
}

/// The online model's grid, searched on the validation split.
pub fn grid(base: &Params) -> Vec<Params> {
    // Explored with `examples/sweep.rs`: the weight of co-engagement, how fast
    // older items fade from it, how many recent items it looks at, and the weight
    // of recent popularity matter; the rest stays at its default.
    let mut out = Vec::new();
    for co_decay in [0.7, 0.8, 0.9] {
        for co_hist in [5, 10] {
            for a_co in [2.0, 3.0] {
                for a_pop in [0.3, 0.5, 0.8] {
                    out.push(Params { co_decay, co_hist, a_co, a_pop, ..base.clone() });
                }
            }
        }
    }
    out
}

/// Tunes every model on validation, reports test. `progress` is called after each
/// step with (done, total).
pub fn run(log: &Log, base: &Params, full_grid: bool, progress: &dyn Fn(usize, usize)) -> Result<Vec<ModelResult>, String> {
    let grid = if full_grid { grid(base) } else { vec![base.clone()] };
    let lambdas = [100.0, 250.0, 500.0, 1000.0];
    let ks = [50usize, 100, 200];
    let total = grid.len() + lambdas.len() + ks.len() + 5;
    let mut done = 0;
    let mut step = || {
        done += 1;
        progress(done, total);
    };
    // Online model: the best validation HR@10 (ties: NDCG).
    let mut best: Option<((f64, f64), Params)> = None;
    for p in grid {
        let v = online(log, &p, Target::Validation);
        if best.as_ref().is_none_or(|(b, _)| (v.0, v.1) > (b.0, b.1)) {
            best = Some((v, p));
        }
        step();
    }
    let (_, bp) = best.ok_or("empty grid")?;
    let (hr, nd) = online(log, &bp, Target::Test);
    step();
    let mut out = vec![ModelResult {
        name: "kinora-online".into(),
        online: true,
        hr_at_10: hr,
        ndcg_at_10: nd,
        tuned: format!(
            "a_trans={} a_co={} co_decay={} co_hist={} a_pop={} beta={} tau={}d tau_edges={}d",
            bp.a_trans,
            bp.a_co,
            bp.co_decay,
            bp.co_hist,
            bp.a_pop,
            bp.beta,
            bp.tau_ms / 86_400_000.0,
            bp.tau_edges_ms / 86_400_000.0
        ),
    }];
    let (hr, nd) = most_pop(log, Target::Test);
    step();
    out.push(ModelResult { name: "MostPop".into(), online: false, hr_at_10: hr, ndcg_at_10: nd, tuned: String::new() });
    let mut best_k = (0usize, -1.0f64);
    for k in ks {
        let v = item_knn(log, Target::Validation, k).0;
        if v > best_k.1 {
            best_k = (k, v);
        }
        step();
    }
    let (hr, nd) = item_knn(log, Target::Test, best_k.0);
    step();
    out.push(ModelResult { name: "ItemKNN".into(), online: false, hr_at_10: hr, ndcg_at_10: nd, tuned: format!("k={}", best_k.0) });
    let mut best_l = (0f64, -1.0f64);
    for l in lambdas {
        let v = ease(log, Target::Validation, l)?.0;
        if v > best_l.1 {
            best_l = (l, v);
        }
        step();
    }
    let (hr, nd) = ease(log, Target::Test, best_l.0)?;
    step();
    out.push(ModelResult { name: "EASE".into(), online: false, hr_at_10: hr, ndcg_at_10: nd, tuned: format!("lambda={}", best_l.0) });
    step();
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A log where every user walks the same chain of items in order: the
    /// next item is always predictable from the last one.
    fn chain_log(users: usize, len: usize) -> Log {
        let mut text = String::new();
        // 200 items; everyone steps by 7 from their own start, so only the last
        // item tells the next one (popularity does not).
        for u in 0..users {
            let start = (u * 13) % 200;
            for k in 0..len {
                text.push_str(&format!("{u}\t{}\t5\t{}\n", (start + 7 * k) % 200, 1_000_000 + u * 1000 + k));
            }
        }
        parse(&text).unwrap()
    }

    #[test]
    fn parses_both_formats() {
        let a = parse("user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t3\t5\n2\t10\t4\t3\n").unwrap();
        assert_eq!((a.users, a.items, a.events.len()), (2, 1, 2));
        assert_eq!(a.events[0].2, 3, "time order");
        assert!(parse("1 2\n").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn the_online_model_learns_sequences_and_beats_popularity() {
        let log = chain_log(300, 12);
        let (hr, _) = online(&log, &Params::default(), Target::Test);
        let (pop, _) = most_pop(&log, Target::Test);
        assert!(hr > 0.8, "a deterministic chain is learned: {hr}");
        assert!(hr > pop + 0.3, "online {hr} vs MostPop {pop}");
    }

    #[test]
    fn ease_inverts_and_ranks() {
        let mut a = vec![4.0, 2.0, 0.6, 2.0, 2.0, 0.5, 0.6, 0.5, 3.0];
        let orig = a.clone();
        spd_inverse(&mut a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| orig[i * 3 + k] * a[k * 3 + j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9, "A A^-1 at {i},{j} = {v}");
            }
        }
        let log = chain_log(60, 12);
        let (hr, _) = ease(&log, Target::Test, 10.0).unwrap();
        let (knn, _) = item_knn(&log, Target::Test, 20);
        assert!(hr > 0.0 && knn > 0.0, "EASE {hr}, ItemKNN {knn}");
    }
}
