//! What a feed card and a profile grid tile show of a video.

use kinora_app::views::VideoView;

/// One video in a vertical feed (`card.html`: the first page and every later page
/// loaded by infinite scroll are this one template).
#[derive(Clone)]
pub struct Card {
    pub id: String,
    pub username: String,
    pub caption: String,
    pub poster: String,
    pub src: String,
    pub width: i64,
    pub height: i64,
    /// Every rendition as JSON (`[{url, width, height, bitrate}]`, highest first) for
    /// the player to choose from.
    pub sources: String,
    pub likes: i64,
    pub comments: i64,
    pub liked: bool,
    pub duration_ms: i64,
    /// For You: why this video is here (empty elsewhere).
    pub reason: String,
    pub reason_code: &'static str,
    /// For You, signed in: a Follow button for an author the viewer does not follow.
    pub follow: bool,
}

impl Card {
    /// A card for a ready video with its renditions; `None` otherwise.
    pub(super) fn from_view(v: &VideoView) -> Option<Card> {
        let sources = v.sources.as_ref()?;
        // The default (and the one link previews get): the best rendition up to 720p.
        let src = sources.iter().find(|o| o.width.min(o.height) <= 720).or(sources.last())?;
        let poster = v.poster_url.clone()?;
        let list: Vec<serde_json::Value> =
            sources.iter().map(|o| serde_json::json!({"url": o.url, "width": o.width, "height": o.height, "bitrate": o.bitrate})).collect();
        Some(Card {
            id: v.id.to_string(),
            username: v.author.username.clone(),
            caption: v.caption.clone(),
            poster,
            src: src.url.clone(),
            width: src.width,
            height: src.height,
            sources: serde_json::Value::Array(list).to_string(),
            likes: v.counts.likes,
            comments: v.counts.comments,
            liked: v.liked_by_me,
            duration_ms: v.duration_ms.unwrap_or(0),
            reason: v.reason.as_ref().map(|r| r.text.clone()).unwrap_or_default(),
            reason_code: v.reason.as_ref().map_or("", |r| r.code),
            follow: false,
        })
    }
}

/// Cards for a feed page; `follow`: the authors the viewer may follow from a card
/// (For You, signed in), and whom of them they follow already.
pub(super) fn cards(views: &[VideoView], follow: Option<(&kinora_core::Id, &std::collections::HashSet<kinora_core::Id>)>) -> Vec<Card> {
    let mut out = Vec::new();
    for v in views {
        if let Some(mut c) = Card::from_view(v) {
            c.follow = follow.is_some_and(|(me, followed)| &v.author.id != me && !followed.contains(&v.author.id));
            out.push(c);
        }
    }
    out
}

/// A grid tile, with its small preview once ready.
pub struct Tile {
    pub id: String,
    pub poster: Option<String>,
    pub caption: String,
    pub status: &'static str,
    pub visibility: &'static str,
}

pub(super) fn tiles(views: &[VideoView]) -> Vec<Tile> {
    views
        .iter()
        .map(|v| Tile {
            id: v.id.to_string(),
            poster: v.preview_url.clone(),
            caption: v.caption.chars().take(100).collect(),
            status: v.status.as_str(),
            visibility: v.visibility.as_str(),
        })
        .collect()
}
