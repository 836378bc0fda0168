//! Staff: roles granted and revoked only from the command line, and the one door
//! through which staff read data a person could not see as an ordinary user. Every
//! grant, revoke and access is appended to the transparency log first; only when
//! the entry is durably sequenced does any data leave the server.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use kinora_core::moderation::{AccessReason, AccessScope, StaffRole};
use kinora_core::{ErrorCode, Id, Username};
use kinora_db::{AccountRepo, AccountRow, VideoRepo};
use kinora_translog::Entry;
use serde::Serialize;

/// A transparency log entry of an access (or a role change) made now.
pub(crate) fn entry(actor: &str, role: StaffRole, subject: String, scopes: &[AccessScope], reason: AccessReason, reference: &str) -> Entry {
    Entry {
        v: 1,
        time: crate::views::rfc3339(kinora_db::now_ms()),
        actor: actor.to_owned(),
        role: role.as_str().to_owned(),
        subject,
        scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        reason: reason.as_str().to_owned(),
        reference: reference.to_owned(),
    }
}

async fn account(st: &AppState, username: &str) -> anyhow::Result<AccountRow> {
    let name = Username::parse(username).map_err(|e| anyhow::anyhow!("{e}"))?;
    st.db.account_by_username(&name).await?.ok_or_else(|| anyhow::anyhow!("no account @{username}"))
}

