//! `kinora`: the one binary. `serve` runs the HTTP server and, by default, the
//! background workers; `worker` runs workers only; `migrate` applies migrations.

//!
//! The application is `kinora_app`; HTTP is `kinora_http`; this crate is the command
//! line, the wiring and telemetry.

mod bench;

use clap::{Args, Parser, Subcommand};
use kinora_app::{config, demo, housekeeping, worker, AppState};
use std::path::PathBuf;

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
    /// Checks that prove what Kinora claims.
    #[command(subcommand)]
    Verify(VerifyCommand),
    /// Encrypted backups of the database in the backup region.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// The instance's keys (docs/operations.md, "Keys").
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Account administration.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Staff roles (every grant and revoke is an entry in the public transparency log).
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Operator access to an account's data, logged in the public transparency log first.
    #[command(subcommand)]
    Access(AccessCommand),
    /// The For You recommender: offline evaluation and simulation.
    #[command(subcommand)]
    Recommend(RecommendCommand),
    /// Recreates an account from a Kinora export archive: profile and videos (which
    /// go through the normal pipeline), captions, visibility and comment settings
    /// kept. The account is made (with a printed random password) if it is new.
    Import {
        #[command(flatten)]
        common: CommonArgs,
        /// The export ZIP.
        archive: PathBuf,
        /// The account to import into.
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum RecommendCommand {
    /// Replays an interaction log through the online model and the baselines
    /// (MostPop, ItemKNN, EASE): leave-last-out, full ranking, HR@10 and NDCG@10,
    /// every model tuned on the validation split (each user's second-to-last item).
    Eval {
        /// MovieLens-100K `u.data`, or `ml-100k.inter` from the recbole 1.2.1 wheel.
        #[arg(long)]
        movielens: PathBuf,
        /// Print `{"models": [...]}`.
        #[arg(long)]
        json: bool,
        /// Skip the online model's grid search (use the default parameters).
        #[arg(long)]
        quick: bool,
        /// Override a model parameter, e.g. `--set a_co=3 --set tau_edges_days=14`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Serving benchmark: seeds a throwaway database with synthetic videos, viewers
    /// and views, rebuilds the model, then times For You pages beside an ordered SQL page
    /// (a hashtag's videos). Prints a table.
    Bench {
        /// A PostgreSQL database to fill (must be empty); default: SQLite in a
        /// temporary directory.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 100_000)]
        videos: usize,
        #[arg(long, default_value_t = 10_000)]
        viewers: usize,
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Pages requested per measurement.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// A synthetic population driving the real ranking code: personalised,
    /// non-personalised and random feeds side by side.
    Simulate {
        /// Print `{"feeds": [...], "new_video_impressions": N}`.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 200)]
        viewers: usize,
        #[arg(long, default_value_t = 1200)]
        videos: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum AccessCommand {
    /// Writes an account's full export archive for a legal request, after logging it.
    Export {
        #[command(flatten)]
        common: CommonArgs,
        /// The account whose data is requested.
        #[arg(long)]
        subject: String,
        /// Why: normally `legal-request`.
        #[arg(long, default_value = "legal-request")]
        reason: kinora_core::moderation::AccessReason,
        /// The case, order or ticket this answers (public in the log, unless redacted).
        #[arg(long)]
        reference: String,
        /// Where to write the ZIP (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Put only a commitment to the reference in the public log (also the default
        /// with `[transparency] redact_legal_references = true`).
        #[arg(long)]
        redact_reference: bool,
    },
    /// Discloses the reference behind a redacted log entry, with how anyone checks it.
    Reveal {
        #[command(flatten)]
        common: CommonArgs,
        /// The log entry's index.
        index: u64,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Makes an account a moderator or an admin.
    Grant {
        #[command(flatten)]
        common: CommonArgs,
        username: String,
        /// `moderator` or `admin`.
        #[arg(long)]
        role: kinora_core::moderation::StaffRole,
    },
    /// Takes an account's staff role away.
    Revoke {
        #[command(flatten)]
        common: CommonArgs,
        username: String,
    },
    /// Lists the staff.
    List {
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Moves an account's home region: its objects are copied to the new region and
    /// that region's backup, verified, then removed from where they were.
    Move {
        #[command(flatten)]
        common: CommonArgs,
        /// The account.
        username: String,
        /// The new home region (a configured region).
        #[arg(long)]
        region: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Writes every key of this instance into FILE, sealed with a passphrase
    /// (KINORA_KEYS_PASSPHRASE, else asked on the terminal): the escrow that
    /// `kinora backup restore ID --keys-from FILE` rebuilds an instance with when
    /// the machine holding the keys is lost. Keep it apart from the backups.
    Export {
        #[command(flatten)]
        common: CommonArgs,
        /// Where to write it (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Writes a consistent, encrypted backup of the database to the backup region
    /// (each account's rows under its own key). Works while the server runs.
    Create {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Lists the backups in the backup region.
    List {
        #[command(flatten)]
        common: CommonArgs,
        /// Print `[{"id", "created_at", "bytes", "region"}]`.
        #[arg(long)]
        json: bool,
    },
    /// Restores a backup into an empty instance (a new --data and --database-url),
    /// then erases again every account in the erasure journal.
    Restore {
        #[command(flatten)]
        common: CommonArgs,
        /// The backup to restore (see `kinora backup list`).
        id: String,
        /// The key directory that made the backup (a copy of `<data>/keys`): installed
        /// into this instance's key directory. A key already there that differs is
        /// refused. Default: this instance's own keys.
        #[arg(long, conflicts_with = "keys_from")]
        keys: Option<PathBuf>,
        /// A key escrow written by `kinora keys export` (passphrase from
        /// KINORA_KEYS_PASSPHRASE, else asked).
        #[arg(long)]
        keys_from: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum VerifyCommand {
    /// Lists every region's store and checks it against the database: each object of
    /// an account is in its home region and its backup region and nowhere else, every
    /// replica exists with the right size and hash, nothing unknown is stored. Exits 0
    /// only when all holds; works while the server runs.
    Residency {
        #[command(flatten)]
        common: CommonArgs,
        /// Print `{"ok", "regions", "violations"}` as JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Queue a verified copy for every missing replica whose home copy exists
        /// (a running server's workers make them; check again after); then list the
        /// objects the database does not know (unknown objects, an erased account's
        /// remnants, noncurrent versions) and remove them once you confirm. Nothing
        /// else ever removes an object for being unknown.
        #[arg(long)]
        repair: bool,
        /// With --repair: remove without asking (for scripts).
        #[arg(long, requires = "repair")]
        yes: bool,
    },
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
    kinora_app::state::private_files();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KINORA_LOG").unwrap_or_else(|_| "info,tower_http=warn,sqlx=warn".into()))
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal; plain text for files and journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
                let st = AppState::open(c, None).await?;
                let n = st.config().server.workers.max(1);
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
            Command::Verify(VerifyCommand::Residency { common, json, repair, yes }) => verify_residency(load(&common)?, json, repair, yes).await,
            Command::Backup(cmd) => backup(cmd).await,
            Command::Keys(KeysCommand::Export { common, out }) => {
                let c = load(&common)?;
                // Only this instance's own keys (checked against its database) are exported.
                let st = AppState::open_existing(c).await?;
                let pass = passphrase("a passphrase for the key escrow (at least 12 characters)")?;
                let n = kinora_app::keys::export(&st.config().keys_dir(), &pass, &out)?;
                println!("{n} key files sealed into {}; keep it apart from the backups, with its passphrase", out.display());
                Ok(())
            }
            Command::Access(AccessCommand::Export { common, subject, reason, reference, out, redact_reference }) => {
                let st = AppState::open(load(&common)?, None).await?;
                let idx = kinora_app::staff::legal_export(&st, &subject, reason, &reference, &out, redact_reference).await?;
                println!("logged as entry {idx}; @{subject}'s data written to {}", out.display());
                Ok(())
            }
            Command::Access(AccessCommand::Reveal { common, index }) => {
                let st = AppState::open_existing(load(&common)?).await?;
                let (public, nonce, reference) = kinora_app::staff::reveal(&st, index).await?;
                println!("entry {index}: reference {reference:?}");
                println!("the log shows {public}; check: printf '%s:%s' '{nonce}' '{}' | sha256sum", reference.replace('\'', "'\\''"));
                Ok(())
            }
            Command::Staff(cmd) => match cmd {
                StaffCommand::Grant { common, username, role } => {
                    let st = AppState::open(load(&common)?, None).await?;
                    match kinora_app::staff::grant(&st, &username, role).await? {
                        Some(idx) => println!("@{username} is now {role} (log entry {idx})"),
                        None => println!("@{username} is {role} already; nothing changed"),
                    }
                    Ok(())
                }
                StaffCommand::Revoke { common, username } => {
                    let st = AppState::open(load(&common)?, None).await?;
                    let idx = kinora_app::staff::revoke(&st, &username).await?;
                    println!("@{username} is no longer staff (log entry {idx})");
                    Ok(())
                }
                StaffCommand::List { common } => {
                    let st = AppState::open_existing(load(&common)?).await?;
                    for s in kinora_app::staff::list(&st).await? {
                        println!("{:<30} {:<10} since {}", s.username, s.role, kinora_app::views::rfc3339(s.granted_at));
                    }
                    Ok(())
                }
            },
            Command::Accounts(AccountsCommand::Move { common, username, region }) => {
                let st = AppState::open(load(&common)?, None).await?;
                let bar = bar("{spinner} moving [{bar:40}] {pos}/{len} objects, {elapsed}");
                let n = kinora_app::moves::move_account(&st, &username, &region, &|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await?;
                bar.finish_and_clear();
                println!("@{username} now lives in {region} ({n} objects moved)");
                Ok(())
            }
            Command::Recommend(RecommendCommand::Bench { database_url, videos, viewers, events, requests }) => {
                bench::recommend(database_url, videos, viewers, events, requests).await
            }
            Command::Recommend(cmd) => recommend(cmd),
            Command::Import { common, archive, username } => {
                let st = AppState::open(load(&common)?, None).await?;
                match kinora_app::imports::import_cli(&st, &archive, &username).await {
                    Ok((done, password)) => {
                        println!("imported {} videos into @{}; they are processing (a running server's workers do it)", done.videos.len(), done.username);
                        if let Some(p) = password {
                            println!("new account @{}: password {p} (change it in settings)", done.username);
                        }
                        Ok(())
                    }
                    Err(e) => Err(anyhow::anyhow!("{}: {}", e.code.as_str(), e.message)),
                }
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

fn recommend(cmd: RecommendCommand) -> anyhow::Result<()> {
    use kinora_recommend::{eval, sim};
    match cmd {
        RecommendCommand::Eval { movielens, json, quick, set } => {
            let mut base = kinora_recommend::Params::default();
            for kv in &set {
                let (k, v) = kv.split_once('=').ok_or_else(|| anyhow::anyhow!("--set {kv}: KEY=VALUE"))?;
                base.set(k.trim(), v.trim()).map_err(|e| anyhow::anyhow!("--set: {e}"))?;
            }
            let text = std::fs::read_to_string(&movielens).map_err(|e| anyhow::anyhow!("{}: {e}", movielens.display()))?;
            let log = eval::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", movielens.display()))?;
            let b = bar("{msg} [{bar:30}] {pos}/{len} {elapsed}");
            b.set_message(format!("{} users, {} items, {} interactions", log.users, log.items, log.events.len()));
            if json {
                b.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let started = std::time::Instant::now();
            let models = eval::run(&log, &base, !quick, &|done, total| {
                b.set_length(total as u64);
                b.set_position(done as u64);
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            b.finish_and_clear();
            if json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "models": models }))?);
            } else {
                println!(
                    "{} users, {} items, {} interactions; leave-last-out, full ranking ({:.0} s)",
                    log.users,
                    log.items,
                    log.events.len(),
                    started.elapsed().as_secs_f64()
                );
                println!("{:<16} {:>7} {:>8} {:>10}  tuned on validation", "model", "online", "HR@10", "NDCG@10");
                for m in &models {
                    println!("{:<16} {:>7} {:>8.4} {:>10.4}  {}", m.name, m.online, m.hr_at_10, m.ndcg_at_10, m.tuned);
                }
            }
            Ok(())
        }
        RecommendCommand::Bench { .. } => unreachable!("run by recommend_bench"),
        RecommendCommand::Simulate { json, viewers, videos, seed } => {
            let c = sim::SimConfig { viewers, videos, seed, ..sim::SimConfig::default() };
            let r = sim::simulate(&c);
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("{viewers} viewers, {videos} videos, {} topics, {} swipes each", c.topics, c.swipes);
                println!("{:<18} {:>16} {:>10} {:>10} {:>10}", "feed", "watch s/session", "fav@10", "fav@50", "fav@200");
                for f in &r.feeds {
                    let g = |k: &str| f.favourite_share.get(k).copied().unwrap_or(0.0);
                    println!("{:<18} {:>16.1} {:>10.2} {:>10.2} {:>10.2}", f.name, f.watch_time_per_session_s, g("10"), g("50"), g("200"));
                }
                println!(
                    "a new creator's first video: {} impressions in the next {} personalised page requests",
                    r.new_video_impressions, r.new_video_requests
                );
            }
            Ok(())
        }
    }
}

fn bar(template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()).progress_chars("=> "));
    bar
}

async fn backup(cmd: BackupCommand) -> anyhow::Result<()> {
    match cmd {
        BackupCommand::Create { common } => {
            let st = AppState::open(load(&common)?, None).await?;
            let bar = bar("{spinner} {msg} [{bar:40}] {pos}/{len}, {elapsed}");
            let info = kinora_app::backup::create(&st, &|step, done, total| {
                bar.set_message(step.to_owned());
                bar.set_length(total.max(done));
                bar.set_position(done);
            })
            .await?;
            bar.finish_and_clear();
            println!("backup {} written to region {} ({} bytes)", info.id, info.region, info.bytes);
            let n = kinora_app::keys::unescrowed(&st.config().keys_dir());
            if n > 0 {
                eprintln!(
                    "reminder: {n} key files are not in a key escrow yet (new accounts make keys). Without them this backup cannot be restored if {} is lost: run `kinora keys export --out FILE` and keep FILE apart from the backups",
                    st.config().keys_dir().display()
                );
            }
        }
        BackupCommand::List { common, json } => {
            // Read-only: no database, no keys (it runs in an empty data directory
            // during a disaster recovery, before the restore).
            let c = load(&common)?;
            let list = kinora_app::backup::list(&kinora_app::state::regions(&c)?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no backups yet: `kinora backup create` makes one");
            } else {
                println!("{:<28} {:<26} {:>12}  region", "id", "created", "bytes");
                for b in &list {
                    println!("{:<28} {:<26} {:>12}  {}", b.id, b.created_at, b.bytes, b.region);
                }
            }
        }
        BackupCommand::Restore { common, id, keys, keys_from } => {
            let c = load(&common)?;
            let given = match (keys, keys_from) {
                (Some(dir), _) => Some(kinora_app::keys::read_dir(&dir)?),
                (None, Some(file)) => Some(kinora_app::keys::open_escrow(&file, &passphrase("the key escrow's passphrase")?)?),
                (None, None) => None,
            };
            if let Some(k) = given {
                kinora_app::keys::install(&c.keys_dir(), &k)?;
            }
            // Never makes keys: without the ones that made the backup it cannot be read.
            let st = AppState::open_existing(c).await?;
            let bar = bar("{spinner} {msg} [{bar:40}] {pos}/{len}, {elapsed}");
            let r = kinora_app::backup::restore(&st, &id, &|step, done, total| {
                bar.set_message(step.to_owned());
                bar.set_length(total.max(done));
                bar.set_position(done);
            })
            .await?;
            bar.finish_and_clear();
            println!(
                "restored {id}: {} rows; {} rows pointing at what was not restored dropped; {} parts unreadable (erased accounts); {} accounts erased again from the journal; {} log entries made after the backup restored from the backup region",
                r.rows, r.dropped, r.unreadable, r.erased_again, r.log_added
            );
        }
    }
    Ok(())
}

async fn verify_residency(c: config::Config, json: bool, repair: bool, yes: bool) -> anyhow::Result<()> {
    let st = AppState::open_existing(c).await?;
    let bar = indicatif::ProgressBar::new(0);
    if !json {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} checking [{bar:40}] {pos}/{len} objects, {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let report = kinora_app::residency::verify(&st, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    if repair && !report.repairable.is_empty() {
        let n = kinora_app::residency::repair(&st, &report).await?;
        eprintln!("{n} replicas queued for repair; run the check again once the workers are done");
    }
    let removable = kinora_app::residency::removable(&report);
    if repair && !removable.is_empty() {
        eprintln!("{} objects the database does not know:", removable.len());
        for v in &removable {
            eprintln!("  {:<18} {:<10} {}", v.kind, v.region, v.key);
        }
        let confirmed = yes || {
            eprint!("remove them from their regions, every version? type `remove` to confirm: ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim() == "remove"
        };
        if confirmed {
            let n = kinora_app::residency::remove(&st, &removable).await?;
            eprintln!("{n} objects removed; run the check again");
        } else {
            eprintln!("nothing removed");
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{:<12} {:<8} {:<8} {:>9} {:>14}  kinds", "region", "role", "law", "objects", "bytes");
        for (name, r) in &report.regions {
            let kinds: Vec<String> = r.kinds.iter().map(|(k, t)| format!("{k} {}/{} B", t.objects, t.bytes)).collect();
            println!("{:<12} {:<8} {:<8} {:>9} {:>14}  {}", name, r.role, r.jurisdiction, r.objects, r.bytes, kinds.join(", "));
            println!("{:<12} at {}", "", r.location);
        }
        if report.ok {
            println!("ok: every object is where it belongs, with its replica, and nothing else is stored");
        } else {
            println!("{} violations:", report.violations.len());
            for v in &report.violations {
                println!("  {:<16} {:<10} {}  ({})", v.kind, v.region, v.key, v.detail);
            }
        }
    }
    if !report.ok {
        std::process::exit(1);
    }
    Ok(())
}

async fn reprocess(c: config::Config, all: bool, jobs: usize, videos: Vec<String>) -> anyhow::Result<()> {
    let st = AppState::open(c, None).await?;
    let queued = kinora_app::admin::queue_reprocess(&st, all, &videos).await?;
    let total = kinora_app::admin::pending_reprocess(&st).await?;
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
        let pending = kinora_app::admin::pending_reprocess(&st).await?;
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

async fn serve(c: config::Config) -> anyhow::Result<()> {
    // A bad witness key stops the server before it listens.
    let witnesses = kinora_app::transparency::witnesses(&c)?;
    let listener = tokio::net::TcpListener::bind(&c.server.listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", c.server.listen))?;
    let addr = listener.local_addr()?;
    let st = AppState::open(c, Some(addr)).await?;
    housekeeping::startup_cleanup(&st).await;
    for i in 0..st.config().server.workers {
        tokio::spawn(worker::run(st.clone(), i));
    }
    if st.config().server.demo {
        let st2 = st.clone();
        tokio::spawn(async move {
            if let Err(e) = demo::seed(&st2).await {
                tracing::error!(error = format!("{e:#}"), "seeding demo content failed");
            }
        });
    }
    tokio::spawn(housekeeping::run(st.clone()));
    tokio::spawn(kinora_app::transparency::witness_loop(st.clone(), witnesses));
    tokio::spawn(kinora_app::recommend::poll_loop(st.clone()));
    let base = st.base_url().to_owned();
    let server = st.config().server.clone();
    let router = kinora_http::router(st);
    // Tests and scripts read this line to find the port.
    println!("kinora listening on http://{addr}");
    tracing::info!(%addr, %base, "serving");
    kinora_http::serve(listener, router, &server).await
}

/// A passphrase from KINORA_KEYS_PASSPHRASE, else one line read from the terminal.
fn passphrase(what: &str) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("KINORA_KEYS_PASSPHRASE") {
        return Ok(p);
    }
    eprint!("{what}: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let p = line.trim_end_matches(['\n', '\r']).to_owned();
    if p.is_empty() {
        anyhow::bail!("no passphrase given (set KINORA_KEYS_PASSPHRASE or type it)");
    }
    Ok(p)
}
