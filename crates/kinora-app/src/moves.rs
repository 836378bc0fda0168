//! Moving an account's home region (an operator's decision, e.g. a person moved
//! country): every object is copied to the new home region and its backup and
//! verified, the database points there, then the old copies are removed. Safe to
//! run again if interrupted.

use crate::state::AppState;
use kinora_db::AccountRepo;

/// Moves `username` to `region`; `progress(done, total)` per object.
#[tracing::instrument(name = "account.move", skip_all, fields(to = region))]
pub async fn move_account(st: &AppState, username: &str, region: &str, progress: &(dyn Fn(u64, u64) + Sync)) -> anyhow::Result<usize> {
    let name = kinora_core::Username::parse(username).map_err(|e| anyhow::anyhow!("{e}"))?;
    let account = st.db.account_by_username(&name).await?.ok_or_else(|| anyhow::anyhow!("no account @{username}"))?;
    st.regions.region(region)?;
    if account.region == region {
        return Ok(0);
    }
    let old = account.region.clone();
    // Every object key of the account, as stored in its old home.
    let mut keys = Vec::new();
    for (_, key, prefix) in st.db.account_objects(&account.id).await? {
        if prefix {
            for (k, _) in kinora_store::list(st.regions.get(&old)?, &key).await? {
                keys.push(k);
            }
        } else {
            keys.push(key);
        }
    }
    let targets: Vec<&str> = std::iter::once(region).chain(st.regions.backup_of(region)).collect();
    let total = keys.len() as u64;
    for (i, k) in keys.iter().enumerate() {
        for t in &targets {
            // A region that holds the object already (the shared backup region) is
            // not written again: an overwrite would leave a version behind.
            if *t != old && !same_object(st, &old, t, k).await? {
                kinora_store::copy_verified(st.regions.get(&old)?, st.regions.get(t)?, k).await?;
            }
        }
        progress(i as u64 + 1, total);
    }
    st.db.set_account_region(&account.id, region).await?;
    // The old copies, where they no longer belong.
    for r in std::iter::once(old.as_str()).chain(st.regions.backup_of(&old)) {
        if targets.contains(&r) {
            continue;
        }
        for k in &keys {
            kinora_store::delete(st.regions.get(r)?, k).await?;
            // Every version: a bucket that keeps versions must not keep hers.
            st.regions.purge_versions(r, k).await?;
        }
    }
    tracing::info!(account = %account.id, from = %old, to = region, objects = keys.len(), "account moved");
    Ok(keys.len())
}

/// Whether `to` holds `key` with the same size and SHA-256 as `from`.
async fn same_object(st: &AppState, from: &str, to: &str, key: &str) -> anyhow::Result<bool> {
    let (a, b) = (st.regions.get(from)?, st.regions.get(to)?);
    if b.head(&kinora_store::key(key)).await.is_err() {
        return Ok(false);
    }
    Ok(kinora_store::size_and_hash(a, key).await? == kinora_store::size_and_hash(b, key).await?)
}
