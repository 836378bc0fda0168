//! The layers, checked on the dependency graph (`cargo metadata`), not by reading
//! source text: data flows one way (bin -> http -> app -> {db, store, media,
//! translog, recommend} -> core); HTTP reaches data only through kinora-app; the
//! domain crates and the leaf crates with their own evaluation do no IO.
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

fn metadata() -> Value {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // This machine's platform only: other platforms' crates are never downloaded.
    let host = std::process::Command::new("rustc").arg("-vV").output().expect("rustc -vV");
    let host = String::from_utf8_lossy(&host.stdout).lines().find_map(|l| l.strip_prefix("host: ").map(str::to_owned)).expect("a host triple");
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &host])
        .current_dir(dir)
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Package name by id, and each package's normal (not dev, not build) dependencies.
struct Graph {
    names: HashMap<String, String>,
    deps: HashMap<String, Vec<String>>,
}

impl Graph {
    fn load() -> Graph {
        let m = metadata();
        let names = m["packages"].as_array().unwrap().iter().map(|p| (p["id"].as_str().unwrap().to_owned(), p["name"].as_str().unwrap().to_owned())).collect();
        let mut deps = HashMap::new();
        for n in m["resolve"]["nodes"].as_array().unwrap() {
            let normal: Vec<String> = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
                .map(|d| d["pkg"].as_str().unwrap().to_owned())
                .collect();
            deps.insert(n["id"].as_str().unwrap().to_owned(), normal);
        }
        Graph { names, deps }
    }

    fn id(&self, name: &str) -> String {
        self.names.iter().find(|(_, n)| n.as_str() == name).map(|(id, _)| id.clone()).unwrap_or_else(|| panic!("no package {name}"))
    }

    fn direct(&self, name: &str) -> BTreeSet<String> {
        self.deps[&self.id(name)].iter().map(|d| self.names[d].clone()).collect()
    }

    fn reaches(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![self.id(name)];
        while let Some(id) = stack.pop() {
            for d in &self.deps[&id] {
                if seen.insert(self.names[d].clone()) {
                    stack.push(d.clone());
                }
            }
        }
        seen
    }
}

const IO: &[&str] = &["tokio", "sqlx", "reqwest", "object_store", "hyper", "axum", "mio", "socket2"];

#[test]
fn the_layers_hold_on_the_dependency_graph() {
    let g = Graph::load();
    // HTTP names only the application and the domain: no database, no stores.
    let http = g.direct("kinora-http");
    for banned in ["kinora-db", "kinora-store", "kinora-media", "kinora-translog", "kinora-recommend", "sqlx", "object_store", "reqwest"] {
        assert!(!http.contains(banned), "kinora-http depends on {banned} directly: {http:?}");
    }
    assert!(http.contains("kinora-app") && http.contains("kinora-core"), "{http:?}");
    // The domain and the leaf crates do no IO, whatever they pull in.
    for pure in ["kinora-core", "kinora-translog", "kinora-recommend"] {
        let r = g.reaches(pure);
        for io in IO {
            assert!(!r.contains(*io), "{pure} reaches {io}");
        }
    }
    // One way: nothing below the application knows it or HTTP.
    for lower in ["kinora-core", "kinora-db", "kinora-store", "kinora-media", "kinora-translog", "kinora-recommend"] {
        let r = g.reaches(lower);
        for upper in ["kinora-app", "kinora-http", "kinora"] {
            assert!(!r.contains(upper), "{lower} reaches {upper}");
        }
    }
    assert!(!g.reaches("kinora-app").contains("kinora-http"), "kinora-app reaches kinora-http");
    assert!(!g.reaches("kinora-app").contains("axum"), "kinora-app reaches axum");
    // The auditor's tool needs nothing of the server.
    let audit = g.reaches("kinora-audit");
    for server in ["kinora-app", "kinora-db", "kinora-http", "sqlx"] {
        assert!(!audit.contains(server), "kinora-audit reaches {server}");
    }
}
