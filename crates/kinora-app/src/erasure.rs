//! Delete your account (GDPR Art. 17). Asking deactivates the account at once (it
//! and its content answer like missing ones, its sessions end) and schedules its
//! erasure after `[accounts] erasure_grace_hours`; signing in before then can cancel.
//! The erasure removes every object of the account in every region and every row,
//! corrects others' counts, strips reports about it, scrubs the database storage,
//! and records only a keyed hash of the account id in the erasure journal.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::{AppState, Limiters};
use hmac::{Hmac, Mac};
use kinora_core::{ErrorCode, Id};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Scheduled {
    pub erase_at: String,
}

/// The keyed hash that stands for an erased account in the journal: it lets a
/// restore recognise the account without the journal saying who it was.
pub fn subject(st: &AppState, account: &Id) -> String {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&st.journal_key[..]).expect("HMAC takes keys of any length");
    mac.update(account.as_str().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `DELETE /api/v1/me`: checks the password, deactivates, schedules the erasure.
pub async fn request(st: &AppState, caller: &Caller, client: &str, password: &str) -> AppResult<Scheduled> {
    let me = caller.require()?;
    Limiters::limit(&st.limiters.signin, format!("{client}|{}", me.username))?;
    let pw = if password.len() <= 1024 { password.to_owned() } else { String::new() };
    let stored = st.db.password_hash(&me.id).await?.ok_or_else(AppError::unauthorized)?;
    if !st.passwords.verify(stored.expose().to_owned(), pw).await? {
        return Err(AppError::new(ErrorCode::InvalidField, "password: that is not your password"));
    }
    let erase_at = kinora_db::now_ms() + st.config.accounts.erasure_grace_hours.max(0) * 3_600_000;
    st.db.schedule_erasure(&me.id, erase_at).await?;
    st.recommender.account_changed(&me.id);
    st.wake.notify_one();
    tracing::info!(account = %me.id, erase_at, "account scheduled for erasure");
    Ok(Scheduled { erase_at: crate::views::rfc3339(erase_at) })
}

/// The refusal a scheduled account gets when it signs in without cancelling.
pub fn scheduled_error(erase_at: i64) -> AppError {
    AppError::new(
        ErrorCode::AccountScheduledForDeletion,
        format!("This account is scheduled for deletion on {}. Sign in with \"cancel_deletion\" to keep it.", crate::views::rfc3339(erase_at)),
    )
}

/// The erase job: objects in every region first (so a crash leaves rows that point
/// at what is left, and the job runs again), then the rows, then the storage scrub.
#[tracing::instrument(name = "erasure", skip_all, fields(account = %account))]
pub async fn erase(st: &AppState, account: &Id) -> anyhow::Result<()> {
    if st.db.account_region_any(account).await?.is_none() {
        return Ok(());
    }
    let mut removed = 0usize;
    let objects = st.db.account_objects(account).await?;
    removed += remove_objects(st, &objects).await?;
    // Resumable uploads in progress live on this node's disk.
    let uploads = st.data_dir().join("uploads");
    for row in st.db.account_upload_ids(account).await? {
        let _ = tokio::fs::remove_file(uploads.join(row.as_str())).await;
    }
    let subject = subject(st, account);
    st.db.erase_account(account, &subject).await?;
    // A transcode that was running wrote its files after the first pass: once the
    // rows are gone it can no longer publish (and removes what it writes), and this
    // second pass removes what it wrote before.
    removed += remove_objects(st, &objects).await?;
    // Crypto-shredding: its rows in every backup become unreadable; the journal
    // outside the database makes any restore erase it again.
    st.keys.destroy(account)?;
    st.keys.append_journal(&subject)?;
    st.db.scrub().await?;
    tracing::info!(objects = removed, "account erased");
    Ok(())
}

/// Removes the objects (keys or prefixes) in every region, every version.
async fn remove_objects(st: &AppState, objects: &[(String, String, bool)]) -> anyhow::Result<usize> {
    let mut removed = 0usize;
    for (_, key, prefix) in objects {
        let (key, prefix) = (key.as_str(), *prefix);
        // Every region, not only home and backup: nothing of it may stay anywhere.
        for region in st.regions.all() {
            if prefix {
                for (k, _) in kinora_store::list(&region.store, key).await? {
                    kinora_store::delete(&region.store, &k).await?;
                    removed += 1;
                }
            } else {
                kinora_store::delete(&region.store, key).await?;
                removed += 1;
            }
            // Buckets that keep versions keep the older ones, and a delete marker.
            removed += st.regions.purge_versions(&region.name, key).await?;
        }
    }
    Ok(removed)
}
