//! ffprobe, run safely, and its JSON parsed into the few facts we use.

use crate::process::{self, ProcessError, ProcessLimits, Tools};
use serde::Deserialize;
use std::ffi::OsString;
use std::path::Path;

/// Demuxers we accept. Anything else (HLS, concat, image2, raw formats, ...) is
/// refused by ffprobe/ffmpeg themselves via `-format_whitelist`.
pub const DEMUXER_WHITELIST: &str = "mov,matroska";

/// What ffprobe told us about a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// The demuxer to force with `-f` (first name of ffprobe's `format_name`).
    pub demuxer: String,
    pub duration_secs: Option<f64>,
    pub size_bytes: Option<u64>,
    pub video: Option<VideoStream>,
    pub audio_streams: usize,
    pub stream_count: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VideoStream {
    pub codec: String,
    /// Coded width/height (before rotation).
    pub width: u32,
    pub height: u32,
    /// Display rotation in degrees, normalised to 0, 90, 180 or 270.
    pub rotation: u32,
    /// Frames per second, from `avg_frame_rate` (or `r_frame_rate`).
    pub fps: Option<f64>,
    pub frames: Option<u64>,
    pub duration_secs: Option<f64>,
    pub pix_fmt: Option<String>,
}

impl VideoStream {
    /// Width and height as displayed, rotation applied.
    pub fn display_size(&self) -> (u32, u32) {
        if self.rotation == 90 || self.rotation == 270 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    streams: Vec<RawStream>,
    format: Option<RawFormat>,
}

#[derive(Deserialize)]
struct RawFormat {
    format_name: Option<String>,
    duration: Option<String>,
    size: Option<String>,
}

#[derive(Deserialize)]
struct RawStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    nb_frames: Option<String>,
    duration: Option<String>,
    pix_fmt: Option<String>,
    #[serde(default)]
    tags: std::collections::HashMap<String, String>,
    #[serde(default)]
    side_data_list: Vec<RawSideData>,
    #[serde(default)]
    disposition: std::collections::HashMap<String, i64>,
}

#[derive(Deserialize)]
struct RawSideData {
    rotation: Option<f64>,
}

/// Why a probe produced nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("ffprobe output is not JSON we understand: {0}")]
    Json(#[from] serde_json::Error),
    #[error("ffprobe found no container format")]
    NoFormat,
}

fn rational(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/').unwrap_or((s, "1"));
    let (n, d): (f64, f64) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
    (d != 0.0 && n > 0.0 && (n / d).is_finite()).then_some(n / d)
}

fn seconds(s: &Option<String>) -> Option<f64> {
    s.as_deref().and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0)
}

fn normalise_rotation(deg: f64) -> u32 {
    let r = ((deg.round() as i64 % 360) + 360) % 360;
    // Snap to the nearest quarter turn; other angles are not meaningful for video.
    (((r + 45) / 90 * 90) % 360) as u32
}

impl Probe {
    /// Parses `ffprobe -print_format json -show_format -show_streams` output.
    pub fn parse(json: &[u8]) -> Result<Probe, ProbeError> {
        let raw: Raw = serde_json::from_slice(json)?;
        let format = raw.format.ok_or(ProbeError::NoFormat)?;
        let demuxer = format.format_name.as_deref().and_then(|n| n.split(',').next()).filter(|n| !n.is_empty()).ok_or(ProbeError::NoFormat)?.to_owned();
        let is_cover = |s: &RawStream| s.disposition.get("attached_pic").copied().unwrap_or(0) == 1;
        let video = raw.streams.iter().find(|s| s.codec_type.as_deref() == Some("video") && !is_cover(s)).map(|s| {
            let rotation = s
                .side_data_list
                .iter()
                .find_map(|d| d.rotation)
                .or_else(|| s.tags.get("rotate").and_then(|r| r.parse().ok()))
                .map(normalise_rotation)
                .unwrap_or(0);
            VideoStream {
                codec: s.codec_name.clone().unwrap_or_default(),
                width: s.width.unwrap_or(0),
                height: s.height.unwrap_or(0),
                rotation,
                fps: s.avg_frame_rate.as_deref().and_then(rational).or_else(|| s.r_frame_rate.as_deref().and_then(rational)),
                frames: s.nb_frames.as_deref().and_then(|n| n.parse().ok()),
                duration_secs: seconds(&s.duration),
                pix_fmt: s.pix_fmt.clone(),
            }
        });
        let audio_streams = raw.streams.iter().filter(|s| s.codec_type.as_deref() == Some("audio")).count();
        Ok(Probe {
            demuxer,
            duration_secs: seconds(&format.duration),
            size_bytes: format.size.as_deref().and_then(|s| s.parse().ok()),
            video,
            audio_streams,
            stream_count: raw.streams.len(),
        })
    }

