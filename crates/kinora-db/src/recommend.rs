//! What the recommender reads: videos with their eligibility for For You, their
//! hashtags, and the events it learns from, in time order; and what it writes:
//! impressions and "not interested" marks.

use crate::visibility::discoverable;
use crate::{col, now_ms, Db, Result, VideoRow};
use kinora_core::Id;

/// A video as the recommender sees it.
#[derive(Debug, Clone)]
pub struct RecVideo {
    pub id: Id,
    pub account_id: Id,
    pub username: String,
    pub created_at: i64,
    pub duration_ms: i64,
    /// `policy::discoverable`: may appear in For You at all.
    pub eligible: bool,
}

kinora_core::closed_set! {
    /// What a person did that For You learns from (each kind lives in its own table).
    pub enum RecEventKind {
        View = "view",
        Like = "like",
        Share = "share",
        Comment = "comment",
        Follow = "follow",
        NotInterested = "not_interested",
        Impression = "impression",
    }
}

/// One event, from whichever table holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecEvent {
    pub kind: RecEventKind,
    pub account: Id,
    /// The video (for `follow`: the one it was made from, if any; `followee` too).
    pub video: Option<Id>,
    pub followee: Option<Id>,
    pub created_at: i64,
    pub watched_ms: i64,
    pub completed: bool,
    pub replays: i64,
}

/// Some videos: these ids, and every video of these accounts.
#[derive(Debug, Clone, Copy)]
pub struct Subset<'a> {
    pub videos: &'a [Id],
    pub accounts: &'a [Id],
}

impl Subset<'_> {
    fn is_empty(self) -> bool {
        self.videos.is_empty() && self.accounts.is_empty()
    }

    /// The condition over `videos v`, its placeholders from `$first`.
    fn sql(self, first: usize) -> String {
        let mut parts = Vec::new();
        if !self.videos.is_empty() {
            parts.push(format!("v.id IN ({})", crate::sql::placeholders(first, self.videos.len())));
        }
        if !self.accounts.is_empty() {
            parts.push(format!("v.account_id IN ({})", crate::sql::placeholders(first + self.videos.len(), self.accounts.len())));
        }
        format!("({})", parts.join(" OR "))
    }

    /// The values for [`Subset::sql`]'s placeholders, in order.
    fn binds(self) -> Vec<String> {
        self.videos.iter().chain(self.accounts).map(|i| i.as_str().to_owned()).collect()
    }
}

