//! Newtypes parsed at the edge.

use serde::Serialize;
use std::fmt;

/// Why a value was rejected; `field` names the offending input field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn field_err(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError { field, message: message.into() }
}

/// An opaque identifier: 16 characters of URL-safe base64 from 96 random bits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Id(String);

impl Id {
    /// A fresh random id. Never starts with `-`, so an id is never taken for an
    /// option on a command line.
    pub fn generate() -> Id {
        use base64::Engine;
        loop {
            let bytes: [u8; 12] = rand::random();
            let s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            if !s.starts_with('-') {
                return Id(s);
            }
        }
    }

    /// Accepts only strings shaped like ids we issue, so a path segment can never
    /// smuggle `/`, `..` or control characters into a storage key or a query.
    pub fn parse(s: &str) -> Option<Id> {
        let ok = s.len() == 16 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Id(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a value read back from our own database.
    pub fn from_trusted(s: String) -> Id {
        Id(s)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A username: 3-30 of `[a-z0-9_]`, stored lower-case (so uniqueness is
/// case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, FieldError> {
        let lower = s.trim().to_ascii_lowercase();
        if lower.len() < 3 || lower.len() > 30 {
            return Err(field_err("username", "must be 3 to 30 characters"));
        }
        if !lower.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(field_err("username", "may contain only letters a-z, digits and _"));
        }
        Ok(Username(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(s: String) -> Username {
        Username(s)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password: 8 to 1024 characters. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(s: &str) -> Result<Password, FieldError> {
        let n = s.chars().count();
        if n < 8 {
            return Err(field_err("password", "must be at least 8 characters"));
        }
        if s.len() > 1024 {
            return Err(field_err("password", "must be at most 1024 bytes"));
        }
        Ok(Password(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// An email address: loosely checked (one `@`, a dot in the domain, <= 254 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, FieldError> {
        let s = s.trim();
        let (local, domain) = s.split_once('@').ok_or_else(|| field_err("email", "must look like name@example.org"))?;
        if local.is_empty() || !domain.contains('.') || domain.contains('@') || s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(field_err("email", "must look like name@example.org"));
        }
        Ok(Email(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

/// A caption: at most 2200 characters, control characters other than newline removed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Caption(String);

impl Caption {
    pub const MAX_CHARS: usize = 2200;

    pub fn parse(s: &str) -> Result<Caption, FieldError> {
        let cleaned: String = s.trim().chars().filter(|c| *c == '\n' || !c.is_control()).collect();
        if cleaned.chars().count() > Self::MAX_CHARS {
            return Err(field_err("caption", "must be at most 2200 characters"));
        }
        Ok(Caption(cleaned))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(s: String) -> Caption {
        Caption(s)
    }
}

/// Who may see a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone, signed in or not.
    #[default]
    Public,
    /// The owner and accepted followers.
    Followers,
    /// The owner only.
    Private,
}

impl Visibility {
    pub fn parse(s: &str) -> Result<Visibility, FieldError> {
        match s.trim() {
            "" | "public" => Ok(Visibility::Public),
            "followers" => Ok(Visibility::Followers),
            "private" => Ok(Visibility::Private),
            _ => Err(field_err("visibility", "must be public, followers or private")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Followers => "followers",
            Visibility::Private => "private",
        }
    }
}

crate::closed_set! {
    /// Where a video is in its life.
    pub enum VideoStatus {
        Processing = "processing",
        Ready = "ready",
        Failed = "failed",
        /// Removed by moderators: the owner sees it (and may appeal), no one else.
        Removed = "removed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse("Alice_1").map(|u| u.0), Ok("alice_1".into()));
        for bad in ["ab", "a-b-c", "ünï", "", &"x".repeat(31), "a b c", "../etc"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ids_never_look_like_options() {
        assert!((0..5000).all(|_| !Id::generate().as_str().starts_with('-')));
    }

    #[test]
    fn ids_reject_path_tricks() {
        let id = Id::generate();
        assert_eq!(Id::parse(id.as_str()), Some(id));
        for bad in ["../../etc/passwd", "aaaaaaaaaaaaaaa/", "short", "aaaaaaaaaaaaaaa\n"] {
            assert!(Id::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn captions_and_visibility() {
        assert!(Caption::parse(&"x".repeat(2200)).is_ok());
        assert!(Caption::parse(&"x".repeat(2201)).is_err());
        assert_eq!(Caption::parse("a\u{0}b\nc").map(|c| c.0), Ok("ab\nc".into()));
        assert_eq!(Visibility::parse(""), Ok(Visibility::Public));
        assert!(Visibility::parse("secret").is_err());
        assert!(Password::parse("1234567").is_err());
        assert!(Email::parse("a@b.c").is_ok());
        assert!(Email::parse("nope").is_err());
    }
}
