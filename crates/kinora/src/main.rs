//! `kinora`: the one binary. `serve` runs the HTTP server and, by default, the
//! background workers; `worker` runs workers only; `migrate` applies migrations.

mod api;
mod app;
mod auth;
mod config;
mod demo;
mod error;
mod media;
mod social;
mod storage;
mod tus;
mod ui;
mod worker;

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Kinora: a self-hostable short-video platform.
#[derive(Parser)]
#[command(name = "kinora", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (JSON API, web UI, media) and background workers.
    Serve(ServeArgs),
    /// Run background workers only (for separate worker machines).
    Worker(CommonArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(CommonArgs),
    /// Media tools for operators.
    #[command(subcommand)]
    Media(MediaCommand),
}

#[derive(Subcommand)]
enum MediaCommand {
    /// Re-transcode videos from their originals with the current profiles and limits.
    /// Work is queued as jobs, so an interrupted run resumes where it stopped when
    /// run again (a running `kinora serve` also helps with the queue).
    Reprocess {
        #[command(flatten)]
        common: CommonArgs,
        /// Every ready or failed video.
        #[arg(long, conflicts_with = "videos")]
        all: bool,
        /// Parallel transcodes in this process.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Video ids (none with --all; none at all resumes an interrupted run).
        videos: Vec<String>,
    },
    /// Probe a file and print, as JSON, what Kinora would do with it: the verdict of
    /// the limits and the exact ffmpeg argv it would run (nothing is transcoded).
    Explain {
        #[command(flatten)]
        common: CommonArgs,
        /// The file to examine.
        file: PathBuf,
        /// Directory the argv writes its renditions into.
        #[arg(long, default_value = ".")]
        output: PathBuf,
    },
}

#[derive(Args, Clone)]
struct CommonArgs {
    /// Data directory: SQLite database, region folders, scratch space.
    #[arg(long, env = "KINORA_DATA")]
    data: Option<PathBuf>,
    /// Database URL (`postgres://...`); default: a SQLite file in the data directory.
    #[arg(long, env = "KINORA_DATABASE_URL")]
    database_url: Option<String>,
    /// Configuration file (TOML); see kinora.example.toml.
    #[arg(long, env = "KINORA_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "KINORA_LISTEN")]
    listen: Option<String>,
    /// Public base URL used in share links, e.g. https://kinora.example.org.
    #[arg(long, env = "KINORA_BASE_URL")]
    base_url: Option<String>,
    /// Seed demo accounts and videos into an empty instance.
    #[arg(long, env = "KINORA_DEMO")]
    demo: bool,
    /// Background workers to run in this process (0: none).
    #[arg(long, env = "KINORA_WORKERS")]
    workers: Option<usize>,
}

