//! The personal-data registry: every table and every kind of stored object, what it
//! holds, why, where it is kept, for how long and who can see it. The privacy page
//! (`/about/data`) and `GET /api/v1/instance/residency` are rendered from it, the
//! residency check reads its object kinds, and a test fails when the database has
//! a table this registry does not classify.

use serde::Serialize;

/// Where a kind of data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Place {
    /// The database, which lives in the primary region.
    Database,
    /// Objects in the account's home region, replicated to the backup region.
    HomeRegionAndBackup,
    /// The local disk of the node that received it, while it is in flight.
    NodeDisk,
}

/// Whether it is personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Anyone on the internet may see it (public videos and profiles) while it is public.
    Public,
    /// Everything else about a person.
    Protected,
    /// Not about anyone (hashtags' videos lists, job bookkeeping without content).
    Operational,
}

/// One kind of data.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DataKind {
    /// A table name, or `object:<prefix>` for stored objects.
    pub name: &'static str,
    pub what: &'static str,
    pub why: &'static str,
    pub place: Place,
    pub class: Class,
    pub kept: &'static str,
    pub who_sees: &'static str,
}

macro_rules! kind {
    ($name:expr, $place:ident, $class:ident, $what:expr, $why:expr, $kept:expr, $who:expr) => {
        DataKind { name: $name, what: $what, why: $why, place: Place::$place, class: Class::$class, kept: $kept, who_sees: $who }
    };
}

