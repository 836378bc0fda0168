//! Where data lives, declared and proven.
//!
//! [`declaration`] says which regions exist, under which jurisdiction, which is
//! primary and which holds backups, and what is kept where (from the registry).
//! [`verify`] lists every region's store and checks it against the database: every
//! object of an account is in its home region and its backup region and nowhere
//! else, every expected replica exists with the right size (and, where the database
//! knows it, hash), and nothing is stored that the database does not know.

use crate::registry::{DataKind, REGISTRY};
use crate::state::AppState;
use kinora_core::Id;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Serialize)]
pub struct RegionInfo {
    pub name: String,
    pub jurisdiction: String,
    /// `primary`, `backup` or `region`.
    pub role: &'static str,
}

/// What the instance declares about residency.
#[derive(Debug, Clone, Serialize)]
pub struct Declaration {
    pub primary: RegionInfo,
    pub backup: Option<RegionInfo>,
    pub regions: Vec<RegionInfo>,
    /// Every kind of data: what, why, where, how long, who sees it.
    pub data: Vec<DataKind>,
}

fn info(st: &AppState, name: &str) -> RegionInfo {
    let jurisdiction = st.regions.region(name).map(|r| r.jurisdiction.clone()).unwrap_or_default();
    let role = if name == st.regions.primary {
        "primary"
    } else if st.regions.backup.as_deref() == Some(name) {
        "backup"
    } else {
        "region"
    };
    RegionInfo { name: name.to_owned(), jurisdiction, role }
}

pub fn declaration(st: &AppState) -> Declaration {
    Declaration {
        primary: info(st, &st.regions.primary),
        backup: st.regions.backup.as_deref().map(|b| info(st, b)),
        regions: st.regions.all().map(|r| info(st, &r.name)).collect(),
        data: REGISTRY.to_vec(),
    }
}

/// "stored in eu-a (EU), backup in eu-b (EU)" for an account's home region.
pub fn describe(st: &AppState, home: &str) -> String {
    let label = |name: &str| {
        let j = st.regions.region(name).map(|r| r.jurisdiction.clone()).unwrap_or_default();
        if j.is_empty() {
            name.to_owned()
        } else {
            format!("{name} ({j})")
        }
    };
    match st.regions.backup_of(home) {
        Some(b) => format!("stored in {}, backup in {}", label(home), label(b)),
        None => format!("stored in {}, no backup region", label(home)),
    }
}

/// One thing wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// `misplaced`, `missing-replica`, `unknown-object`, `erased-remnant`, `noncurrent-version`,
    /// `backup-misplaced`.
    pub kind: &'static str,
    pub region: String,
    pub key: String,
    pub detail: String,
}

/// Objects and bytes of one kind in one region.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub objects: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionReport {
    pub jurisdiction: String,
    pub role: &'static str,
    pub location: String,
    pub objects: u64,
    pub bytes: u64,
    /// Per kind of object (`originals`, `media`, `avatars`, `other`).
    pub kinds: BTreeMap<String, Tally>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub regions: BTreeMap<String, RegionReport>,
    pub violations: Vec<Violation>,
    /// Missing replicas that can be copied again from their home: (from, to, key).
    #[serde(skip)]
    pub repairable: Vec<(String, String, String)>,
}

/// Queues a verified copy for every missing replica the report found repairable;
/// returns how many (a running server's workers, or this process, make them).
pub async fn repair(st: &AppState, report: &Report) -> anyhow::Result<usize> {
    use kinora_db::{JobKind, JobQueue};
    for (from, to, key) in &report.repairable {
        st.db.enqueue(JobKind::Replicate, None, &serde_json::json!({"from": from, "to": to, "key": key})).await?;
    }
    Ok(report.repairable.len())
}

