//! Sign-in, sign-up and sign-out pages, with the form's CSRF token and the
//! session cookie.

use super::*;
use crate::error::ApiError;
use crate::extract::{ClientAddr, Viewer, CSRF_COOKIE, SESSION_COOKIE};
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use kinora_app::auth::{hash_secret, new_secret, secret_eq};
use kinora_app::data::TokenKind;
use kinora_app::{accounts, AppError, AppState};
use kinora_core::{ErrorCode, Id};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "auth.html")]
struct AuthPage {
    layout: Layout,
    /// The account is scheduled for deletion: offer to keep it.
    offer_cancel: bool,
    heading: &'static str,
    action: &'static str,
    signup: bool,
    csrf: String,
    username: String,
    error: Option<String>,
    /// Sign-in: a local path to go to after (`?next=`).
    next: String,
}

/// The pre-session CSRF token (double-submit cookie) for the sign-in and sign-up forms.
fn form_csrf(st: &AppState, jar: CookieJar) -> (CookieJar, String) {
    if let Some(c) = jar.get(CSRF_COOKIE) {
        let v = c.value().to_owned();
        if v.len() >= 32 {
            return (jar, v);
        }
    }
    let (secret, _) = new_secret();
    let cookie = Cookie::build((CSRF_COOKIE, secret.clone())).path("/").http_only(true).same_site(SameSite::Strict).secure(st.https()).build();
    (jar.add(cookie), secret)
}

fn auth_page(signup: bool, csrf: String, username: String, error: Option<String>) -> AuthPage {
    auth_page_offering(signup, csrf, username, error, false)
}

/// Where to go after signing in: a path on this site, as a browser reads it
/// ([`kinora_core::redirect::LocalRedirect`]), else home.
fn local_next(next: Option<&str>) -> String {
    kinora_core::redirect::LocalRedirect::or_home(next).as_str().to_owned()
}

fn auth_page_offering(signup: bool, csrf: String, username: String, error: Option<String>, offer_cancel: bool) -> AuthPage {
    AuthPage {
        next: String::new(),
        offer_cancel,
        // The forms render as for a signed-out visitor: they are protected by their
        // own double-submit token, not the session (a signed-in person may submit a
        // sign-in form opened in another tab).
        layout: Layout::new(&Viewer::anonymous(), "login"),
        heading: if signup { "Create your account" } else { "Sign in" },
        action: if signup { "/signup" } else { "/login" },
        signup,
        csrf,
        username,
        error,
    }
}

/// Signed in already: the sign-in and sign-up pages send you home.
pub async fn login_page(State(st): State<AppState>, viewer: Viewer, jar: CookieJar, Query(q): Query<NextParam>) -> Response {
    let next = local_next(q.next.as_deref());
    if viewer.account().is_some() {
        return Redirect::to(&next).into_response();
    }
    let (jar, csrf) = form_csrf(&st, jar);
    let mut page = auth_page(false, csrf, String::new(), None);
    page.next = next;
    (jar, render(page)).into_response()
}

#[derive(Deserialize, Default)]
pub struct NextParam {
    next: Option<String>,
}

pub async fn signup_page(State(st): State<AppState>, viewer: Viewer, jar: CookieJar) -> Response {
    if viewer.account().is_some() {
        return Redirect::to("/").into_response();
    }
    let (jar, csrf) = form_csrf(&st, jar);
    (jar, render(auth_page(true, csrf, String::new(), None))).into_response()
}

#[derive(Deserialize)]
pub struct AuthForm {
    csrf: Option<String>,
    /// "1": keep an account that is scheduled for deletion.
    cancel_deletion: Option<String>,
    username: Option<String>,
    password: Option<String>,
    email: Option<String>,
    /// Sign-in: where to go after.
    next: Option<String>,
}

fn form_error(st: &AppState, jar: CookieJar, signup: bool, username: String, e: AppError) -> Response {
    form_error_next(st, jar, signup, username, e, String::new())
}

