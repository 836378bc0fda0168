//! Walks the router (its source: axum routers cannot be listed at run time) and fails
//! on a staff route that could return protected data without going through the one
//! door, `kinora_app::staff`, which appends to the transparency log before it reads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

/// The crate's directory at run time: test binaries in a shared target directory
/// outlive the clone they were built from, so the compile-time path may be stale.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(&manifest_dir()).join("..").join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `(path, handler expression)` for every `.route(...)` in the router, however the
/// source is formatted (whitespace folded first).
fn routes() -> Vec<(String, String)> {
    let src: String = read("kinora-http/src/lib.rs").split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    let mut rest = src.as_str();
    while let Some(i) = rest.find(".route(\"") {
        rest = &rest[i + ".route(\"".len()..];
        let Some((path, after)) = rest.split_once('"') else { break };
        // The handlers: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let mut end = after.len();
        for (j, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push((path.to_owned(), after[..end].to_owned()));
        rest = &after[end..];
    }
    assert!(out.len() > 40, "the router walk found only {} routes: has lib.rs changed shape?", out.len());
    out
}

/// The body of `pub async fn name` in `src`.
fn body<'a>(src: &'a str, name: &str) -> &'a str {
    let start = src.find(&format!("pub async fn {name}(")).unwrap_or_else(|| panic!("handler {name} not found"));
    let rest = &src[start..];
    let end = rest[1..].find("\npub ").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

/// The first statement of a function body (after the signature's opening brace),
/// whitespace folded.
fn first_statement(f: &str) -> String {
    let open = f.find('{').expect("a body");
    let inner: Vec<&str> = f[open + 1..].lines().filter(|l| !l.trim_start().starts_with("//")).collect();
    let stmt: String = inner.join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
    stmt.split(';').next().unwrap_or("").trim().to_owned()
}

#[test]
fn every_staff_route_goes_through_the_door() {
    let modules = [("api::staff::", read("kinora-http/src/api/staff.rs")), ("api::moderation::", read("kinora-http/src/api/moderation.rs"))];
    let mut staff_routes = BTreeSet::new();
    for (path, handlers) in routes() {
        let is_staff = path.starts_with("/staff") || path.starts_with("/admin") || handlers.contains("staff::") || handlers.contains("admin");
        if !is_staff {
            continue;
        }
        // Every handler named for this route, e.g. `post(api::staff::access)`.
        let named = handlers.split(['(', ')', ',', '.']).flat_map(|t| modules.iter().filter_map(move |(m, src)| t.trim().strip_prefix(m).map(|h| (h, src))));
        for (h, src) in named {
            let f = body(src, h);
            assert!(f.contains("staff::") || f.contains("moderation::"), "{path} ({h}) does not call the staff door: {f}");
            assert!(!f.contains("st.db"), "{path} ({h}) reads the database itself: {f}");
            if path.starts_with("/staff") {
                // Staff-only routes check the role before anything else, body parsing included.
                let first = first_statement(f);
                assert!(first.starts_with("staff::role(") || first.contains("staff::access("), "{path}: the role check must come first, not {first:?}");
            }
        }
        assert!(!handlers.contains("ui::") || handlers.contains("ui::admin"), "{path}: a staff page outside the admin UI: {handlers}");
        staff_routes.insert(format!("/api/v1{path}"));
    }
    assert!(staff_routes.contains("/api/v1/staff/access"), "{staff_routes:?}");
    assert!(staff_routes.contains("/api/v1/staff/reports/{id}"), "{staff_routes:?}");
    // Opening a report logs the access (when it is one) before the item is read.
    let m = read("kinora-app/src/moderation.rs");
    let review = body(&m, "review");
    let logged = review.find("st.log.append(").expect("review appends to the log");
    for read_call in ["media_links(", "comment_any_state(", "video_by_id("] {
        let at = review.find(read_call).unwrap_or_else(|| panic!("review reads with {read_call}"));
        assert!(logged < at, "review reads ({read_call}) before it logs");
    }
    // The router and the published API agree on which staff routes exist.
    let doc: serde_json::Value = serde_json::from_str(&read("kinora-http/openapi.json")).unwrap();
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().filter(|p| p.starts_with("/api/v1/staff")).cloned().collect();
    let routed: BTreeSet<String> = staff_routes.into_iter().filter(|p| p.starts_with("/api/v1/staff")).collect();
    assert_eq!(routed, documented, "staff routes in the router vs openapi.json");
}

#[test]
fn protected_reads_happen_only_behind_the_log() {
    // Who may call the database functions that return a person's protected data.
    let allowed: &[(&str, &[&str])] = &[
        ("personal_data(", &["kinora-app/src/staff.rs", "kinora-app/src/exports.rs"]),
        ("sessions_of(", &["kinora-app/src/staff.rs", "kinora-app/src/exports.rs"]),
        ("staff_role(", &["kinora-app/src/staff.rs"]),
    ];
    let root = Path::new(&manifest_dir()).join("..");
    let mut files = Vec::new();
    for krate in ["kinora-app", "kinora-http", "kinora"] {
        let mut stack = vec![root.join(krate).join("src")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
    }
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        let src = std::fs::read_to_string(f).unwrap();
        for (call, ok) in allowed {
            if src.contains(&format!(".{call}")) {
                assert!(ok.contains(&rel.as_str()), "{rel} calls {call} outside the staff door");
            }
        }
    }
    // Inside the door, the entry is appended before the first protected read.
    let staff = read("kinora-app/src/staff.rs");
    for f in ["access", "legal_export"] {
        let b = body(&staff, f);
        let append = b.find("log.append").unwrap_or_else(|| panic!("staff::{f} does not log"));
        for read in ["personal_data(", "sessions_of(", "exports::archive("] {
            if let Some(i) = b.find(read) {
                assert!(append < i, "staff::{f} reads ({read}) before it logs");
            }
        }
    }
    // The archive is written for the person themself (the export job) or behind the log.
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        if std::fs::read_to_string(f).unwrap().contains("exports::archive(") {
            assert_eq!(rel, "kinora-app/src/staff.rs", "{rel} writes an account's archive outside the door");
        }
    }
}
