//! Every table the migrations create is classified in the personal-data registry,
//! on both backends: a migration that adds a table the registry does not describe
//! fails here (and so cannot be forgotten by export, erasure, backup or the
//! residency check).
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on
#![allow(clippy::unwrap_used)]

mod support;

use kinora_app::registry;
use kinora_db::Db;

async fn every_table_is_classified(db: Db) {
    let tables = db.tables().await.unwrap();
    assert!(tables.iter().any(|t| t == "accounts"), "{tables:?}");
    let missing: Vec<&String> = tables.iter().filter(|t| !registry::classifies_table(t)).collect();
    assert!(missing.is_empty(), "tables the personal-data registry does not classify: {missing:?}");
    // Column by column: every text column is listed with what it holds, and
    // someone's words with how long they are kept; nothing listed is gone.
    let schema: std::collections::BTreeSet<(String, String)> = db.text_columns().await.unwrap().into_iter().collect();
    assert!(schema.contains(&("comments".to_owned(), "body".to_owned())), "{schema:?}");
    let listed: std::collections::BTreeSet<(String, String)> = registry::COLUMNS.iter().map(|(t, c, _)| ((*t).to_owned(), (*c).to_owned())).collect();
    assert_eq!(listed.len(), registry::COLUMNS.len(), "a column listed twice");
    let unlisted: Vec<_> = schema.difference(&listed).collect();
    assert!(unlisted.is_empty(), "text columns registry::COLUMNS does not describe: {unlisted:?}");
    let gone: Vec<_> = listed.difference(&schema).collect();
    assert!(gone.is_empty(), "registry::COLUMNS lists columns the schema does not have: {gone:?}");
    for (t, c, h) in registry::COLUMNS {
        if let registry::Holds::Words(kept) = h {
            assert!(!kept.trim().is_empty(), "{t}.{c} holds someone's words with no retention");
            assert!(registry::classifies_table(t), "{t}");
        }
    }
    // And the registry names no object kind twice.
    let mut names: Vec<&str> = registry::REGISTRY.iter().map(|k| k.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), registry::REGISTRY.len());
}

#[tokio::test]
async fn sqlite_every_table_is_classified() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&Db::sqlite_url(&dir.path().join("r.sqlite3"))).await.unwrap();
    db.migrate().await.unwrap();
    every_table_is_classified(db).await;
}

/// On PostgreSQL where `scripts/test` started one (see `support::postgres`).
#[tokio::test]
async fn postgres_every_table_is_classified() {
    if let Some(i) = support::postgres().await {
        every_table_is_classified(i.db.clone()).await;
    }
}
