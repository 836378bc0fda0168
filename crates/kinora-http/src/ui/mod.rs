//! Server-rendered pages (askama) with small vanilla JS; no build step. Pages
//! call the same services as the API and render their answers: `pages` (feeds,
//! video, profile, search, settings, transparency), `cards` (what a feed and a grid
//! show of a video), `auth` (sign-in, sign-up, sign-out), `admin` (moderation).

use crate::error::ApiError;
use crate::extract::Viewer;
use askama::Template;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use kinora_app::AppError;
use kinora_core::ErrorCode;

pub mod admin;
mod auth;
mod cards;
mod pages;

pub use auth::*;
use cards::{cards, tiles, Card, Tile};
pub(crate) use pages::not_found_page;
pub use pages::*;

/// What every page's layout needs.
pub struct Layout {
    pub csrf: Option<String>,
    pub username: Option<String>,
    pub tab: &'static str,
}

impl Layout {
    fn new(v: &Viewer, tab: &'static str) -> Layout {
        Layout { csrf: v.csrf().map(str::to_owned), username: v.account().map(|a| a.username.to_string()), tab }
    }
}

fn human_bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    match n {
        n if n >= 1e9 => format!("{:.1} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.0} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.0} kB", n / 1e3),
        n => format!("{n:.0} bytes"),
    }
}

/// Pages differ per viewer and carry CSRF tokens: no cache may keep them.
fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// A service error on a page: the not-found page for `not-found`, the JSON
/// error otherwise.
fn page_error(viewer: &Viewer, e: AppError) -> Response {
    if e.code == ErrorCode::NotFound {
        not_found_page(viewer)
    } else {
        ApiError(e).into_response()
    }
}

/// The embedded CSS and JS.
pub async fn static_file(Path(file): Path<String>) -> Response {
    let (body, mime) = match file.as_str() {
        "app.css" => (include_str!("../../static/app.css"), "text/css; charset=utf-8"),
        "app.js" => (include_str!("../../static/app.js"), "text/javascript; charset=utf-8"),
        // tus-js-client 4.3.1, MIT licence: static/vendor/tus-js-client.LICENSE.
        "tus.min.js" => (include_str!("../../static/vendor/tus.min.js"), "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}
