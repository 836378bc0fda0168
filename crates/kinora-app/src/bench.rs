//! What `kinora recommend bench` does to an instance, as services: seed synthetic
//! content into an empty database, build For You's model from it and measure the
//! model's upkeep, and the reference the bench compares pages with (an ordered,
//! indexed SQL page: a hashtag's videos). Timing and the table are the binary's.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use kinora_core::Id;
use kinora_db::AccountRepo;
use std::time::{Duration, Instant};

pub use kinora_db::Synthetic;

/// Fills an empty database with `s` (refuses one that holds accounts).
pub async fn seed(st: &AppState, s: Synthetic, progress: &(dyn Fn(usize) + Sync)) -> anyhow::Result<()> {
    if st.db.count_accounts().await? > 0 {
        anyhow::bail!("the database is not empty: give the benchmark a throwaway database");
    }
    st.db.seed_synthetic(s, progress).await?;
    Ok(())
}

/// How long the model took to build and to keep current, and its size.
#[derive(Debug)]
pub struct ModelUpkeep {
    pub rebuild: Duration,
    /// The cards re-read (every 30 s, for counts), and how long pages waited.
    pub cards_reload: Duration,
    pub cards_held: Duration,
    /// Every video re-read (every 30 s, and when another node changed one).
    pub videos_refresh: Duration,
    pub videos_held: Duration,
    pub events: u64,
    pub videos: usize,
    pub model_bytes: usize,
    pub cards_bytes: usize,
}

/// Builds the model from the database and measures its upkeep.
pub async fn build_model(st: &AppState) -> AppResult<ModelUpkeep> {
    let t = Instant::now();
    st.recommender.load(&st.db).await?;
    let rebuild = t.elapsed();
    let (cards_reload, cards_held) = st.recommender.reload_cards(&st.db).await?;
    let t = Instant::now();
    let (_, videos_held) = st.recommender.refresh(&st.db, true).await?;
    let videos_refresh = t.elapsed();
    let (events, videos, model_bytes, cards_bytes) = st.recommender.stats().await;
    Ok(ModelUpkeep { rebuild, cards_reload, cards_held, videos_refresh, videos_held, events, videos, model_bytes, cards_bytes })
}

/// `n` of the synthetic viewers, signed in.
pub async fn viewers(st: &AppState, s: &Synthetic, n: usize) -> AppResult<Vec<Caller>> {
    let mut out = Vec::new();
    for k in 0..n.min(s.viewers) {
        let id = kinora_db::synthetic_viewer(s, k * (s.viewers / n.max(1)).max(1));
        let a = st.db.account_by_id(&id).await?.ok_or_else(|| AppError::internal(format!("no synthetic viewer {id}")))?;
        out.push(Caller { account: Some(a) });
    }
    Ok(out)
}

/// The model's ranking alone, without the policy or the cards.
pub async fn rank_only(st: &AppState, viewer: &Id, size: usize) -> usize {
    st.recommender.rank_only(viewer, size).await
}

/// The reference: one ordered, indexed SQL page (ten of a hashtag's videos, with
/// the policy applied in SQL), the rows only.
pub async fn reference_rows(st: &AppState, caller: &Caller, topic: usize) -> AppResult<usize> {
    let tag = format!("t{topic}");
    Ok(st.db.tag_videos(&tag, caller.id(), None, 10).await?.len())
}
