//! Backups miss no table: every table of the schema, on both backends, is
//! backed up (`backup::TABLES`) or deliberately left out (`backup::NOT_BACKED_UP`),
//! like the personal-data registry test. A new table in a migration fails here
//! until someone decides.
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on
#![allow(clippy::unwrap_used)]

mod common;

use kinora_db::backup::{NOT_BACKED_UP, TABLES};
use kinora_db::Db;
use std::collections::BTreeSet;

async fn every_table_is_backed_up_or_listed_as_not(db: Db) {
    let schema: BTreeSet<String> = db.tables().await.unwrap().into_iter().collect();
    assert!(schema.len() > 20 && schema.contains("accounts") && schema.contains("log_entries"), "{schema:?}");
    let backed: BTreeSet<&str> = TABLES.iter().map(|t| t.table).collect();
    assert_eq!(backed.len(), TABLES.len(), "a table listed twice");
    for t in &schema {
        let (b, n) = (backed.contains(t.as_str()), NOT_BACKED_UP.contains(&t.as_str()));
        assert!(b || n, "table {t} is neither backed up (backup::TABLES) nor listed in backup::NOT_BACKED_UP");
        assert!(!(b && n), "table {t} is both backed up and listed as not");
    }
    for t in &backed {
        assert!(schema.contains(*t), "{t} is backed up but not in the schema");
    }
    // The tables the review found missing are in.
    for t in ["moderation_actions", "log_redactions", "log_cosignatures", "log_witnesses", "not_interested", "feed_impressions", "video_shares"] {
        assert!(backed.contains(t), "{t}");
    }
}

#[tokio::test]
async fn sqlite_tables() {
    let (db, _dir) = common::sqlite().await;
    every_table_is_backed_up_or_listed_as_not(db).await;
}

#[tokio::test]
async fn postgres_tables() {
    every_table_is_backed_up_or_listed_as_not(common::postgres().await).await;
}

/// A backup made before a migration dropped a column (videos.feed_score, 0019)
/// restores into the current schema: the column is left out, the row comes back.
async fn a_backup_from_before_a_dropped_column_restores(db: Db) {
    let a = common::account(&db, "olda").await;
    let v = common::video(&db, &a.id, "old video").await;
    let rows = db.dump(&|_, _| {}).await.unwrap();
    let mut rows: Vec<(String, serde_json::Map<String, serde_json::Value>)> = rows.into_iter().map(|r| (r.table.to_owned(), r.row)).collect();
    for (t, row) in &mut rows {
        if t == "videos" {
            row.insert("feed_score".into(), serde_json::json!(1234));
        }
    }
    let fresh = common::fresh_like(&db).await;
    let (loaded, _) = fresh.load(&rows).await.unwrap();
    assert!(loaded >= 2, "{loaded}");
    assert!(kinora_db::VideoRepo::video_exists(&fresh, &v).await.unwrap());
}

#[tokio::test]
async fn sqlite_old_backup() {
    let (db, _dir) = common::sqlite().await;
    a_backup_from_before_a_dropped_column_restores(db).await;
}

#[tokio::test]
async fn postgres_old_backup() {
    a_backup_from_before_a_dropped_column_restores(common::postgres().await).await;
}
