//! Where a browser may be sent after signing in: a path on this site, decided the
//! way a browser would read it.
//!
//! A `next` parameter is resolved with the WHATWG URL parser (the one browsers use:
//! it drops tabs and newlines, reads `\` as `/`, decodes nothing it should not)
//! against a placeholder origin, and kept only when the result stays on that
//! origin. What is sent back is the parser's own serialisation of the path and
//! query, never the caller's text, so what was checked is what the browser gets.

use url::Url;

/// A same-origin path with its query, safe for a `Location` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRedirect(String);

const BASE: &str = "https://kinora.invalid/";
/// Longer `next` values are refused (a sign-in link never needs more).
pub const MAX_NEXT_LEN: usize = 512;

impl LocalRedirect {
    /// `next` as a path on this site, or `None` when it leads anywhere else (or is
    /// not a URL at all).
    pub fn parse(next: &str) -> Option<LocalRedirect> {
        if next.is_empty() || next.len() > MAX_NEXT_LEN {
            return None;
        }
        // Only a path: not a scheme, not a host, not a relative path that some
        // reader might resolve against another base.
        if !next.starts_with('/') || next.chars().any(|c| c.is_control()) {
            return None;
        }
        let base = Url::parse(BASE).ok()?;
        let url = base.join(next).ok()?;
        if url.origin() != base.origin() || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let path = url.path();
        // `//host` (or `/\host` once read) would be taken as another host by a reader
        // that sees it without our base.
        if !path.starts_with('/') || path.starts_with("//") || path.contains('\\') {
            return None;
        }
        let mut out = path.to_owned();
        if let Some(q) = url.query() {
            out.push('?');
            out.push_str(q);
        }
        Some(LocalRedirect(out))
    }

    /// `next` when it is local, else the home page.
    pub fn or_home(next: Option<&str>) -> LocalRedirect {
        next.and_then(LocalRedirect::parse).unwrap_or_else(|| LocalRedirect("/".to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known open-redirect bypasses (tabs, backslashes, `//`, `/\`, encoded forms,
    /// schemes, credentials): none may leave the site.
    #[test]
    fn open_redirect_through_a_tab_and_every_known_bypass_stays_home() {
        let corpus = [
            "/\t/evil.example/y",
            "/%09/evil.example/y",
            "/\n/evil.example",
            "/\r/evil.example",
            "//evil.example",
            "///evil.example",
            "////evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "\\\\evil.example",
            "\\/evil.example",
            "/\t\\evil.example",
            " //evil.example",
            "/ /evil.example",
            "https://evil.example",
            "http:evil.example",
            "https:/evil.example",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "/javascript:alert(1)//",
            "data:text/html,hi",
            "//evil.example@kinora.invalid",
            "/@evil.example",
            "//kinora.invalid@evil.example",
            "/.//evil.example",
            "/./\\evil.example",
            "/..//evil.example",
            "/a/..//evil.example",
            "/%2F/evil.example",
            "/%5Cevil.example",
            "\u{3000}//evil.example",
            "/\u{0000}/evil.example",
            "evil.example",
            "",
        ];
        for next in corpus {
            let r = LocalRedirect::or_home(Some(next));
            let s = r.as_str();
            // What a browser does with the Location value: resolve against the page.
            let resolved = Url::parse("https://site.example/login").unwrap().join(s).unwrap();
            assert_eq!(resolved.host_str(), Some("site.example"), "{next:?} -> {s:?} leaves the site");
            assert!(!s.starts_with("//") && !s.contains('\\') && !s.chars().any(char::is_control), "{next:?} -> {s:?}");
        }
    }

    #[test]
    fn local_paths_survive() {
        assert_eq!(LocalRedirect::or_home(Some("/settings/access")).as_str(), "/settings/access");
        assert_eq!(LocalRedirect::or_home(Some("/admin?status=open&kind=video")).as_str(), "/admin?status=open&kind=video");
        assert_eq!(LocalRedirect::or_home(Some("/@alice")).as_str(), "/@alice");
        assert_eq!(LocalRedirect::or_home(None).as_str(), "/");
        assert_eq!(LocalRedirect::or_home(Some(&format!("/{}", "a".repeat(600)))).as_str(), "/");
    }
}