/// Every kind of data Kinora keeps.
pub const REGISTRY: &[DataKind] = &[
    kind!(
        "accounts",
        Database,
        Protected,
        "username, display name, bio, email, password hash (argon2id), privacy settings, home region",
        "to run your account",
        "until you delete your account",
        "your profile (not email or password) as your privacy setting allows; the rest only you"
    ),
    kind!(
        "tokens",
        Database,
        Protected,
        "hashes of API tokens and web sessions, with their CSRF tokens, and where each was made (address, or IPv6 /64; browser or app)",
        "to keep you signed in",
        "until they expire (90 days for API tokens, 30 for sessions) or you sign out",
        "no one"
    ),
    kind!(
        "follows",
        Database,
        Protected,
        "who follows whom, pending follow requests, and the video a follow was made from",
        "for Following feeds, private accounts and For You",
        "until unfollowed or an account is deleted",
        "the two accounts; lists of a private account only its followers"
    ),
    kind!(
        "videos",
        Database,
        Protected,
        "captions, visibility, counts, processing state, original file name",
        "to show your videos",
        "until you delete them: the caption, file name and hashtags at once, the rest (id, times) within 7 days ([retention] deleted_content_days)",
        "as each video's visibility allows"
    ),
    kind!(
        "media_objects",
        Database,
        Protected,
        "which renditions, posters and previews a video has, their sizes and hashes",
        "to serve your videos",
        "as long as the video",
        "as the video's visibility allows"
    ),
    kind!(
        "jobs",
        Database,
        Operational,
        "background work: transcodes, replication, purges (video ids, object keys)",
        "to process uploads reliably",
        "7 days after they finish",
        "no one"
    ),
    kind!(
        "uploads",
        Database,
        Protected,
        "resumable uploads in progress: size, caption, visibility, file name",
        "to resume interrupted uploads",
        "until finished, or 24 hours after the last byte",
        "only you"
    ),
    kind!(
        "likes",
        Database,
        Protected,
        "which videos you liked",
        "to count likes and show your liked videos",
        "until you unlike or delete your account",
        "only you unless you show your likes"
    ),
    kind!(
        "comments",
        Database,
        Protected,
        "comments and replies",
        "to show conversations",
        "until deleted by you or the video's owner: the words at once, the rest (id, times) within 7 days ([retention] deleted_content_days)",
        "whoever may see the video, minus blocked accounts"
    ),
    kind!("comment_likes", Database, Protected, "which comments you liked", "to count comment likes", "until you unlike", "only you"),
    kind!(
        "video_tags",
        Database,
        Operational,
        "hashtags of captions",
        "hashtag pages and search",
        "as long as the caption",
        "as the video's visibility allows"
    ),
    kind!("tag_follows", Database, Protected, "hashtags you follow", "for your Following feed", "until you unfollow", "only you"),
    kind!("blocks", Database, Protected, "accounts you block", "to keep them away from you", "until you unblock", "only you"),
    kind!("mutes", Database, Protected, "accounts you mute", "to keep them out of your feeds", "until you unmute", "only you"),
    kind!(
        "notifications",
        Database,
        Protected,
        "likes, comments, follows and mentions addressed to you",
        "your inbox",
        "180 days",
        "only you, and only while you may see who and what they are about"
    ),
    kind!(
        "reports",
        Database,
        Protected,
        "reports and appeals you filed: target, reason, details",
        "moderation",
        "until you delete your account",
        "you and moderators"
    ),
    kind!(
        "moderation_actions",
        Database,
        Protected,
        "moderators' decisions on reports: what was removed, restricted or suspended, why, by whom",
        "to tell you what was decided and why, to hear appeals, and to count decisions for /transparency",
        "always; erasing the affected account keeps only the kind, reason and month",
        "you (about your content) and moderators; counts are public"
    ),
    kind!(
        "view_events",
        Database,
        Protected,
        "watch history: what you watched, how long, whether to the end",
        "creator analytics and recommendations",
        "90 days",
        "no one (creators see totals)"
    ),
    kind!(
        "feed_impressions",
        Database,
        Protected,
        "which videos For You showed you, and when",
        "so For You does not repeat itself and learns what you skip",
        "90 days",
        "no one"
    ),
    kind!(
        "video_shares",
        Database,
        Protected,
        "which videos you shared, when (signed in)",
        "so For You learns from what you share",
        "90 days",
        "no one (videos show a total)"
    ),
    kind!(
        "not_interested",
        Database,
        Protected,
        "videos you marked \"not interested\"",
        "so For You never shows them again (nor, after two, more of that creator)",
        "until you take it back or delete your account",
        "only you"
    ),
    kind!("videos_fts", Database, Protected, "a search index of captions", "search", "as long as the captions", "as the videos' visibility allows"),
    kind!("accounts_fts", Database, Protected, "a search index of names and bios", "search", "as long as the profile", "as the account's visibility allows"),
    kind!(
        "exports",
        Database,
        Protected,
        "your data downloads: when, how big, where the archive is",
        "to hand you your data",
        "7 days after the archive is ready",
        "only you"
    ),
    kind!(
        "erasure_journal",
        Database,
        Operational,
        "keyed hashes of erased accounts' ids (not who they were)",
        "so that no restore of an old backup brings an erased account back",
        "always",
        "no one"
    ),
    kind!(
        "staff",
        Database,
        Operational,
        "who is a moderator or an admin, since when",
        "to know who may act as staff",
        "until revoked",
        "the operator; every grant and revoke is in the public log"
    ),
    kind!(
        "log_entries",
        Database,
        Public,
        "the transparency log: each staff or legal access, with the staff member's name, scopes, reason and reference; the person only as a keyed commitment",
        "so anyone can check that data is only read as declared",
        "always (append-only)",
        "everyone; the person sees which entries are about them"
    ),
    kind!("log_hashes", Database, Public, "the log's Merkle tree", "to prove the log was never rewritten", "always", "everyone"),
    kind!("log_checkpoints", Database, Public, "the log's signed checkpoints", "to prove the log was never rewritten", "always", "everyone"),
    kind!(
        "log_witnesses",
        Database,
        Public,
        "which checkpoint size each configured witness last cosigned",
        "to send witnesses consistency proofs",
        "always",
        "everyone (the cosignatures are public)"
    ),
    kind!(
        "log_redactions",
        Database,
        Operational,
        "the legal references behind redacted log entries, with the nonce that proves them",
        "so the operator can disclose a redacted reference and anyone can check it",
        "always",
        "the operator"
    ),
    kind!(
        "log_cosignatures",
        Database,
        Public,
        "witnesses' cosignatures of the log's checkpoints",
        "so anyone can see independent parties vouch for the log",
        "always",
        "everyone"
    ),
    kind!(
        "object_intents",
        Database,
        Operational,
        "objects this server is about to write before the row that owns them (an upload's original)",
        "to clean up after a crash between the two",
        "until the row exists, or an hour after a crash",
        "no one"
    ),
    kind!(
        "instance_keys",
        Database,
        Operational,
        "the ids (hashes) of the keys this server was made with, never the keys",
        "so every process can check it has this server's keys",
        "always",
        "no one"
    ),
    kind!("schema_migrations", Database, Operational, "which schema version the database has", "upgrades", "always", "no one"),
    kind!(
        "object:originals",
        HomeRegionAndBackup,
        Protected,
        "the files you uploaded, as uploaded (they can carry location and device)",
        "to re-encode when formats change",
        "until the video is deleted",
        "no one: never served"
    ),
    kind!(
        "object:media",
        HomeRegionAndBackup,
        Protected,
        "re-encoded renditions, posters and previews, without metadata",
        "to play your videos",
        "until the video is deleted",
        "as the video's visibility allows"
    ),
    kind!(
        "object:avatars",
        HomeRegionAndBackup,
        Protected,
        "profile pictures, re-encoded without metadata",
        "your profile",
        "until replaced or the account is deleted",
        "whoever may see your account"
    ),
    kind!("object:exports", HomeRegionAndBackup, Protected, "archives of all your data that you asked for", "to hand you your data", "7 days", "only you"),
    kind!(
        "disk:uploads",
        NodeDisk,
        Protected,
        "bytes of resumable uploads in progress",
        "to resume interrupted uploads",
        "until finished or expired",
        "no one"
    ),
];

