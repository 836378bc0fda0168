//! Objects of an account: written durably to its home region, replicated to that
//! region's backup by a durable job (copied, then checked by size and SHA-256,
//! retried until it holds), deleted from both. Nothing else writes account objects.

use crate::state::AppState;
use kinora_db::{JobKind, JobQueue};
use std::path::Path;

/// Stores `file` under `key` in `home` and queues its replica.
pub async fn put(st: &AppState, home: &str, key: &str, file: &Path) -> anyhow::Result<u64> {
    let n = st.regions.put_durable(home, key, file).await?;
    replicate_later(st, home, key).await?;
    Ok(n)
}

/// Queues the copy of `key` from `home` to its backup region, if it has one.
pub async fn replicate_later(st: &AppState, home: &str, key: &str) -> anyhow::Result<()> {
    if let Some(backup) = st.regions.backup_of(home) {
        st.db.enqueue(JobKind::Replicate, None, &serde_json::json!({"from": home, "to": backup, "key": key})).await?;
        st.wake.notify_one();
    }
    Ok(())
}

/// Deletes `key` from `home` and from its backup region, older versions included
/// where a bucket keeps them.
pub async fn delete(st: &AppState, home: &str, key: &str) -> anyhow::Result<()> {
    for region in std::iter::once(home).chain(st.regions.backup_of(home)) {
        kinora_store::delete(st.regions.get(region)?, key).await?;
        st.regions.purge_versions(region, key).await?;
    }
    Ok(())
}

/// Deletes every object under `prefix` (a directory-like prefix) in `home` and its
/// backup region; returns how many.
pub async fn delete_prefix(st: &AppState, home: &str, prefix: &str) -> anyhow::Result<usize> {
    let mut n = 0;
    for region in std::iter::once(home).chain(st.regions.backup_of(home)) {
        let store = st.regions.get(region)?;
        for (k, _) in kinora_store::list(store, prefix).await? {
            kinora_store::delete(store, &k).await?;
            n += 1;
        }
        st.regions.purge_versions(region, prefix).await?;
    }
    Ok(n)
}

/// The replicate job: copies and verifies; an object deleted meanwhile needs no copy.
pub async fn replicate(st: &AppState, from: &str, to: &str, key: &str) -> anyhow::Result<()> {
    let src = st.regions.get(from)?;
    match src.head(&kinora_store::key(key)).await {
        Err(object_store::Error::NotFound { .. }) => return Ok(()),
        Err(e) => st.regions.watch::<()>(from, Err(e.into()))?,
        Ok(_) => {}
    }
    let dst = st.regions.get(to)?;
    let r = kinora_store::copy_verified(src, dst, key).await;
    Ok(st.regions.watch(to, r).map(|_| ())?)
}