    /// The best duration we know: the container's, else the video stream's.
    pub fn duration(&self) -> Option<f64> {
        self.duration_secs.or_else(|| self.video.as_ref().and_then(|v| v.duration_secs))
    }
}

/// Image demuxers accepted for profile pictures.
pub const IMAGE_DEMUXER_WHITELIST: &str = "png_pipe,jpeg_pipe,webp_pipe,gif,bmp_pipe";

/// The argv for probing `input` (a server-generated path inside the job directory).
pub fn probe_args(input: &Path) -> Vec<OsString> {
    probe_args_with(input, DEMUXER_WHITELIST)
}

/// Like [`probe_args`] with another demuxer whitelist.
pub fn probe_args_with(input: &Path, whitelist: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> =
        ["-v", "error", "-protocol_whitelist", "file", "-format_whitelist", whitelist, "-print_format", "json", "-show_format", "-show_streams", "-i"]
            .iter()
            .map(OsString::from)
            .collect();
    args.push(file_url(input));
    args
}

/// `file:` prefix so a path can never be read as another protocol or an option.
pub fn file_url(path: &Path) -> OsString {
    let mut s = OsString::from("file:");
    s.push(path.as_os_str());
    s
}

/// The outcome of running ffprobe on an untrusted file.
#[derive(Debug, thiserror::Error)]
pub enum RunProbeError {
    /// ffprobe refused or could not read the file: the input is bad.
    #[error("not readable as media: {0}")]
    Unreadable(String),
    /// ffprobe could not run properly (missing, timeout): an operator problem.
    #[error(transparent)]
    Process(ProcessError),
    #[error(transparent)]
    Parse(#[from] ProbeError),
}

/// Runs ffprobe on `input` inside `cwd`.
pub async fn run_probe(tools: &Tools, input: &Path, cwd: &Path, limits: ProcessLimits) -> Result<Probe, RunProbeError> {
    run_probe_with(tools, input, cwd, limits, DEMUXER_WHITELIST).await
}

/// Runs ffprobe with another demuxer whitelist (images for profile pictures).
pub async fn run_probe_with(tools: &Tools, input: &Path, cwd: &Path, limits: ProcessLimits, whitelist: &str) -> Result<Probe, RunProbeError> {
    match process::run(&tools.ffprobe, &probe_args_with(input, whitelist), cwd, limits).await {
        Ok(out) => Ok(Probe::parse(&out)?),
        Err(ProcessError::Failed { stderr, .. }) => Err(RunProbeError::Unreadable(stderr)),
        Err(e) => Err(RunProbeError::Process(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotations_normalise() {
        for (deg, want) in [(0.0, 0), (90.0, 90), (-90.0, 270), (180.0, 180), (-180.0, 180), (270.0, 270), (89.6, 90), (360.0, 0)] {
            assert_eq!(normalise_rotation(deg), want, "{deg}");
        }
    }

    #[test]
    fn rationals() {
        assert_eq!(rational("30/1"), Some(30.0));
        assert_eq!(rational("0/0"), None);
        assert_eq!(rational("30000/1001").map(|v| (v * 100.0).round()), Some(2997.0));
        assert_eq!(rational("garbage"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Probe::parse(b"{}").is_err());
        assert!(Probe::parse(b"not json").is_err());
        assert!(Probe::parse(br#"{"format": {"format_name": ""}}"#).is_err());
    }
}
