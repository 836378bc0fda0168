//! Kinora as a library: the application without HTTP.
//!
//! * [`AppState`] holds what every service needs: the database, the region stores,
//!   the configuration, the media tools, rate limiters. It knows nothing of axum.
//! * Services are functions over `&AppState` and a [`auth::Caller`] that return
//!   [`AppResult`]: errors carry a stable [`kinora_core::ErrorCode`].
//! * [`access`] is the one door to data the access policy governs: every read of a
//!   video, an account or a comment on behalf of someone goes through it.
//! * [`ingest`] is the one way a video comes in; [`uploads`] the resumable part;
//!   [`worker`] runs the jobs; [`housekeeping`] cleans and forgets.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod archive;
pub mod auth;
pub mod backup;
pub mod bench;
pub mod comments;
pub mod config;
pub mod demo;
pub mod erasure;
pub mod error;
pub mod exports;
pub mod feeds;
pub mod follows;
pub mod housekeeping;
pub mod imports;
pub mod ingest;
pub mod keys;
pub mod keystore;
pub mod limits;
pub mod moderation;
pub mod moves;
pub mod notifications;
pub mod objects;
pub mod passwords;
pub mod recommend;
pub mod registry;
pub mod reports;
pub mod residency;
pub mod search;
pub mod staff;
pub mod state;
pub mod tags;
pub mod transparency;
pub mod uploads;
pub mod videos;
pub mod views;
pub mod worker;

pub use auth::Caller;
pub use config::Config;
pub use error::{AppError, AppResult};
pub use state::{AppState, Limiters};

/// The stored shapes the HTTP layer names (it depends on kinora-app and
/// kinora-core only; the layering test checks that on the dependency graph).
pub mod data {
    pub use kinora_db::{AccountRow, DbError, ExportStatus, NotificationKind, TokenKind, UploadRow, UploadState};
}