fn form_error_next(st: &AppState, jar: CookieJar, signup: bool, username: String, e: AppError, next: String) -> Response {
    let (jar, csrf) = form_csrf(st, jar);
    let status = crate::error::status_of(e.code);
    let offer_cancel = e.code == ErrorCode::AccountScheduledForDeletion;
    let mut page = auth_page_offering(signup, csrf, username, Some(e.message), offer_cancel);
    page.next = next;
    let mut r = (jar, render(page)).into_response();
    *r.status_mut() = status;
    if let Some(s) = e.retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        r.headers_mut().insert(header::RETRY_AFTER, s);
    }
    r
}

/// A new session cookie (the browser's old session, if any, is revoked).
async fn start_session(st: &AppState, jar: CookieJar, account: &Id, client: &ClientAddr) -> Result<CookieJar, AppError> {
    let previous = jar.get(SESSION_COOKIE).map(|c| hash_secret(c.value()));
    let (secret, _csrf, ttl_secs) = accounts::start_session(st, account, previous.as_deref(), (&client.key, &client.device)).await?;
    let cookie = Cookie::build((SESSION_COOKIE, secret))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(st.https())
        .max_age(cookie::time::Duration::seconds(ttl_secs))
        .build();
    Ok(jar.add(cookie))
}

fn csrf_ok(jar: &CookieJar, form: &AuthForm) -> bool {
    match (jar.get(CSRF_COOKIE), form.csrf.as_deref()) {
        (Some(c), Some(f)) => !f.is_empty() && secret_eq(c.value(), f),
        _ => false,
    }
}

fn csrf_error() -> AppError {
    AppError::forbidden("The form expired. Please try again.")
}

pub async fn login_submit(State(st): State<AppState>, client: ClientAddr, jar: CookieJar, Form(f): Form<AuthForm>) -> Response {
    let username: String = f.username.clone().unwrap_or_default().chars().take(30).collect();
    if !csrf_ok(&jar, &f) {
        return form_error(&st, jar, false, username, csrf_error());
    }
    let cancel = f.cancel_deletion.as_deref() == Some("1");
    match accounts::check_credentials(&st, &client.key, f.username.as_deref(), f.password.as_deref(), cancel).await {
        Ok(a) => match start_session(&st, jar, &a.id, &client).await {
            Ok(jar) => (jar, Redirect::to(&local_next(f.next.as_deref()))).into_response(),
            Err(e) => ApiError(e).into_response(),
        },
        Err(e) => form_error_next(&st, jar, false, username, e, local_next(f.next.as_deref())),
    }
}

pub async fn signup_submit(State(st): State<AppState>, client: ClientAddr, jar: CookieJar, Form(f): Form<AuthForm>) -> Response {
    let username: String = f.username.clone().unwrap_or_default().chars().take(30).collect();
    if !csrf_ok(&jar, &f) {
        return form_error(&st, jar, true, username, csrf_error());
    }
    let s = accounts::SignUp { username: f.username.clone(), password: f.password.clone(), email: f.email.clone() };
    match accounts::register(&st, &client.key, s).await {
        Ok(a) => match start_session(&st, jar, &a.id, &client).await {
            Ok(jar) => (jar, Redirect::to("/upload")).into_response(),
            Err(e) => ApiError(e).into_response(),
        },
        Err(e) => form_error(&st, jar, true, username, e),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

pub async fn logout(State(st): State<AppState>, jar: CookieJar, Form(f): Form<LogoutForm>) -> Response {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        let hash = hash_secret(c.value());
        if let Ok(Some((_, csrf))) = accounts::authenticate(&st, &hash, TokenKind::Session).await {
            let ok = matches!((csrf.as_deref(), f.csrf.as_deref()), (Some(a), Some(b)) if secret_eq(a, b));
            if !ok {
                return ApiError(csrf_error()).into_response();
            }
            if let Err(e) = accounts::revoke_token(&st, &hash).await {
                return ApiError(e).into_response();
            }
        }
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/").build());
    (jar, Redirect::to("/")).into_response()
}