impl Db {
    /// Every video not deleted, with whether For You may show it.
    /// With a [`Subset`]: those videos (deleted ones too, as not eligible).
    pub async fn rec_videos(&self, only: Option<Subset<'_>>) -> Result<Vec<RecVideo>> {
        if only.is_some_and(|o| o.is_empty()) {
            return Ok(Vec::new());
        }
        let filter = only.map_or_else(|| "v.deleted_at IS NULL".to_owned(), |o| o.sql(1));
        let sql = format!(
            "SELECT v.id, v.account_id, a.username, v.created_at, COALESCE(v.duration_ms, 0) AS duration_ms, \
               CASE WHEN {disc} THEN 1 ELSE 0 END AS eligible \
             FROM videos v JOIN accounts a ON a.id = v.account_id WHERE {filter}",
            disc = discoverable()
        );
        let mut q = sqlx::query(&sql);
        for id in only.map(|o| o.binds()).unwrap_or_default() {
            q = q.bind(id);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(RecVideo {
                    id: Id::from_trusted(col(r, "id")?),
                    account_id: Id::from_trusted(col(r, "account_id")?),
                    username: col(r, "username")?,
                    created_at: col(r, "created_at")?,
                    duration_ms: col(r, "duration_ms")?,
                    eligible: col::<i64>(r, "eligible")? != 0,
                })
            })
            .collect()
    }

    /// A cheap summary that changes when a video becomes ready, is deleted, or
    /// becomes (in)eligible for For You: (videos, newest ready time, and a sum over
    /// the eligible videos' creation times, which changes when the eligible set
    /// does even if its size does not).
    pub async fn rec_fingerprint(&self) -> Result<(i64, i64, i64)> {
        let r = sqlx::query(&format!(
            "SELECT COUNT(*) AS n, COALESCE(MAX(v.ready_at), 0) AS r, CAST(COALESCE(SUM(CASE WHEN {disc} THEN v.created_at % 1000000007 + 1 ELSE 0 END), 0) AS BIGINT) AS e \
             FROM videos v JOIN accounts a ON a.id = v.account_id WHERE v.deleted_at IS NULL",
            disc = discoverable()
        ))
        .fetch_one(self.pool())
        .await?;
        Ok((col(&r, "n")?, col(&r, "r")?, col(&r, "e")?))
    }

    /// (video, hashtag) pairs.
    pub async fn rec_tags(&self, only: Option<Subset<'_>>) -> Result<Vec<(Id, String)>> {
        if only.is_some_and(|o| o.is_empty()) {
            return Ok(Vec::new());
        }
        let sql = match only {
            None => "SELECT video_id, tag FROM video_tags".to_owned(),
            Some(o) => format!("SELECT t.video_id, t.tag FROM video_tags t JOIN videos v ON v.id = t.video_id WHERE {}", o.sql(1)),
        };
        let mut q = sqlx::query(&sql);
        for id in only.map(|o| o.binds()).unwrap_or_default() {
            q = q.bind(id);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((Id::from_trusted(col(r, "video_id")?), col(r, "tag")?))).collect()
    }

    /// Events at or after `since_ms`, oldest first.
    pub async fn rec_events(&self, since_ms: i64) -> Result<Vec<RecEvent>> {
        let mut out = Vec::new();
        let base = |kind: RecEventKind, r: &sqlx::any::AnyRow, video: bool| -> Result<RecEvent> {
            Ok(RecEvent {
                kind,
                account: Id::from_trusted(col(r, "account_id")?),
                video: if video { Some(Id::from_trusted(col(r, "video_id")?)) } else { None },
                followee: None,
                created_at: col(r, "created_at")?,
                watched_ms: 0,
                completed: false,
                replays: 0,
            })
        };
        for r in sqlx::query(
            "SELECT viewer_id AS account_id, video_id, created_at, watched_ms, completed, replays FROM view_events \
             WHERE viewer_id IS NOT NULL AND created_at >= $1",
        )
        .bind(since_ms)
        .fetch_all(self.pool())
        .await?
        {
            let mut e = base(RecEventKind::View, &r, true)?;
            e.watched_ms = col(&r, "watched_ms")?;
            e.completed = col::<i64>(&r, "completed")? != 0;
            e.replays = col(&r, "replays")?;
            out.push(e);
        }
        for (kind, sql) in [
            (RecEventKind::Like, "SELECT account_id, video_id, created_at FROM likes WHERE created_at >= $1"),
            (RecEventKind::Comment, "SELECT account_id, video_id, created_at FROM comments WHERE created_at >= $1 AND deleted_at IS NULL"),
            (RecEventKind::NotInterested, "SELECT account_id, video_id, created_at FROM not_interested WHERE created_at >= $1"),
            (RecEventKind::Impression, "SELECT account_id, video_id, created_at FROM feed_impressions WHERE created_at >= $1"),
            (RecEventKind::Share, "SELECT account_id, video_id, created_at FROM video_shares WHERE created_at >= $1"),
        ] {
            for r in sqlx::query(sql).bind(since_ms).fetch_all(self.pool()).await? {
                out.push(base(kind, &r, true)?);
            }
        }
        for r in sqlx::query("SELECT follower_id, followee_id, via_video_id, created_at FROM follows WHERE state = 'accepted' AND created_at >= $1")
            .bind(since_ms)
            .fetch_all(self.pool())
            .await?
        {
            out.push(RecEvent {
                kind: RecEventKind::Follow,
                account: Id::from_trusted(col(&r, "follower_id")?),
                video: col::<Option<String>>(&r, "via_video_id")?.map(Id::from_trusted),
                followee: Some(Id::from_trusted(col(&r, "followee_id")?)),
                created_at: col(&r, "created_at")?,
                watched_ms: 0,
                completed: false,
                replays: 0,
            });
        }
        out.sort_by_key(|e| e.created_at);
        Ok(out)
    }

    /// Marks (or unmarks) a video "not interested" for an account.
    pub async fn set_not_interested(&self, account: &Id, video: &Id, on: bool) -> Result<()> {
        if on {
            sqlx::query("INSERT INTO not_interested (account_id, video_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (account_id, video_id) DO NOTHING")
                .bind(account.as_str())
                .bind(video.as_str())
                .bind(now_ms())
                .execute(self.pool())
                .await?;
        } else {
            sqlx::query("DELETE FROM not_interested WHERE account_id = $1 AND video_id = $2")
                .bind(account.as_str())
                .bind(video.as_str())
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// Records the videos a page served to a signed-in viewer.
    pub async fn record_impressions(&self, account: &Id, videos: &[Id], at: i64) -> Result<()> {
        if videos.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for v in videos {
            sqlx::query("INSERT INTO feed_impressions (account_id, video_id, created_at) VALUES ($1, $2, $3)")
                .bind(account.as_str())
                .bind(v.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_personalized_feed(&self, account: &Id, on: bool) -> Result<()> {
        sqlx::query("UPDATE accounts SET personalized_feed = $1 WHERE id = $2").bind(i64::from(on)).bind(account.as_str()).execute(self.pool()).await?;
        Ok(())
    }

    /// Every video For You may show anyone (`policy::discoverable`), or those of
    /// a [`Subset`] that are, each with its served objects (largest first): the cards
    /// the recommender keeps in memory so a page needs no query.
    pub async fn feed_cards(&self, only: Option<Subset<'_>>) -> Result<Vec<(VideoRow, Vec<crate::MediaObject>)>> {
        if only.is_some_and(|o| o.is_empty()) {
            return Ok(Vec::new());
        }
        let filter = only.map(|o| format!(" AND {}", o.sql(1))).unwrap_or_default();
        let ids = only.map(|o| o.binds()).unwrap_or_default();
        let sql = format!(
            "SELECT {cols} FROM videos v JOIN accounts a ON a.id = v.account_id WHERE {disc}{filter}",
            cols = crate::videos::COLS_PUB,
            disc = discoverable()
        );
        let mut q = sqlx::query(&sql);
        for id in &ids {
            q = q.bind(id.clone());
        }
        let rows: Vec<VideoRow> = q.fetch_all(self.pool()).await?.iter().map(crate::videos::row_pub).collect::<Result<_>>()?;
        let sql = format!(
            "SELECT mo.video_id, mo.name, mo.object_key, mo.mime, mo.width, mo.height, mo.bitrate, mo.bytes, mo.sha256 \
             FROM media_objects mo JOIN videos v ON v.id = mo.video_id JOIN accounts a ON a.id = v.account_id \
             WHERE {disc}{filter} ORDER BY mo.video_id, mo.height * mo.width DESC, mo.name",
            disc = discoverable()
        );
        let mut q = sqlx::query(&sql);
        for id in &ids {
            q = q.bind(id.clone());
        }
        let mut objects: std::collections::HashMap<String, Vec<crate::MediaObject>> = std::collections::HashMap::new();
        for r in q.fetch_all(self.pool()).await? {
            objects.entry(col(&r, "video_id")?).or_default().push(crate::videos::media_object(&r)?);
        }
        Ok(rows
            .into_iter()
            .map(|v| {
                let o = objects.remove(v.id.as_str()).unwrap_or_default();
                (v, o)
            })
            .collect())
    }

    /// (viewer, creator) pairs a feed must keep apart: blocks either way, mutes.
    pub async fn feed_hidden_pairs(&self) -> Result<Vec<(Id, Id)>> {
        let rows = sqlx::query(
            "SELECT blocker_id AS a, blocked_id AS b FROM blocks UNION ALL SELECT blocked_id, blocker_id FROM blocks \
             UNION ALL SELECT muter_id, muted_id FROM mutes",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((Id::from_trusted(col(r, "a")?), Id::from_trusted(col(r, "b")?)))).collect()
    }

    /// (viewer, hashtag) pairs: the hashtags each account follows.
    pub async fn feed_tag_follows(&self) -> Result<Vec<(Id, String)>> {
        let rows = sqlx::query("SELECT account_id, tag FROM tag_follows").fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((Id::from_trusted(col(r, "account_id")?), col(r, "tag")?))).collect()
    }

    /// A cheap summary that changes when a block, mute or hashtag follow is made
    /// or undone.
    pub async fn feed_hidden_fingerprint(&self) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n, CAST(COALESCE(SUM(t % 1000000007 + 1), 0) AS BIGINT) AS s FROM \
             (SELECT created_at AS t FROM blocks UNION ALL SELECT created_at + 7 FROM mutes \
              UNION ALL SELECT created_at + 13 FROM tag_follows) x",
        )
        .fetch_one(self.pool())
        .await?;
        Ok((col(&r, "n")?, col(&r, "s")?))
    }
}

/// Synthetic data for `kinora recommend bench`: `creators` + `viewers` accounts,
/// `videos` ready public videos (one hashtag each of `topics`), `events` views
/// spread over the last 30 days. Ids are deterministic from the indexes.
#[derive(Debug, Clone, Copy)]
pub struct Synthetic {
    pub creators: usize,
    pub viewers: usize,
    pub videos: usize,
    pub topics: usize,
    pub events: usize,
}

fn synth_id(kind: char, n: usize) -> String {
    format!("{kind}{n:015}")
}

impl Db {
    /// Seeds [`Synthetic`] data in batches; `progress` gets rows written so far.
    pub async fn seed_synthetic(&self, s: Synthetic, progress: &(dyn Fn(usize) + Sync)) -> Result<()> {
        let now = now_ms();
        let mut done = 0usize;
        const BATCH: usize = 400;
        async fn run_batch(db: &Db, head: &str, rows: &[String]) -> Result<()> {
            if rows.is_empty() {
                return Ok(());
            }
            sqlx::query(&format!("{head} VALUES {}", rows.join(","))).execute(db.pool()).await?;
            Ok(())
        }
        let accounts = s.creators + s.viewers;
        for chunk in (0..accounts).collect::<Vec<_>>().chunks(BATCH) {
            let rows: Vec<String> = chunk.iter().map(|&a| format!("('{}', 'bench{a}', 'x', 'local', {})", synth_id('a', a), now - 40 * 86_400_000)).collect();
            run_batch(self, "INSERT INTO accounts (id, username, password_hash, region, created_at)", &rows).await?;
            done += chunk.len();
            progress(done);
        }
        for chunk in (0..s.videos).collect::<Vec<_>>().chunks(BATCH) {
            let mut rows = Vec::new();
            let mut tags = Vec::new();
            for &v in chunk {
                let created = now - 30 * 86_400_000 + (v as i64 * 30 * 86_400_000) / s.videos.max(1) as i64;
                let creator = v % s.creators.max(1);
                rows.push(format!(
                    "('{}', '{}', 'bench video {v} #t{}', 'public', 'ready', 'local', 'k', 1, {created}, {created}, 15000)",
                    synth_id('v', v),
                    synth_id('a', creator),
                    v % s.topics.max(1),
                ));
                tags.push(format!("('{}', 't{}', {created})", synth_id('v', v), v % s.topics.max(1)));
            }
            run_batch(
                self,
                "INSERT INTO videos (id, account_id, caption, visibility, status, region, original_key, original_bytes, created_at, ready_at, duration_ms)",
                &rows,
            )
            .await?;
            run_batch(self, "INSERT INTO video_tags (video_id, tag, created_at)", &tags).await?;
            done += chunk.len();
            progress(done);
        }
        // Views: each viewer mostly watches one topic (a taste), some of the rest.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for start in (0..s.events).step_by(BATCH) {
            let mut rows = Vec::new();
            for e in start..(start + BATCH).min(s.events) {
                let viewer = (next() as usize) % s.viewers.max(1);
                let taste = viewer % s.topics.max(1);
                let r = next() as usize;
                let video = if r % 10 < 7 {
                    // A video of the viewer's topic.
                    let k = (r / 10) % (s.videos / s.topics.max(1)).max(1);
                    (k * s.topics + taste).min(s.videos - 1)
                } else {
                    (r / 10) % s.videos
                };
                let completed = !r.is_multiple_of(3);
                let t = now - 30 * 86_400_000 + (e as i64 * 30 * 86_400_000) / s.events.max(1) as i64;
                rows.push(format!(
                    "('{}', '{}', '{}', {}, {}, {t}, 0)",
                    synth_id('e', e),
                    synth_id('v', video),
                    synth_id('a', s.creators + viewer),
                    if completed { 15000 } else { 1200 },
                    i64::from(completed)
                ));
            }
            run_batch(self, "INSERT INTO view_events (id, video_id, viewer_id, watched_ms, completed, created_at, replays)", &rows).await?;
            done += rows.len();
            progress(done);
        }
        // Planner statistics, as a database that grew over time would have them.
        sqlx::query("ANALYZE").execute(self.pool()).await?;
        Ok(())
    }
}

/// The id of synthetic viewer `n` (for the benchmark's requests).
pub fn synthetic_viewer(s: &Synthetic, n: usize) -> Id {
    Id::from_trusted(synth_id('a', s.creators + n % s.viewers.max(1)))
}
