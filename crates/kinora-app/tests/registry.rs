//! Every table the migrations create is classified in the personal-data registry,
//! on both backends: a migration that adds a table the registry does not describe
//! fails here (and so cannot be forgotten by export, erasure, backup or the
//! residency check).
#![allow(clippy::unwrap_used)]

use kinora_app::registry;
use kinora_db::Db;

async fn every_table_is_classified(db: Db) {
    let tables = db.tables().await.unwrap();
    assert!(tables.iter().any(|t| t == "accounts"), "{tables:?}");
    let missing: Vec<&String> = tables.iter().filter(|t| !registry::classifies_table(t)).collect();
    assert!(missing.is_empty(), "tables the personal-data registry does not classify: {missing:?}");
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

#[tokio::test]
async fn postgres_every_table_is_classified() {
    let admin = std::env::var("KINORA_TEST_POSTGRES_URL")
        .expect("KINORA_TEST_POSTGRES_URL is not set: run the suite with scripts/test, which starts PostgreSQL");
    let admin_db = Db::connect(&admin).await.unwrap();
    let name = format!("kinora_r_{}", std::process::id());
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(admin_db.pool()).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin_db.pool()).await.unwrap();
    let (prefix, _) = admin.rsplit_once('/').unwrap();
    let db = Db::connect(&format!("{prefix}/{name}")).await.unwrap();
    db.migrate().await.unwrap();
    every_table_is_classified(db).await;
}