/// Checks every region's store against the database. `progress` is called with
/// (objects checked, objects in all) as the check goes.
pub async fn verify(st: &AppState, progress: &(dyn Fn(u64, u64) + Sync)) -> anyhow::Result<Report> {
    let known = st.db.known_objects().await?;
    let backup_region = crate::backup::region(st);
    let mut journal = st.keys.journal();
    journal.extend(st.db.erasure_journal().await?);
    let by_key: HashMap<&str, &kinora_db::KnownObject> = known.iter().map(|o| (o.key.as_str(), o)).collect();
    let mut listings = Vec::new();
    for r in st.regions.all() {
        let objects = st.regions.watch(&r.name, kinora_store::list_all(&r.store).await)?;
        listings.push((r, objects));
    }
    let total: u64 = listings.iter().map(|(_, o)| o.len() as u64).sum();
    let mut done = 0u64;
    let mut violations = Vec::new();
    let mut regions = BTreeMap::new();
    // (region, key) pairs found.
    let mut found: HashMap<(&str, &str), u64> = HashMap::new();
    let mut repairable: Vec<(String, String, String)> = Vec::new();
    for (r, objects) in &listings {
        let mut report = RegionReport {
            jurisdiction: r.jurisdiction.clone(),
            role: info(st, &r.name).role,
            location: r.location.clone(),
            objects: 0,
            bytes: 0,
            kinds: BTreeMap::new(),
        };
        for (key, size) in objects {
            done += 1;
            progress(done, total);
            report.objects += 1;
            report.bytes += size;
            let kind = key.split('/').next().filter(|k| crate::registry::object_prefixes().any(|p| p == *k)).unwrap_or("other");
            let t = report.kinds.entry(kind.to_owned()).or_default();
            t.objects += 1;
            t.bytes += size;
            let v = |kind: &'static str, detail: String| Violation { kind, region: r.name.clone(), key: key.clone(), detail };
            if key.starts_with("backups/") {
                if r.name != backup_region {
                    violations.push(v("backup-misplaced", format!("backups belong in {backup_region} only")));
                }
                continue;
            }
            // The public log's copy (every entry and the latest checkpoint), kept in the
            // backup region so a restore never shrinks the log.
            if key.starts_with("translog/") {
                if r.name != backup_region {
                    violations.push(v("backup-misplaced", format!("the log's copy belongs in {backup_region} only")));
                }
                continue;
            }
            let Some(o) = by_key.get(key.as_str()) else {
                // Objects keyed by account: an erased account's leftovers are named as such.
                let owner = key.split('/').nth(1).filter(|_| key.starts_with("avatars/") || key.starts_with("exports/")).and_then(Id::parse);
                if owner.is_some_and(|a| journal.contains(&crate::erasure::subject(st, &a))) {
                    violations.push(v("erased-remnant", "belongs to an erased account".into()));
                } else {
                    violations.push(v("unknown-object", "the database knows no such object".into()));
                }
                continue;
            };
            found.insert((r.name.as_str(), o.key.as_str()), *size);
            let allowed = r.name == o.home || st.regions.backup_of(&o.home) == Some(r.name.as_str());
            if !allowed {
                violations.push(v(
                    "misplaced",
                    format!("belongs to an account whose home is {} (backup {})", o.home, st.regions.backup_of(&o.home).unwrap_or("none")),
                ));
                continue;
            }
            if o.deleted {
                violations.push(v("unknown-object", "belongs to a deleted video (its purge has not run)".into()));
                continue;
            }
            if let Some(want) = o.bytes {
                if u64::try_from(want).ok() != Some(*size) {
                    violations.push(v("missing-replica", format!("{size} bytes where {want} are expected")));
                    continue;
                }
            }
            if let Some(sha) = &o.sha256 {
                let (_, got) = st.regions.watch(&r.name, kinora_store::size_and_hash(&r.store, key).await)?;
                if &got != sha {
                    violations.push(v("missing-replica", format!("SHA-256 {got} where {sha} is expected")));
                }
            }
        }
        // What a plain listing does not show: older versions and delete markers
        // that a bucket with versioning keeps (moves, reprocessing and deletes remove
        // every version; anything left is a violation).
        // Personal data only: the public log's copy (`translog/`) is overwritten by
        // design and may keep versions.
        for key in st.regions.watch(&r.name, st.regions.noncurrent_versions(&r.name).await)? {
            if !crate::registry::object_prefixes().any(|p| key.split('/').next() == Some(p)) {
                continue;
            }
            violations.push(Violation {
                kind: "noncurrent-version",
                region: r.name.clone(),
                key,
                detail: "an older version or delete marker is still stored".into(),
            });
        }
        regions.insert(r.name.clone(), report);
    }
    for o in known.iter().filter(|o| !o.deleted) {
        for region in std::iter::once(o.home.as_str()).chain(st.regions.backup_of(&o.home)) {
            if !found.contains_key(&(region, o.key.as_str())) {
                // A replica can be made again from the home copy; the repair queues it.
                if region != o.home && found.contains_key(&(o.home.as_str(), o.key.as_str())) {
                    repairable.push((o.home.clone(), region.to_owned(), o.key.clone()));
                }
                let detail = if region == o.home { "missing from the home region" } else { "no replica in the backup region" };
                violations.push(Violation { kind: "missing-replica", region: region.to_owned(), key: o.key.clone(), detail: detail.into() });
            }
        }
    }
    violations.sort_by(|a, b| (a.kind, &a.region, &a.key).cmp(&(b.kind, &b.region, &b.key)));
    Ok(Report { ok: violations.is_empty(), regions, violations, repairable })
}

/// The violations `verify residency --repair` may remove after confirmation: objects
/// the database does not know, an erased account's remnants, noncurrent versions.
pub fn removable(report: &Report) -> Vec<Violation> {
    report.violations.iter().filter(|v| matches!(v.kind, "unknown-object" | "erased-remnant" | "noncurrent-version")).cloned().collect()
}

/// Removes what [`removable`] listed (every version of each key); returns how many.
/// Only the operator's confirmed command calls this.
pub async fn remove(st: &AppState, list: &[Violation]) -> anyhow::Result<usize> {
    let mut n = 0;
    for v in list {
        if v.kind == "noncurrent-version" {
            // The current version may be a known object: only the older ones go.
            st.regions.purge_noncurrent(&v.region, &v.key).await?;
        } else {
            kinora_store::delete(st.regions.get(&v.region)?, &v.key).await?;
            st.regions.purge_versions(&v.region, &v.key).await?;
        }
        n += 1;
    }
    Ok(n)
}
