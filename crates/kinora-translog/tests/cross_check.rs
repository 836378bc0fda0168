//! The log against an implementation not written here: Go's
//! `golang.org/x/mod/sumdb/tlog` (Debian's golang-golang-x-mod-dev, installed by
//! scripts/deps --test). Roots, inclusion proofs and consistency proofs must agree
//! for every size up to 130 entries.
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on
#![allow(clippy::unwrap_used)]

use kinora_translog::{commit_subject, Entry, Tree};

fn hexes(p: &[kinora_translog::Hash]) -> Vec<String> {
    p.iter().map(|h| hex(&h.0)).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn roots_and_proofs_agree_with_go_sumdb_tlog() {
    let dir = std::env::temp_dir().join(format!("kinora-tlog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for n in [1usize, 2, 3, 7, 8, 9, 64, 130] {
        let entries: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                Entry {
                    v: 1,
                    time: "2026-11-29T12:00:00.000Z".into(),
                    actor: format!("staff{}", i % 3),
                    role: "admin".into(),
                    subject: commit_subject(b"key", &i.to_string()),
                    scopes: vec!["profile".into(), "videos".into()],
                    reason: "legal-request".into(),
                    reference: format!("case-{i}"),
                }
                .canonical()
            })
            .collect();
        let input = dir.join(format!("entries-{n}.txt"));
        std::fs::write(&input, entries.iter().map(|e| hex(e) + "\n").collect::<String>()).unwrap();
        let out = std::process::Command::new("go")
            // The run-time manifest dir: a test binary in a shared target directory may
            // have been built from another clone.
            .args(["run", &format!("{}/tests/go/tlog_oracle.go", std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))])
            .arg(&input)
            .env("GOPATH", "/usr/share/gocode")
            .env("GO111MODULE", "off")
            .env("GOCACHE", dir.join("gocache"))
            .output()
            .expect("go is installed (scripts/deps --test installs golang-go and golang-golang-x-mod-dev)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let go: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

        let mut t = Tree::default();
        for e in &entries {
            t.append(e).unwrap();
        }
        let size = n as u64;
        assert_eq!(go["root"], hex(&t.root().unwrap().0), "root of {n}");
        for i in 0..size {
            assert_eq!(go["inclusion"][i as usize], serde_json::json!(hexes(&t.inclusion_proof(size, i).unwrap())), "inclusion of {i} in {n}");
        }
        for old in 1..size {
            assert_eq!(go["consistency"][(old - 1) as usize], serde_json::json!(hexes(&t.consistency_proof(size, old).unwrap())), "consistency {old} -> {n}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
