//! The data-download archive, version 1: the one definition of what an export
//! writes and an import reads back (documented in docs/data-export.md). Its files
//! carry every stored field; the fields another Kinora reads back are typed here,
//! the rest travel along as they are (`rest`).

use kinora_core::policy::CommentSetting;
use kinora_core::Id;
use serde::{Deserialize, Serialize};

/// The profile.
pub const ACCOUNT: &str = "account.json";
/// The videos, a list of [`VideoV1`].
pub const VIDEOS: &str = "videos.json";

/// Where a video's original is in the archive.
pub fn original_entry(video: &Id) -> String {
    format!("videos/{video}/original")
}

/// `account.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountV1 {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub bio: Option<String>,
    #[serde(default)]
    pub private: Option<bool>,
    #[serde(default)]
    pub likes_public: Option<bool>,
    /// Everything else the profile holds (username, email, region, dates...).
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// One entry of `videos.json`; its original is at [`original_entry`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VideoV1 {
    pub id: String,
    #[serde(default)]
    pub caption: Option<String>,
    /// `public`, `followers` or `private` (parsed by the import, with a clear error).
    #[serde(default)]
    pub visibility: Option<String>,
    /// Who may comment; `everyone` when absent.
    #[serde(default)]
    pub comments: Option<CommentSetting>,
    #[serde(default)]
    pub original_name: Option<String>,
    /// Everything else (counts, sizes, dates, status).
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl AccountV1 {
    /// The stored profile, as the archive writes it.
    pub fn from_stored(v: serde_json::Value) -> Result<AccountV1, serde_json::Error> {
        serde_json::from_value(v)
    }
}

impl VideoV1 {
    /// A stored video, as the archive writes it.
    pub fn from_stored(v: serde_json::Value) -> Result<VideoV1, serde_json::Error> {
        serde_json::from_value(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_export_writes_import_reads_back_field_for_field() {
        let stored = serde_json::json!({
            "id": "v1", "caption": "hi #cats", "visibility": "followers", "comments": "off",
            "original_name": "phone.mov", "likes": 3, "created_at": "2026-12-06T00:00:00.000Z"
        });
        let v = VideoV1::from_stored(stored.clone()).unwrap();
        assert_eq!(v.comments, Some(CommentSetting::Off));
        assert_eq!(serde_json::to_value(&v).unwrap(), stored, "nothing is lost or renamed on the way out");
        let bad = serde_json::json!({"id": "v1", "comments": "nobody"});
        assert!(VideoV1::from_stored(bad).unwrap_err().to_string().contains("not one of everyone, followers, off"));
        let a = AccountV1::from_stored(serde_json::json!({"username": "ann", "bio": "b", "private": true})).unwrap();
        assert_eq!((a.bio.as_deref(), a.private, a.display_name), (Some("b"), Some(true), None));
        assert_eq!(a.rest.get("username"), Some(&serde_json::json!("ann")));
    }
}