/// `kinora staff grant`: validated, logged (reason `staff-grant`), then granted.
/// Granting a role someone already has changes nothing and appends nothing
/// (`Ok(None)`): a command that appends to the public log is idempotent.
pub async fn grant(st: &AppState, username: &str, role: StaffRole) -> anyhow::Result<Option<u64>> {
    let a = account(st, username).await?;
    if st.db.staff_role(&a.id).await? == Some(role) {
        return Ok(None);
    }
    let e = entry(
        "operator",
        StaffRole::Admin,
        crate::transparency::commit(st, &a.id),
        &[AccessScope::Staff],
        AccessReason::StaffGrant,
        &format!("{username}:{role}"),
    );
    let idx = st.log.append(&st.db, &e, Some(&a.id)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    st.db.set_staff(&a.id, Some(role)).await?;
    Ok(Some(idx))
}

/// Everyone with a staff role, by username (`kinora staff list`).
pub async fn list(st: &AppState) -> AppResult<Vec<kinora_db::StaffRow>> {
    Ok(st.db.staff_list().await?)
}

/// `kinora staff revoke`: validated, logged (reason `staff-revoke`), then revoked.
/// Someone who is not staff is refused before anything is appended.
pub async fn revoke(st: &AppState, username: &str) -> anyhow::Result<u64> {
    let a = account(st, username).await?;
    if st.db.staff_role(&a.id).await?.is_none() {
        anyhow::bail!("@{username} is not staff; nothing to revoke (the log is unchanged)");
    }
    let e = entry("operator", StaffRole::Admin, crate::transparency::commit(st, &a.id), &[AccessScope::Staff], AccessReason::StaffRevoke, username);
    let idx = st.log.append(&st.db, &e, Some(&a.id)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    st.db.set_staff(&a.id, None).await?;
    Ok(idx)
}

/// `kinora access export`: the legal-request path. Logged first (actor `operator`,
/// role `admin`, every scope, reason `legal-request`), then the account's export
/// archive is written to `out`. The archive's own access-log.json holds this entry.
#[tracing::instrument(name = "staff.legal_export", skip_all, fields(reason = %reason))]
pub async fn legal_export(st: &AppState, username: &str, reason: AccessReason, reference: &str, out: &std::path::Path, redact: bool) -> anyhow::Result<u64> {
    if !AccessReason::for_access().any(|r| r == reason) {
        anyhow::bail!("reason must be one of {}", AccessReason::for_access().map(AccessReason::as_str).collect::<Vec<_>>().join(", "));
    }
    if reference.trim().is_empty() {
        anyhow::bail!("--reference: say which case or order this export answers");
    }
    if out.exists() {
        anyhow::bail!("{} exists already; not overwriting it", out.display());
    }
    let a = account(st, username).await?;
    let scopes: Vec<AccessScope> = AccessScope::for_access().collect();
    let redact = reason == AccessReason::LegalRequest && (redact || st.config.transparency.redact_legal_references);
    let (public_ref, redaction) = crate::transparency::reference_for_log(reference.trim(), redact);
    let e = entry("operator", StaffRole::Admin, crate::transparency::commit(st, &a.id), &scopes, reason, &public_ref);
    let redaction = redaction.as_ref().map(|(n, r)| (n.as_str(), r.as_str()));
    let idx = st.log.append_redacted(&st.db, &e, Some(&a.id), redaction).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = st.scratch_dir(&format!("legal-export-{}", a.id)).await?;
    let result = async {
        let zip = crate::exports::archive(st, &a.id, &dir).await?;
        tokio::fs::copy(&zip, out).await.map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    result.map(|()| idx)
}

/// What a staff member asks to read.
#[derive(Debug)]
pub struct AccessRequest {
    pub subject: String,
    pub scopes: Vec<String>,
    pub reason: String,
    pub reference: String,
}

#[derive(Debug, Serialize)]
pub struct Access {
    pub log_index: u64,
    pub data: serde_json::Value,
}

/// The caller's staff role; everyone else gets the same 404 as for a missing route.
/// A staff member whose standing no longer allows staff actions
/// ([`kinora_core::policy::standing_may`]: suspended) has no role until reinstated.
pub async fn role(st: &AppState, caller: &Caller) -> AppResult<StaffRole> {
    let me = caller.require().map_err(|_| AppError::not_found())?;
    if !kinora_core::policy::standing_may(me.standing, kinora_core::policy::Action::Staff) {
        return Err(AppError::not_found());
    }
    st.db.staff_role(&me.id).await?.ok_or_else(AppError::not_found)
}

/// The staff access door. Non-staff get the same 404 as for a missing route.
#[tracing::instrument(name = "staff.access", skip_all, fields(reason = %r.reason))]
pub async fn access(st: &AppState, caller: &Caller, r: AccessRequest) -> AppResult<Access> {
    let me = caller.require().map_err(|_| AppError::not_found())?;
    let role = role(st, caller).await?;
    let reasons = || AccessReason::for_access().map(AccessReason::as_str).collect::<Vec<_>>().join(", ");
    let reason = AccessReason::parse(&r.reason)
        .filter(|x| AccessReason::for_access().any(|y| y == *x))
        .ok_or_else(|| AppError::bad_request(format!("reason: one of {}", reasons())))?;
    if r.reference.trim().is_empty() {
        return Err(AppError::bad_request("reference: say which report, case or ticket this access is for"));
    }
    let allowed = || AccessScope::for_access().map(AccessScope::as_str).collect::<Vec<_>>().join(", ");
    let mut scopes = r
        .scopes
        .iter()
        .map(|s| AccessScope::parse(s).filter(|s| *s != AccessScope::Staff))
        .collect::<Option<Vec<AccessScope>>>()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppError::bad_request(format!("scopes: one or more of {}", allowed())))?;
    let name = Username::parse(&r.subject).map_err(|_| AppError::not_found())?;
    let subject = st.db.account_by_username(&name).await?.ok_or_else(AppError::not_found)?;
    scopes.sort_by_key(|s| s.as_str());
    scopes.dedup();
    let redact = reason == AccessReason::LegalRequest && st.config.transparency.redact_legal_references;
    let (public_ref, redaction) = crate::transparency::reference_for_log(r.reference.trim(), redact);
    let e = entry(me.username.as_str(), role, crate::transparency::commit(st, &subject.id), &scopes, reason, &public_ref);
    // Write-ahead: sequenced and committed before anything is read for release.
    let log_index = st.log.append_redacted(&st.db, &e, Some(&subject.id), redaction.as_ref().map(|(n, r)| (n.as_str(), r.as_str()))).await?;
    let p = st.db.personal_data(&subject.id).await?;
    let mut data = serde_json::Map::new();
    for s in &scopes {
        let v = match s {
            AccessScope::Profile => p.account.clone(),
            AccessScope::Videos => {
                // Each video with media links that work for this staff member only,
                // for MEDIA_GRANT_SECS.
                let ids: Vec<Id> = p.videos.iter().filter_map(|v| v.get("id").and_then(|i| i.as_str()).map(|i| Id::from_trusted(i.to_owned()))).collect();
                let mut links = media_links(st, &me.id, &ids).await?;
                let videos: Vec<serde_json::Value> = p
                    .videos
                    .iter()
                    .map(|v| {
                        let mut v = v.clone();
                        let id = v.get("id").and_then(|i| i.as_str()).map(|i| Id::from_trusted(i.to_owned()));
                        if let (Some(obj), Some(id)) = (v.as_object_mut(), id) {
                            obj.insert("media".into(), serde_json::json!(links.remove(&id).unwrap_or_default()));
                            obj.insert("media_expires_in_s".into(), serde_json::json!(MEDIA_GRANT_SECS));
                        }
                        v
                    })
                    .collect();
                serde_json::json!(videos)
            }
            AccessScope::Comments => serde_json::json!(p.comments),
            AccessScope::WatchHistory => serde_json::json!(p.watch_history),
            AccessScope::Reports => serde_json::json!(p.reports),
            AccessScope::Sessions => serde_json::json!(st.db.sessions_of(&subject.id).await?),
            AccessScope::Staff => continue,
        };
        data.insert(s.as_str().to_owned(), v);
    }
    Ok(Access { log_index, data: serde_json::Value::Object(data) })
}

/// One entry of a person's access history, with its proof.
#[derive(Debug, Serialize)]
pub struct AccessRecord {
    pub log_index: u64,
    pub time: String,
    pub actor: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub reason: String,
    pub reference: String,
    /// RFC 9162 leaf hash of the entry, hex.
    pub leaf_hash: String,
    /// Inclusion proof against the tree of `tree_size` entries, hex hashes.
    pub proof: Vec<String>,
    pub tree_size: u64,
}

#[derive(Debug, Serialize)]
pub struct AccessHistory {
    pub items: Vec<AccessRecord>,
    pub next_cursor: Option<String>,
    /// The signed checkpoint the proofs are against.
    pub checkpoint: String,
}

/// `GET /api/v1/me/access-log`: every logged access to the caller's data.
pub async fn history(st: &AppState, caller: &Caller) -> AppResult<AccessHistory> {
    let me = caller.require()?;
    history_of(st, &me.id).await
}

pub async fn history_of(st: &AppState, account: &Id) -> AppResult<AccessHistory> {
    let checkpoint = String::from_utf8_lossy(&st.log.checkpoint(&st.db).await?).into_owned();
    let mut items = Vec::new();
    for (idx, text) in st.db.log_entries_about(account).await? {
        let e = Entry::parse(text.as_bytes()).map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
        let index = u64::try_from(idx).unwrap_or(0);
        let (tree_size, proof) = st.log.prove(&st.db, index).await?;
        items.push(AccessRecord {
            log_index: index,
            time: e.time,
            actor: e.actor,
            role: e.role,
            scopes: e.scopes,
            reason: e.reason,
            reference: e.reference,
            leaf_hash: hex::encode(kinora_translog::record_hash(text.as_bytes()).0),
            proof,
            tree_size,
        });
    }
    Ok(AccessHistory { items, next_cursor: None, checkpoint })
}

// ---------- media links for staff ----------

/// How long the media links a staff access returns keep working.
pub const MEDIA_GRANT_SECS: i64 = 15 * 60;

fn grant_mac(st: &AppState, staff: &Id, video: &Id, exp: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&st.journal_key[..]).expect("HMAC takes keys of any length");
    for part in [b"kinora staff media grant".as_slice(), staff.as_str().as_bytes(), video.as_str().as_bytes(), exp.to_string().as_bytes()] {
        m.update(part);
        m.update(b"\0");
    }
    hex::encode(m.finalize().into_bytes())
}

/// A grant that lets `staff` (and no one else) fetch `video`'s media for
/// [`MEDIA_GRANT_SECS`]: `<expiry>.<mac>`, appended as `?grant=`.
pub fn media_grant(st: &AppState, staff: &Id, video: &Id) -> String {
    let exp = kinora_db::now_ms() / 1000 + MEDIA_GRANT_SECS;
    format!("{exp}.{}", grant_mac(st, staff, video, exp))
}

/// Whether `grant` lets the caller fetch `video`'s media now: issued to this
/// caller, unexpired, and the caller is still staff.
pub async fn media_grant_valid(st: &AppState, caller: &Caller, video: &Id, grant: &str) -> AppResult<bool> {
    let Some(me) = caller.id() else { return Ok(false) };
    let Some((exp, mac)) = grant.split_once('.') else { return Ok(false) };
    let Ok(exp) = exp.parse::<i64>() else { return Ok(false) };
    if exp < kinora_db::now_ms() / 1000 || !crate::auth::secret_eq(mac, &grant_mac(st, me, video, exp)) {
        return Ok(false);
    }
    Ok(st.db.staff_role(me).await?.is_some())
}

/// Every media object of `videos` (whatever their state) as links that work for
/// `staff` for a limited time: video id -> urls.
pub async fn media_links(st: &AppState, staff: &Id, videos: &[Id]) -> AppResult<std::collections::HashMap<Id, Vec<String>>> {
    let objects = st.db.media_objects_for(videos).await?;
    Ok(objects
        .into_iter()
        .map(|(vid, objs)| {
            let g = media_grant(st, staff, &vid);
            let urls = objs.iter().map(|o| format!("/media/{}/{}?grant={g}", vid, o.name)).collect();
            (vid, urls)
        })
        .collect())
}

/// `kinora access reveal INDEX`: the reference behind a redacted entry, with what
/// anyone needs to check it: (public reference, nonce, reference).
pub async fn reveal(st: &AppState, index: u64) -> anyhow::Result<(String, String, String)> {
    let idx = i64::try_from(index)?;
    let text = st.db.log_entries(idx, idx + 1).await?.pop().ok_or_else(|| anyhow::anyhow!("no log entry {index}"))?;
    let e = Entry::parse(text.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (nonce, reference) = st.db.log_redaction(idx).await?.ok_or_else(|| anyhow::anyhow!("entry {index}'s reference is not redacted: {}", e.reference))?;
    Ok((e.reference, nonce, reference))
}