fn load(common: &CommonArgs) -> anyhow::Result<config::Config> {
    let mut c = config::Config::load(common.config.as_deref())?;
    if let Some(d) = &common.data {
        c.server.data = d.clone();
    }
    if let Some(u) = &common.database_url {
        c.server.database_url = u.clone();
    }
    Ok(c)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KINORA_LOG")
                .unwrap_or_else(|_| "info,tower_http=warn,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve(a) => {
                let mut c = load(&a.common)?;
                if let Some(l) = a.listen {
                    c.server.listen = l;
                }
                if let Some(b) = a.base_url {
                    c.server.base_url = b;
                }
                if let Some(w) = a.workers {
                    c.server.workers = w;
                }
                c.server.demo |= a.demo;
                serve(c).await
            }
            Command::Worker(a) => {
                let c = load(&a)?;
                let st = state(c, None).await?;
                let n = st.config.server.workers.max(1);
                let mut set = tokio::task::JoinSet::new();
                for i in 0..n {
                    set.spawn(worker::run(st.clone(), i));
                }
                tokio::select! {
                    _ = set.join_next() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                Ok(())
            }
            Command::Media(MediaCommand::Reprocess { common, all, jobs, videos }) => reprocess(load(&common)?, all, jobs, videos).await,
            Command::Media(MediaCommand::Explain { common, file, output }) => {
                let c = load(&common)?;
                let tools = kinora_media::Tools { ffmpeg: c.media.ffmpeg.clone(), ffprobe: c.media.ffprobe.clone() };
                let file = std::fs::canonicalize(&file)?;
                let bytes = std::fs::metadata(&file)?.len();
                let cwd = std::env::current_dir()?;
                let limits = kinora_media::ProcessLimits::default();
                let probe = kinora_media::probe::run_probe(&tools, &file, &cwd, limits).await;
                let report = match probe {
                    Err(e) => serde_json::json!({"verdict": "rejected", "reason": e.to_string()}),
                    Ok(p) => match c.limits.validate(&p, bytes) {
                        Err(e) => serde_json::json!({"verdict": "rejected", "code": e.code(), "reason": e.to_string()}),
                        Ok(v) => {
                            let rungs = kinora_media::transcode::ladder(&v);
                            let paths: Vec<PathBuf> = rungs
                                .iter()
                                .map(|r| output.join(format!("{}p.mp4", r.short_edge())))
                                .collect();
                            let outputs: Vec<(&std::path::Path, kinora_media::transcode::Rendition)> =
                                paths.iter().map(PathBuf::as_path).zip(rungs.iter().copied()).collect();
                            let argv: Vec<String> = kinora_media::transcode::transcode_args(&file, &v, &outputs)
                                .into_iter()
                                .map(|a| a.to_string_lossy().into_owned())
                                .collect();
                            serde_json::json!({
                                "verdict": "accepted",
                                "source": {"width": v.width, "height": v.height, "duration_secs": v.duration_secs, "fps": v.fps, "audio": v.has_audio},
                                "renditions": rungs.iter().map(|r| serde_json::json!({"width": r.width, "height": r.height, "fps": f64::from(r.fps_milli) / 1000.0, "max_video_bitrate": r.max_video_bitrate})).collect::<Vec<_>>(),
                                "ffmpeg": tools.ffmpeg, "argv": argv,
                            })
                        }
                    },
                };
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Migrate(a) => {
                let c = load(&a)?;
                std::fs::create_dir_all(&c.server.data)?;
                let db = kinora_db::Db::connect(&c.database_url()).await?;
                db.migrate().await?;
                println!("database is up to date");
                Ok(())
            }
        }
    })
}

async fn state(mut c: config::Config, addr: Option<SocketAddr>) -> anyhow::Result<app::AppState> {
    std::fs::create_dir_all(&c.server.data)?;
    // Absolute from here on: subprocesses run inside job directories, where a
    // relative path (the default `./kinora-data`) would point somewhere else.
    c.server.data = std::fs::canonicalize(&c.server.data)
        .map_err(|e| anyhow::anyhow!("data directory {}: {e}", c.server.data.display()))?;
    let db = kinora_db::Db::connect(&c.database_url()).await?;
    db.migrate().await?;
    let regions = storage::Regions::local(&c.server.data, &[c.server.region.as_str()])?;
    let base_url = if !c.server.base_url.is_empty() {
        c.server.base_url.trim_end_matches('/').to_owned()
    } else {
        format!("http://{}", addr.map(|a| a.to_string()).unwrap_or_else(|| c.server.listen.clone()))
    };
    let isolate_network = c.media.isolate_network && kinora_media::process::network_isolation_available().await;
    if c.media.isolate_network && !isolate_network {
        tracing::warn!("cannot give ffmpeg an empty network namespace here (needs root); relying on its protocol whitelist");
    }
    let sandbox_user = kinora_media::process::sandbox_user();
    if sandbox_user.is_some() {
        protect_data_dir(&c.server.data)?;
    }
    let proxies = kinora_core::net::TrustedProxies::parse(&c.server.trusted_proxies)
        .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))?;
    let passwords = auth::Passwords::new(c.auth.max_concurrent_password_checks, std::time::Duration::from_secs(5));
    let dummy_hash = passwords.hash("not-a-real-password".into()).await.map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(app::AppState {
        db,
        limiters: Arc::new(app::Limiters::new(&c.rate_limits, &c.uploads)),
        tools: kinora_media::Tools { ffmpeg: c.media.ffmpeg.clone(), ffprobe: c.media.ffprobe.clone() },
        regions,
        wake: Arc::new(tokio::sync::Notify::new()),
        base_url,
        dummy_hash: Arc::new(dummy_hash),
        isolate_network,
        sandbox_user,
        busy_uploads: Arc::new(tus::Busy::default()),
        proxies: Arc::new(proxies),
        passwords: Arc::new(passwords),
        avatar_slots: Arc::new(tokio::sync::Semaphore::new(2)),
        config: Arc::new(c),
    })
}

