//! tokens expire, and what is kept only for a while is forgotten
//! (sessions, view events, notifications, finished jobs), on both backends.
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on
#![allow(clippy::unwrap_used)]

mod common;

use common::{account, postgres, sqlite, video};
use kinora_db::{now_ms, Db, JobQueue, NotificationKind, TokenKind, TokenRepo};

async fn regression_12_tokens_expire_and_old_activity_is_forgotten(db: Db) {
    let a = account(&db, "keeper").await;
    let b = account(&db, "other").await;
    let now = now_ms();
    db.create_token("live", &a.id, TokenKind::Api, None, Some(now + 60_000)).await.unwrap();
    db.create_token("dead", &a.id, TokenKind::Api, None, Some(now - 1)).await.unwrap();
    assert!(db.find_token("live", TokenKind::Api).await.unwrap().is_some());
    assert!(db.find_token("dead", TokenKind::Api).await.unwrap().is_none(), "an expired token is refused");
    assert_eq!(db.delete_expired_tokens().await.unwrap(), 1);

    let v = video(&db, &a.id, "watched").await;
    db.record_view(&v, Some(&b.id), 1000, true).await.unwrap();
    db.notify(&a.id, NotificationKind::Like, &b.id, Some(&v), None).await.unwrap();
    let job = db.claim("w", 60_000).await.unwrap().unwrap();
    assert!(db.complete(&job.id, "w").await.unwrap());
    // Nothing is old yet.
    assert_eq!(db.forget_old_activity(now - 86_400_000, now - 86_400_000).await.unwrap(), (0, 0));
    assert_eq!(db.forget_finished_jobs(now - 86_400_000).await.unwrap(), 0);
    // Everything before "later" is.
    let later = now_ms() + 1000;
    assert_eq!(db.forget_old_activity(later, later).await.unwrap(), (1, 1));
    assert_eq!(db.forget_finished_jobs(later).await.unwrap(), 1);
    assert!(db.notifications(&a.id, None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_regression_12_tokens_expire_and_old_activity_is_forgotten() {
    let (db, _d) = sqlite().await;
    regression_12_tokens_expire_and_old_activity_is_forgotten(db).await;
}

#[tokio::test]
async fn postgres_regression_12_tokens_expire_and_old_activity_is_forgotten() {
    regression_12_tokens_expire_and_old_activity_is_forgotten(postgres().await).await;
}
