//! The job queue on both backends: no job is claimed twice, a dead worker's job
//! is claimed again after its lease, and a lost lease cannot finish a job.
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on
#![allow(clippy::unwrap_used)]

use kinora_core::{Caption, Visibility};
mod common;

use common::{account, new_video, postgres, sqlite, video};
use kinora_db::{Db, JobKind, JobQueue, MediaObject, PublishOutcome, Published, VideoRepo};
use std::collections::HashSet;
use std::time::Duration;

async fn concurrent_claims_are_exclusive(db: Db) {
    for i in 0..40 {
        db.enqueue(JobKind::PurgeVideo, None, &serde_json::json!({ "n": i })).await.unwrap();
    }
    let mut set = tokio::task::JoinSet::new();
    for w in 0..6 {
        let db = db.clone();
        set.spawn(async move {
            let me = format!("w{w}");
            let mut got = Vec::new();
            while let Some(job) = db.claim(&me, 60_000).await.unwrap() {
                assert!(db.complete(&job.id, &me).await.unwrap());
                got.push(job.id);
            }
            got
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.extend(r.unwrap());
    }
    assert_eq!(all.len(), 40, "every job once");
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 40, "no job twice");
    assert_eq!(db.count_jobs("done").await.unwrap(), 40);
}

async fn dead_worker_lease_expires(db: Db) {
    let id = db.enqueue(JobKind::PurgeVideo, None, &serde_json::json!({})).await.unwrap();
    let a = db.claim("dead", 200).await.unwrap().unwrap();
    assert_eq!(a.id, id);
    assert_eq!(a.attempts, 1);
    assert!(db.claim("alive", 60_000).await.unwrap().is_none(), "leased job claimed twice");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let b = db.claim("alive", 60_000).await.unwrap().expect("expired lease is claimed again");
    assert_eq!(b.id, id);
    assert_eq!(b.attempts, 2);
    assert!(!db.complete(&id, "dead").await.unwrap(), "a worker that lost its lease cannot finish");
    assert!(!db.renew(&id, "dead", 1000).await.unwrap());
    assert!(db.renew(&id, "alive", 60_000).await.unwrap());
    assert!(db.retry_later(&id, "alive", 0, "transient").await.unwrap());
    let c = db.claim("alive", 60_000).await.unwrap().unwrap();
    assert_eq!((c.id.as_str(), c.attempts), (id.as_str(), 3));
    assert!(db.fail(&id, "alive", "gave up").await.unwrap());
    assert!(db.claim("alive", 60_000).await.unwrap().is_none());
}

async fn video_and_job_commit_together(db: Db) {
    let a = account(&db, "queue_user").await;
    let before = db.count_jobs("queued").await.unwrap();
    let id = video(&db, &a.id, "hi").await;
    assert_eq!(db.count_jobs("queued").await.unwrap(), before + 1);
    let job = db.claim("w", 60_000).await.unwrap().unwrap();
    assert_eq!(job.kind, Some(JobKind::Transcode));
    assert_eq!(job.payload["video_id"], id.as_str());
    // A duplicate id violates the primary key and leaves no job behind.
    let again = Caption::parse("again").unwrap();
    let dup = db.create_video(new_video(&id, &a.id, &again, Visibility::Public)).await;
    assert!(dup.unwrap_err().is_conflict());
    assert_eq!(db.count_jobs("queued").await.unwrap(), before);
}

/// Regression: one account's queue of uploads must not hold another's.
async fn regression_claims_are_fair_across_accounts(db: Db) {
    let busy = account(&db, "busy_uploader").await;
    let other = account(&db, "one_upload").await;
    for i in 0..5 {
        video(&db, &busy.id, &format!("busy {i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let late = video(&db, &other.id, "late but fair").await;
    let first = db.claim("w", 60_000).await.unwrap().unwrap();
    assert!(db.complete(&first.id, "w").await.unwrap());
    let second = db.claim("w", 60_000).await.unwrap().unwrap();
    assert_eq!(second.payload["video_id"], late.as_str(), "the other account's job comes second, not sixth");
    assert_eq!(db.pending_media_jobs(&busy.id).await.unwrap(), 4);
    assert_eq!(db.pending_media_jobs(&other.id).await.unwrap(), 1);
}

/// Ingest writes the video, its tags, its mention notifications and its job in
/// one transaction.
async fn ingest_is_one_transaction(db: Db) {
    let author = account(&db, "ingest_author").await;
    let mentioned = account(&db, "ingest_friend").await;
    let id = video(&db, &author.id, "dinner #Cooking with @ingest_friend").await;
    let tags = db.tag_videos("cooking", Some(&author.id), None, 10).await.unwrap();
    assert_eq!(tags.len(), 0, "not ready yet, so not listed");
    let n: i64 = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM video_tags WHERE video_id = $1 AND tag = 'cooking'")
        .bind(id.as_str())
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
    let notes = db.notifications(&mentioned.id, None, 10).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, kinora_db::NotificationKind::Mention);
    assert_eq!(db.pending_media_jobs(&author.id).await.unwrap(), 1);
}

/// Regression: a video deleted while it transcodes is never published.
async fn regression_deleted_while_transcoding_is_never_published(db: Db) {
    let a = account(&db, "deleter").await;
    let id = video(&db, &a.id, "soon gone").await;
    let job = db.claim("w", 60_000).await.unwrap().unwrap();
    db.delete_video(&id).await.unwrap();
    let objects = [MediaObject {
        name: "720p-x.mp4".into(),
        object_key: format!("media/{id}/720p-x.mp4"),
        mime: "video/mp4".into(),
        width: 720,
        height: 1280,
        bitrate: 1,
        bytes: 1,
        sha256: "00".into(),
    }];
    let out = db.publish_video(&id, &job.id, "w", Published { duration_ms: 1, width: 720, height: 1280, objects: &objects }).await.unwrap();
    assert_eq!(out, PublishOutcome::Deleted);
    let status: String = sqlx::query_scalar::<_, String>("SELECT status FROM videos WHERE id = $1").bind(id.as_str()).fetch_one(db.pool()).await.unwrap();
    assert_eq!(status, "processing", "a deleted video never becomes ready");
    assert_eq!(db.deleted_video_region(&id).await.unwrap().as_deref(), Some("local"));
    assert!(db.video_deleted(&id).await.unwrap());
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (db, _d) = super::sqlite().await;
                super::$name(db).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::postgres().await).await
            }
        }
    )*};
}

on_both!(regression_claims_are_fair_across_accounts, ingest_is_one_transaction, regression_deleted_while_transcoding_is_never_published);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_claims_are_exclusive() {
    let (db, _d) = sqlite().await;
    concurrent_claims_are_exclusive(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_claims_are_exclusive() {
    concurrent_claims_are_exclusive(postgres().await).await;
}

#[tokio::test]
async fn sqlite_dead_worker_lease_expires() {
    let (db, _d) = sqlite().await;
    dead_worker_lease_expires(db).await;
}

#[tokio::test]
async fn postgres_dead_worker_lease_expires() {
    dead_worker_lease_expires(postgres().await).await;
}

#[tokio::test]
async fn sqlite_video_and_job_commit_together() {
    let (db, _d) = sqlite().await;
    video_and_job_commit_together(db).await;
}

#[tokio::test]
async fn postgres_video_and_job_commit_together() {
    video_and_job_commit_together(postgres().await).await;
}
