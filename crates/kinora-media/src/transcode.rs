//! Our output profile and the ffmpeg argv that produces it.

use crate::limits::Validated;
use crate::probe::{file_url, DEMUXER_WHITELIST};
use std::ffi::OsString;
use std::path::Path;

/// One output rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendition {
    pub width: u32,
    pub height: u32,
    /// Output frame rate, numerator over 1000 (e.g. 29970 for 29.97).
    pub fps_milli: u32,
    /// Video bitrate cap in bits/s.
    pub max_video_bitrate: u32,
}

/// Short edge of the served rendition; smaller sources are never upscaled.
pub const SHORT_EDGE: u32 = 720;
/// Highest output frame rate.
pub const MAX_FPS: f64 = 60.0;
/// Audio bitrate in bits/s.
pub const AUDIO_BITRATE: u32 = 128_000;

fn even_floor(v: u32) -> u32 {
    (v & !1).max(2)
}

/// Output size for a display size: short edge `SHORT_EDGE` at most, aspect kept,
/// both dimensions even.
pub fn fit(width: u32, height: u32, short_edge: u32) -> (u32, u32) {
    let short = width.min(height);
    if short <= short_edge {
        return (even_floor(width), even_floor(height));
    }
    let scale = |long: u32| -> u32 {
        let v = (u64::from(long) * u64::from(short_edge) + u64::from(short) / 2) / u64::from(short);
        even_floor(u32::try_from(v).unwrap_or(u32::MAX))
    };
    if width <= height {
        (even_floor(short_edge), scale(height))
    } else {
        (scale(width), even_floor(short_edge))
    }
}

/// The rendition for a validated source.
pub fn plan(v: &Validated) -> Rendition {
    let (width, height) = fit(v.width, v.height, SHORT_EDGE);
    let fps = if v.fps.is_finite() && v.fps > 0.0 { v.fps.min(MAX_FPS) } else { 30.0 };
    // About 0.1 bit per pixel per frame at 30 fps, within sane bounds.
    let pixels = u64::from(width) * u64::from(height);
    let br = (pixels as f64 * fps.min(30.0) * 0.1).clamp(400_000.0, 4_000_000.0) as u32;
    Rendition { width, height, fps_milli: (fps * 1000.0).round() as u32, max_video_bitrate: br }
}

fn strs(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

/// ffmpeg argv: decode `input` with the probed demuxer forced, write one MP4.
///
/// * `-protocol_whitelist file` and `-format_whitelist` on the input: no network, no
///   playlists, no concat scripts, whatever the file claims to be.
/// * Only the first video and first audio streams are mapped; metadata, chapters and
///   data streams are dropped (`-map_metadata -1`, `-map_chapters -1`, `-dn -sn`).
/// * ffmpeg's autorotate turns the pixels upright and writes no display matrix.
pub fn transcode_args(input: &Path, output: &Path, v: &Validated, r: &Rendition) -> Vec<OsString> {
    let mut a = strs(&["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
    a.extend(strs(&["-protocol_whitelist", "file", "-format_whitelist", DEMUXER_WHITELIST]));
    a.extend(strs(&["-f", &v.demuxer, "-i"]));
    a.push(file_url(input));
    a.extend(strs(&["-map", "0:v:0"]));
    if v.has_audio {
        a.extend(strs(&["-map", "0:a:0"]));
    }
    let fps = format!("{}/1000", r.fps_milli);
    let vf = format!(
        "scale={w}:{h}:flags=bicubic,setsar=1,fps={fps},format=yuv420p",
        w = r.width,
        h = r.height
    );
    let gop = ((f64::from(r.fps_milli) / 1000.0) * 2.0).floor().max(1.0) as u32;
    a.extend(strs(&["-vf", &vf]));
    a.extend(strs(&[
        "-c:v", "libx264", "-profile:v", "high", "-level:v", "4.1", "-preset", "veryfast", "-crf", "23",
        "-pix_fmt", "yuv420p",
    ]));
    a.extend(strs(&[
        "-maxrate",
        &r.max_video_bitrate.to_string(),
        "-bufsize",
        &(r.max_video_bitrate * 2).to_string(),
        "-g",
        &gop.to_string(),
        "-keyint_min",
        &gop.to_string(),
        "-sc_threshold",
        "0",
    ]));
    if v.has_audio {
        a.extend(strs(&["-c:a", "aac", "-b:a", &AUDIO_BITRATE.to_string(), "-ac", "2", "-ar", "48000"]));
    }
    a.extend(strs(&[
        "-dn", "-sn", "-map_metadata", "-1", "-map_chapters", "-1", "-metadata:s:v:0", "rotate=0",
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        "-movflags", "+faststart", "-max_muxing_queue_size", "1024", "-threads", "2", "-f", "mp4",
    ]));
    a.push(file_url(output));
    a
}

/// ffmpeg argv for a JPEG poster taken from our own output (never the upload).
pub fn poster_args(rendition: &Path, at_secs: f64, output: &Path) -> Vec<OsString> {
    let mut a = strs(&["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
    a.extend(strs(&["-protocol_whitelist", "file", "-ss", &format!("{at_secs:.3}"), "-f", "mp4", "-i"]));
    a.push(file_url(rendition));
    a.extend(strs(&["-frames:v", "1", "-q:v", "4", "-map_metadata", "-1", "-f", "image2", "-update", "1"]));
    a.push(file_url(output));
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_short_edge_without_upscaling() {
        assert_eq!(fit(1080, 1920, 720), (720, 1280));
        assert_eq!(fit(1920, 1080, 720), (1280, 720));
        assert_eq!(fit(3840, 2160, 720), (1280, 720));
        assert_eq!(fit(320, 240, 720), (320, 240));
        assert_eq!(fit(321, 241, 720), (320, 240));
        assert_eq!(fit(720, 720, 720), (720, 720));
        assert_eq!(fit(1, 1, 720), (2, 2));
    }

    #[test]
    fn argv_forces_demuxer_and_whitelists() {
        let v = Validated { demuxer: "mov".into(), width: 1080, height: 1920, duration_secs: 15.0, fps: 29.97, has_audio: true };
        let r = plan(&v);
        assert_eq!((r.width, r.height), (720, 1280));
        let args: Vec<String> = transcode_args(Path::new("/j/input"), Path::new("/j/out.mp4"), &v, &r)
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let pos = |s: &str| args.iter().position(|a| a == s).unwrap_or(usize::MAX);
        assert!(pos("-f") < pos("-i"));
        assert_eq!(args[pos("-protocol_whitelist") + 1], "file");
        assert!(args.contains(&"file:/j/input".to_string()));
        assert!(args.contains(&"+faststart".to_string()));
        assert_eq!(args[pos("-map_metadata") + 1], "-1");
    }
}
