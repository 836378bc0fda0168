//! End-to-end tests: a real `kinora` process per test, real ffmpeg, real SQLite and
//! PostgreSQL, real HTTP. Every scenario runs on both backends via [`both!`].
//! Set `TEST_LOG=1` to see the server's logs.
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on

mod support;

mod crash;
mod erasure;
mod exports;

mod accounts;
mod backups;
mod bombs;
mod browser;
mod feed;
mod hostile;
mod inputs;
mod matrix;
mod media;
mod moderation;
mod openapi;
mod promises;
mod recommend;
mod reprocess;
mod residency;
mod review;
mod social;
mod transparency;
mod uploads;
mod web;