/// When running as root, media tools run as `nobody`: they may pass through the
/// data directory to their own scratch directory, and read nothing else in it (the
/// database, region stores, uploads in flight).
fn protect_data_dir(data: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let set = |p: &std::path::Path, mode: u32| -> anyhow::Result<()> {
        if p.exists() {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        }
        Ok(())
    };
    set(data, 0o711)?;
    std::fs::create_dir_all(data.join("work"))?;
    set(&data.join("work"), 0o711)?;
    for private in ["regions", "uploads", "staging"] {
        std::fs::create_dir_all(data.join(private))?;
        set(&data.join(private), 0o700)?;
    }
    for db in ["kinora.sqlite3", "kinora.sqlite3-wal", "kinora.sqlite3-shm"] {
        set(&data.join(db), 0o600)?;
    }
    Ok(())
}

async fn reprocess(c: config::Config, all: bool, jobs: usize, videos: Vec<String>) -> anyhow::Result<()> {
    use kinora_db::{JobKind, JobQueue, VideoRepo};
    let st = state(c, None).await?;
    let ids: Vec<kinora_core::Id> = if all {
        st.db.reprocessable_videos().await?
    } else {
        videos
            .iter()
            .map(|v| kinora_core::Id::parse(v).ok_or_else(|| anyhow::anyhow!("{v:?} is not a video id")))
            .collect::<anyhow::Result<_>>()?
    };
    // Operator work shares one fair-share slot with every account's uploads, so a
    // reprocess of the whole library does not hold new uploads back.
    let operator = kinora_core::Id::from_trusted("operator".to_owned());
    let mut queued = 0;
    for id in &ids {
        if !st.db.video_exists(id).await? {
            anyhow::bail!("no video {id}");
        }
        if st.db.enqueue_unique(JobKind::Reprocess, Some(&operator), &serde_json::json!({ "video_id": id.as_str() })).await? {
            queued += 1;
        }
    }
    let total = st.db.pending_jobs(JobKind::Reprocess).await?;
    eprintln!("{queued} videos queued; {total} to reprocess (including earlier unfinished runs)");
    if total == 0 {
        return Ok(());
    }
    let mut set = tokio::task::JoinSet::new();
    for i in 0..jobs.max(1) {
        set.spawn(worker::run(st.clone(), i));
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} reprocessing [{bar:40}] {pos}/{len} videos, {elapsed} elapsed, ~{eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    loop {
        let pending = st.db.pending_jobs(JobKind::Reprocess).await?;
        bar.set_position((total - pending.min(total)) as u64);
        if pending == 0 {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            _ = tokio::signal::ctrl_c() => {
                bar.abandon_with_message("interrupted");
                eprintln!("interrupted: run `kinora media reprocess` again to resume");
                return Ok(());
            }
        }
    }
    bar.finish();
    set.abort_all();
    Ok(())
}

/// Removes what a crashed process left on this node: multipart staging files and
/// job scratch directories (no request or worker of this process exists yet), and
/// originals that no video owns after an hour (a crash between storing an upload and
/// creating its video).
async fn startup_cleanup(st: &app::AppState) {
    for dir in ["staging", "work"] {
        let p = st.data_dir().join(dir);
        if p.exists() {
            if let Err(e) = std::fs::remove_dir_all(&p) {
                tracing::warn!(error = %e, dir = %p.display(), "could not clear scratch space");
            }
        }
    }
    let region = st.config.server.region.clone();
    let Ok(store) = st.regions.get(&region) else { return };
    let cutoff = kinora_db::now_ms() - 3_600_000;
    match storage::list(store, "originals").await {
        Ok(keys) => {
            for (k, modified) in keys {
                let id = k.rsplit('/').next().and_then(kinora_core::Id::parse);
                let Some(id) = id else { continue };
                if modified > cutoff {
                    continue;
                }
                let owned = kinora_db::VideoRepo::video_exists(&st.db, &id).await.unwrap_or(true);
                if !owned {
                    tracing::info!(key = %k, "removing an original no video owns");
                    let _ = storage::delete(store, &k).await;
                }
            }
        }
        Err(e) => tracing::warn!(error = format!("{e:#}"), "could not list originals"),
    }
}

async fn serve(c: config::Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&c.server.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", c.server.listen))?;
    let addr = listener.local_addr()?;
    let st = state(c, Some(addr)).await?;
    startup_cleanup(&st).await;
    for i in 0..st.config.server.workers {
        tokio::spawn(worker::run(st.clone(), i));
    }
    if st.config.server.demo {
        let st2 = st.clone();
        tokio::spawn(async move {
            if let Err(e) = demo::seed(&st2).await {
                tracing::error!(error = format!("{e:#}"), "seeding demo content failed");
            }
        });
    }
    {
        let st = st.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(std::time::Duration::from_secs(60));
            let mut minutes = 0u64;
            loop {
                t.tick().await;
                st.limiters.forget_idle();
                if let Err(e) = tus::sweep(&st).await {
                    tracing::error!(error = format!("{e:#}"), "upload housekeeping failed");
                }
                if minutes.is_multiple_of(60) {
                    if let Err(e) = retention(&st).await {
                        tracing::error!(error = format!("{e:#}"), "retention sweep failed");
                    }
                }
                minutes += 1;
            }
        });
    }
    let base = st.base_url.clone();
    let server = st.config.server.clone();
    let router = app::router(st);
    // Tests and scripts read this line to find the port.
    println!("kinora listening on http://{addr}");
    tracing::info!(%addr, %base, "serving");
    serve_http(listener, router, &server).await
}