/// The object kinds (key prefixes) that belong to accounts.
pub fn object_prefixes() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().filter_map(|k| k.name.strip_prefix("object:"))
}

/// Whether a table is classified.
pub fn classifies_table(table: &str) -> bool {
    REGISTRY.iter().any(|k| k.place == Place::Database && k.name == table)
}

/// What a text column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// Someone's own words (a caption, a bio, a comment, a file name), with how
    /// long they are kept.
    Words(&'static str),
    /// An identifier or a reference to something else (ids, object keys).
    Id,
    /// A value from a closed set (states, kinds, visibilities, reasons, regions).
    Closed,
    /// A secret, or a hash or keyed hash of one; never shown.
    Secret,
    /// Written by the server, not by a person (error codes, job payloads, hashes).
    Server,
}

/// Every text column of the schema and what it holds; a test reads the schema of
/// both backends and fails on a text column missing here (so a new column holding
/// someone's words cannot arrive without a stated retention), or listed here but
/// gone.
pub const COLUMNS: &[(&str, &str, Holds)] = {
    use Holds::*;
    &[
        ("accounts", "id", Id),
        ("accounts", "username", Words("until the account is erased")),
        ("accounts", "email", Words("until the account is erased")),
        ("accounts", "password_hash", Secret),
        ("accounts", "display_name", Words("until you change it or the account is erased")),
        ("accounts", "bio", Words("until you change it or the account is erased")),
        ("accounts", "region", Closed),
        ("accounts", "avatar_key", Id),
        ("tokens", "hash", Secret),
        ("tokens", "account_id", Id),
        ("tokens", "kind", Closed),
        ("tokens", "csrf", Secret),
        ("tokens", "client", Words("as long as the session or token (30/90 days at most)")),
        ("tokens", "device", Words("as long as the session or token (30/90 days at most)")),
        ("follows", "follower_id", Id),
        ("follows", "followee_id", Id),
        ("follows", "state", Closed),
        ("follows", "via_video_id", Id),
        ("videos", "id", Id),
        ("videos", "account_id", Id),
        ("videos", "caption", Words("until you edit or delete the video (at once)")),
        ("videos", "visibility", Closed),
        ("videos", "status", Closed),
        ("videos", "error_code", Server),
        ("videos", "error_message", Server),
        ("videos", "region", Closed),
        ("videos", "original_key", Id),
        ("videos", "original_name", Words("until you delete the video (at once)")),
        ("videos", "comments_setting", Closed),
        ("media_objects", "video_id", Id),
        ("media_objects", "name", Id),
        ("media_objects", "object_key", Id),
        ("media_objects", "mime", Server),
        ("media_objects", "sha256", Server),
        ("jobs", "id", Id),
        ("jobs", "kind", Closed),
        ("jobs", "payload", Server),
        ("jobs", "status", Closed),
        ("jobs", "locked_by", Server),
        ("jobs", "last_error", Server),
        ("jobs", "account_id", Id),
        ("uploads", "id", Id),
        ("uploads", "account_id", Id),
        ("uploads", "video_id", Id),
        ("uploads", "filename", Words("until the upload finishes or expires (24 hours)")),
        ("uploads", "caption", Words("until the upload finishes or expires (24 hours)")),
        ("uploads", "visibility", Closed),
        ("uploads", "state", Closed),
        ("likes", "account_id", Id),
        ("likes", "video_id", Id),
        ("comments", "id", Id),
        ("comments", "video_id", Id),
        ("comments", "account_id", Id),
        ("comments", "reply_to", Id),
        ("comments", "body", Words("until the comment is deleted (at once)")),
        ("comment_likes", "account_id", Id),
        ("comment_likes", "comment_id", Id),
        ("video_tags", "video_id", Id),
        ("video_tags", "tag", Words("as long as the caption (removed at once with the video)")),
        ("tag_follows", "account_id", Id),
        ("tag_follows", "tag", Words("until you unfollow the hashtag")),
        ("blocks", "blocker_id", Id),
        ("blocks", "blocked_id", Id),
        ("mutes", "muter_id", Id),
        ("mutes", "muted_id", Id),
        ("notifications", "id", Id),
        ("notifications", "account_id", Id),
        ("notifications", "kind", Closed),
        ("notifications", "actor_id", Id),
        ("notifications", "video_id", Id),
        ("notifications", "comment_id", Id),
        ("notifications", "action_id", Id),
        ("reports", "id", Id),
        ("reports", "reporter_id", Id),
        ("reports", "video_id", Id),
        ("reports", "comment_id", Id),
        ("reports", "account_id", Id),
        ("reports", "reason", Closed),
        ("reports", "details", Words("as long as the report; gone with the reporter's account or the reported account")),
        ("reports", "status", Closed),
        ("reports", "appeal_of", Id),
        ("view_events", "id", Id),
        ("view_events", "video_id", Id),
        ("view_events", "viewer_id", Id),
        ("exports", "id", Id),
        ("exports", "account_id", Id),
        ("exports", "status", Closed),
        ("exports", "region", Closed),
        ("exports", "object_key", Id),
        ("exports", "error", Server),
        ("erasure_journal", "subject", Secret),
        ("staff", "account_id", Id),
        ("staff", "role", Closed),
        ("log_entries", "entry", Words("forever: the public log is append-only (it names staff, never subjects)")),
        ("log_entries", "subject_account", Id),
        ("log_hashes", "hash", Server),
        ("log_checkpoints", "note", Server),
        ("moderation_actions", "id", Id),
        ("moderation_actions", "report_id", Id),
        ("moderation_actions", "actor_id", Id),
        ("moderation_actions", "action", Closed),
        ("moderation_actions", "reason", Closed),
        ("moderation_actions", "note", Words("as long as the decision; gone with the account it concerns")),
        ("moderation_actions", "subject_id", Id),
        ("moderation_actions", "video_id", Id),
        ("moderation_actions", "comment_id", Id),
        ("log_witnesses", "witness", Id),
        ("log_cosignatures", "witness", Id),
        ("log_cosignatures", "line", Server),
        ("log_redactions", "nonce", Secret),
        ("log_redactions", "reference", Words("as long as the log (a legal reference behind a redacted entry)")),
        ("not_interested", "account_id", Id),
        ("not_interested", "video_id", Id),
        ("feed_impressions", "account_id", Id),
        ("feed_impressions", "video_id", Id),
        ("video_shares", "account_id", Id),
        ("video_shares", "video_id", Id),
        ("object_intents", "region", Closed),
        ("object_intents", "key", Id),
        ("instance_keys", "name", Id),
        ("instance_keys", "key_id", Server),
    ]
};
