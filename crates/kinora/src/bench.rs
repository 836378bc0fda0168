//! `kinora recommend bench`: For You's latency and throughput on a synthetic
//! instance, beside an ordered SQL page (a hashtag's videos) as the reference, and
//! through the HTTP router in process. The instance's side is `kinora_app::bench`.

use kinora_app::{bench, config, AppState};

fn app_err(e: kinora_app::AppError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code.as_str(), e.message)
}

/// The `k`-th of `v`, going round.
fn pick<T>(v: &[T], k: usize) -> Option<&T> {
    v.get(k % v.len().max(1))
}

fn bar(template: &str) -> indicatif::ProgressBar {
    crate::bar(template)
}

/// Latency percentiles (ms) and throughput of `n` calls of `f` over `workers` tasks.
async fn time_calls<F, Fut>(n: usize, workers: usize, f: F) -> (f64, f64, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = std::time::Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let f = f.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for k in (w..n).step_by(workers) {
                let t = std::time::Instant::now();
                f(k).await;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap_or_default());
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0.0);
    (pct(0.5), pct(0.99), all.len() as f64 / secs)
}

/// This process's resident memory (Linux `/proc/self/status`), 0 elsewhere.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map_or(0, |kb| kb * 1024)
}

pub async fn recommend(database_url: Option<String>, videos: usize, viewers: usize, events: usize, requests: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("kinora-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut c = config::Config::default();
    c.server.data = dir.clone();
    c.server.database_url = database_url.clone().unwrap_or_default();
    let backend = if database_url.is_some() { "postgres" } else { "sqlite" };
    let st = AppState::open(c, None).await?;
    let s = bench::Synthetic { creators: (videos / 100).max(1), viewers, videos, topics: 50, events };
    let total = s.creators + s.viewers + s.videos + s.events;
    let b = bar("seeding {bar:30} {pos}/{len} rows {elapsed}");
    b.set_length(total as u64);
    bench::seed(&st, s, &|n| b.set_position(n as u64)).await?;
    b.finish_and_clear();
    // What the poller does every 30 s too: re-read the cards (counts) and every
    // video (also when another node changed one): how long, and how long pages wait.
    let m = bench::build_model(&st).await.map_err(app_err)?;
    let callers = std::sync::Arc::new(bench::viewers(&st, &s, 200).await.map_err(app_err)?);
    let topics = s.topics;
    let workers = 2;
    // A warm-up (caches, the allocator, the CPU's clock): the first pass after
    // loading measured about half as fast as the same pass repeated.
    let (st0, c0) = (st.clone(), callers.clone());
    time_calls(requests / 2, workers, move |k| {
        let (st, c) = (st0.clone(), c0.clone());
        async move {
            let Some(caller) = pick(&c, k) else { return };
            let _ = kinora_app::recommend::for_you(&st, caller, None, None, 10).await;
        }
    })
    .await;
    let (st1, c1) = (st.clone(), callers.clone());
    let model = time_calls(requests, workers, move |k| {
        let (st, c) = (st1.clone(), c1.clone());
        async move {
            let Some(id) = pick(&c, k).and_then(|c| c.id()) else { return };
            bench::rank_only(&st, id, 10).await;
        }
    })
    .await;
    let (st2, c2) = (st.clone(), callers.clone());
    let full = time_calls(requests, workers, move |k| {
        let (st, c) = (st2.clone(), c2.clone());
        async move {
            let Some(caller) = pick(&c, k) else { return };
            if let Ok(page) = kinora_app::recommend::for_you(&st, caller, None, None, 10).await {
                let _ = serde_json::to_vec(&page);
            }
        }
    })
    .await;
    let (st3, c3) = (st.clone(), callers.clone());
    let reference = time_calls(requests, workers, move |k| {
        let (st, c) = (st3.clone(), c3.clone());
        async move {
            let Some(caller) = pick(&c, k) else { return };
            let _ = bench::reference_rows(&st, caller, k % topics).await;
        }
    })
    .await;
    let (st4, c4) = (st.clone(), callers.clone());
    let reference_page = time_calls(requests, workers, move |k| {
        let (st, c) = (st4.clone(), c4.clone());
        async move {
            let Some(caller) = pick(&c, k) else { return };
            if let Ok(page) = kinora_app::feeds::tag_videos(&st, caller, &format!("t{}", k % topics), &kinora_app::views::PageRequest::first(10)).await {
                let _ = serde_json::to_vec(&page);
            }
        }
    })
    .await;
    // The same pages through the HTTP router in process (no sockets): routing,
    // extractors, authentication, JSON; the floor is /healthz (one database ping).
    let mut tokens = Vec::new();
    for c in callers.iter().take(50) {
        if let Some(a) = &c.account {
            tokens.push(kinora_app::accounts::create_api_token(&st, a, ("127.0.0.1", "bench")).await.map_err(|e| anyhow::anyhow!("{}", e.message))?);
        }
    }
    let tokens = std::sync::Arc::new(tokens);
    let router = kinora_http::router(st.clone());
    let http = |path: &'static str, signed_in: bool| {
        let (router, tokens) = (router.clone(), tokens.clone());
        move |k: usize| {
            let (mut router, tokens) = (router.clone(), tokens.clone());
            async move {
                let mut req = axum::http::Request::get(path);
                if let Some(token) = pick(&tokens, k).filter(|_| signed_in) {
                    req = req.header("authorization", format!("Bearer {token}"));
                }
                let Ok(mut req) = req.body(axum::body::Body::empty()) else {
                    return;
                };
                // A different client address per request, as from many phones.
                let addr = std::net::SocketAddr::from(([10, (k >> 16) as u8, (k >> 8) as u8, k as u8], 40000));
                req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
                let Ok(r) = tower::Service::call(&mut router, req).await;
                let _ = http_body_util::BodyExt::collect(r.into_body()).await;
            }
        }
    };
    for (path, signed_in) in [("/healthz", false), ("/api/v1/feed/for-you?limit=10", false), ("/api/v1/feed/for-you?limit=10", true)] {
        // Each kind of request must answer 200 with a body, or its row means nothing.
        let mut req = axum::http::Request::get(path);
        if signed_in {
            req = req.header("authorization", format!("Bearer {}", tokens.first().cloned().unwrap_or_default()));
        }
        let mut req = req.body(axum::body::Body::empty())?;
        req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([10, 9, 9, 9], 40000))));
        let Ok(r) = tower::Service::call(&mut router.clone(), req).await;
        let status = r.status();
        let body = http_body_util::BodyExt::collect(r.into_body()).await?.to_bytes();
        if status != axum::http::StatusCode::OK {
            anyhow::bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&body));
        }
    }
    let http_floor = time_calls(requests, workers, http("/healthz", false)).await;
    let http_anon = time_calls(requests, workers, http("/api/v1/feed/for-you?limit=10", false)).await;
    let http_token = time_calls(requests, workers, http("/api/v1/feed/for-you?limit=10", true)).await;
    println!("For You on {backend}: {videos} videos, {viewers} viewers, {events} views; {requests} pages of 10 per row, {workers} concurrent");
    println!(
        "model rebuilt from the database in {:.1} s: {} events, {} videos; model {:.0} MiB, cards {:.0} MiB; process resident {:.0} MiB",
        m.rebuild.as_secs_f64(),
        m.events,
        m.videos,
        m.model_bytes as f64 / 1048576.0,
        m.cards_bytes as f64 / 1048576.0,
        resident_bytes() as f64 / 1048576.0
    );
    println!(
        "cards re-read (every 30 s, for counts) in {:.2} s, pages held for {:.1} ms of it",
        m.cards_reload.as_secs_f64(),
        m.cards_held.as_secs_f64() * 1000.0
    );
    println!(
        "every video re-read (every 30 s, and when another node changed one) in {:.2} s, pages held for {:.1} ms of it",
        m.videos_refresh.as_secs_f64(),
        m.videos_held.as_secs_f64() * 1000.0
    );
    println!("{:<52} {:>9} {:>9} {:>10} {:>8}", "", "p50 ms", "p99 ms", "pages/s", "vs SQL");
    for (name, (p50, p99, rps)) in [
        ("reference: SQL hashtag page, rows (indexed query)", reference),
        ("reference: SQL hashtag page (query + views + JSON)", reference_page),
        ("recommender: ranking only (in memory)", model),
        ("recommender: whole page (rank, policy, cards, JSON)", full),
        ("HTTP in process: GET /healthz (floor: one DB ping)", http_floor),
        ("HTTP in process: For You, signed out", http_anon),
        ("HTTP in process: For You, API token (token query)", http_token),
    ] {
        println!("{name:<52} {p50:>9.2} {p99:>9.2} {rps:>10.0} {:>7.2}x", rps / reference.2.max(1e-9));
    }
    drop(st);
    if std::env::var_os("KINORA_BENCH_KEEP").is_some() {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