/// Deletes what is kept only for a while: expired tokens and sessions, old view
/// events and notifications, finished jobs (`[retention]`).
async fn retention(st: &app::AppState) -> anyhow::Result<()> {
    use kinora_db::{JobQueue, TokenRepo};
    let r = &st.config.retention;
    let now = kinora_db::now_ms();
    let day = 86_400_000i64;
    let tokens = st.db.delete_expired_tokens().await?;
    let (views, notes) = st
        .db
        .forget_old_activity(now - r.view_events_days.max(1) * day, now - r.notifications_days.max(1) * day)
        .await?;
    let jobs = st.db.forget_finished_jobs(now - r.finished_jobs_days.max(1) * day).await?;
    tracing::info!(tokens, view_events = views, notifications = notes, jobs, "retention sweep");
    Ok(())
}

/// The HTTP server: hyper's HTTP/1 with a header-read timeout (which also closes
/// idle kept-alive connections), a body timeout between chunks, and a cap on open
/// connections, so slow or stalled clients cannot hold the server (slowloris).
async fn serve_http(listener: tokio::net::TcpListener, router: axum::Router, cfg: &config::Server) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.max_connections.max(1)));
    let header_timeout = std::time::Duration::from_secs(cfg.header_timeout_secs.max(1));
    let body_timeout = std::time::Duration::from_secs(cfg.body_timeout_secs.max(1));
    let shutdown = tokio::signal::ctrl_c();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p?,
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let router = router.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(|b| axum::body::Body::new(tower_http::timeout::TimeoutBody::new(body_timeout, b)));
                req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                let mut r = router.clone();
                async move { tower::Service::call(&mut r, req).await }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
        });
    }
    Ok(())
}
