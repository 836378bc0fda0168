//! Demo content: on an instance with no accounts, create a few demo accounts and
//! videos generated with ffmpeg, then ingest them through the normal pipeline.

use crate::state::AppState;
use kinora_core::{Caption, Username, Visibility};
use kinora_db::{AccountRepo, NewAccount};
use kinora_media::process::{self, ProcessLimits};
use std::ffi::OsString;
use std::time::Duration;

/// (username, lavfi video source, tone Hz, caption)
const DEMOS: &[(&str, &str, u32, &str)] = &[
    ("aurora", "mandelbrot=size=720x1280:rate=30", 330, "Falling into the Mandelbrot set 🌀 #fractal #math"),
    ("pixelpop", "testsrc2=size=720x1280:rate=30", 440, "Test pattern, but make it vertical #retro"),
    (
        "lifeform",
        "life=size=360x640:mold=10:rate=30:ratio=0.1:death_color=#C83232:life_color=#00ff00,scale=720:1280:flags=neighbor",
        523,
        "Conway's Game of Life, 8 seconds of evolution #cellular",
    ),
    ("aurora", "gradients=size=720x1280:rate=30:speed=0.05", 262, "Calm gradients to reset your brain ✨"),
    ("pixelpop", "cellauto=size=720x1280:rate=30:rule=110,negate", 392, "Rule 110 is Turing complete. This is it. #automata"),
    ("lifeform", "smptehdbars=size=720x1280:rate=30,hue=H=2*PI*t", 294, "Colour bars on a colour wheel 🌈"),
];

pub async fn seed(st: &AppState) -> anyhow::Result<()> {
    // Only into an empty instance: demo accounts with a known password have no
    // place beside real people's.
    if st.db.count_accounts().await? > 0 {
        tracing::info!("the instance has accounts already; not seeding demo content");
        return Ok(());
    }
    let password =
        if st.config.server.demo_password.is_empty() { crate::auth::new_secret().0[..16].to_owned() } else { st.config.server.demo_password.clone() };
    // Printed (not only logged) so whoever started the demo can sign in.
    println!("demo accounts: aurora, pixelpop, lifeform; password: {password}");
    tracing::info!("seeding demo content");
    let hash = st.passwords.hash(password).await?;
    let work = st.data_dir().join("work").join("demo");
    tokio::fs::create_dir_all(&work).await?;
    for (i, (user, src, hz, caption)) in DEMOS.iter().enumerate() {
        let username = Username::parse(user)?;
        let account = match st.db.account_by_username(&username).await? {
            Some(a) => a,
            None => st.db.create_account(NewAccount { username: &username, email: None, password_hash: &hash, region: &st.regions.primary }).await?,
        };
        let file = work.join(format!("demo{i}.mp4"));
        let args: Vec<OsString> = [
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            src,
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency={hz}:sample_rate=48000"),
            "-t",
            "8",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ]
        .iter()
        .map(OsString::from)
        .chain(std::iter::once(file.clone().into_os_string()))
        .collect();
        let limits = ProcessLimits { wall: Duration::from_secs(300), ..ProcessLimits::default() };
        process::run(&st.tools.ffmpeg, &args, &work, limits).await?;
        let bytes = tokio::fs::metadata(&file).await?.len();
        let caption = Caption::parse(caption)?;
        let incoming = crate::ingest::Incoming { file: &file, bytes, caption: &caption, visibility: Visibility::Public, original_name: "demo.mp4" };
        crate::ingest::ingest(st, &account, incoming).await?;
        let _ = tokio::fs::remove_file(&file).await;
    }
    let _ = tokio::fs::remove_dir_all(&work).await;
    tracing::info!(videos = DEMOS.len(), "demo content queued for processing");
    Ok(())
}
