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
    /// Output frame rate x 1000 (e.g. 29970 for 29.97).
    pub fps_milli: u32,
    /// Video bitrate cap in bits/s.
    pub max_video_bitrate: u32,
}

impl Rendition {
    /// The short edge, which names the rung (`720p`).
    pub fn short_edge(&self) -> u32 {
        self.width.min(self.height)
    }
}

/// Short edges of the ladder, highest first. A rung is made only if the source is
/// at least that large; sources under the lowest rung get one rendition at their
/// own size.
pub const LADDER: [u32; 3] = [1080, 720, 480];
/// Highest output frame rate.
pub const MAX_FPS: f64 = 60.0;
/// Audio bitrate in bits/s.
pub const AUDIO_BITRATE: u32 = 128_000;
/// Seconds between forced keyframes (players switch renditions and seek on them).
pub const KEYFRAME_SECS: u32 = 2;

fn even_floor(v: u32) -> u32 {
    (v & !1).max(2)
}

/// Output size for a display size: short edge `short_edge` at most, aspect kept,
/// both dimensions even.
pub fn fit(width: u32, height: u32, short_edge: u32) -> (u32, u32) {
    let short = width.min(height);
    if short <= short_edge {
        return (even_floor(width), even_floor(height));
    }
    // The long edge scaled, rounded to the nearest even number.
    let scale = |long: u32| -> u32 {
        let two_short = 2 * u64::from(short);
        let halves = (u64::from(long) * u64::from(short_edge) + two_short / 2) / two_short;
        even_floor(u32::try_from(halves * 2).unwrap_or(u32::MAX))
    };
    if width <= height {
        (even_floor(short_edge), scale(height))
    } else {
        (scale(width), even_floor(short_edge))
    }
}

/// Bitrate cap: 6 / 3 / 1.5 Mbit/s for 1080 / 720 / 480 at up to 30 fps, scaled by
/// pixel count for other sizes and by 1.5 above 30 fps.
fn bitrate_cap(width: u32, height: u32, fps: f64) -> u32 {
    let px = f64::from(width) * f64::from(height);
    let per_px = 3_000_000.0 / (720.0 * 1280.0);
    let fps_factor = if fps > 31.0 { 1.5 } else { 1.0 };
    (px * per_px * fps_factor).clamp(300_000.0, 9_000_000.0) as u32
}

/// The renditions for a validated source, highest first.
pub fn ladder(v: &Validated) -> Vec<Rendition> {
    let fps = if v.fps.is_finite() && v.fps > 0.0 { v.fps.min(MAX_FPS) } else { 30.0 };
    let fps_milli = (fps * 1000.0).round() as u32;
    let short = v.width.min(v.height);
    let mut rungs: Vec<Rendition> = LADDER
        .iter()
        .filter(|&&edge| edge <= short)
        .map(|&edge| {
            let (width, height) = fit(v.width, v.height, edge);
            Rendition { width, height, fps_milli, max_video_bitrate: bitrate_cap(width, height, fps) }
        })
        .collect();
    if rungs.is_empty() {
        let (width, height) = fit(v.width, v.height, short);
        rungs.push(Rendition { width, height, fps_milli, max_video_bitrate: bitrate_cap(width, height, fps) });
    }
    rungs
}

fn strs(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

/// ffmpeg argv: decode `input` once with the probed demuxer forced, and write one
/// MP4 per rendition (`outputs` pairs each rendition with its file).
///
/// * `-protocol_whitelist file` and `-format_whitelist` on the input: no network, no
///   playlists, no concat scripts, whatever the file claims to be.
/// * Only the first video and first audio streams are mapped; metadata, chapters,
///   data and subtitle streams are dropped.
/// * ffmpeg's autorotate turns the pixels upright and writes no display matrix.
/// * One decode feeds a `split` into a scaler per rung; frame rate is made constant
///   before the split; keyframes are forced every [`KEYFRAME_SECS`].
pub fn transcode_args(input: &Path, v: &Validated, outputs: &[(&Path, Rendition)]) -> Vec<OsString> {
    let mut a = strs(&["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
    a.extend(strs(&["-protocol_whitelist", "file", "-format_whitelist", DEMUXER_WHITELIST]));
    a.extend(strs(&["-f", &v.demuxer, "-i"]));
    a.push(file_url(input));
    let Some((_, first)) = outputs.first() else { return a };
    let n = outputs.len();
    let mut graph = format!("[0:v:0]fps={}/1000,format=yuv420p,split={n}", first.fps_milli);
    for i in 0..n {
        graph.push_str(&format!("[s{i}]"));
    }
    for (i, (_, r)) in outputs.iter().enumerate() {
        graph.push_str(&format!(";[s{i}]scale={}:{}:flags=bicubic,setsar=1[v{i}]", r.width, r.height));
    }
    a.extend(strs(&["-filter_complex", &graph]));
    for (i, (path, r)) in outputs.iter().enumerate() {
        a.extend(strs(&["-map", &format!("[v{i}]")]));
        if v.has_audio {
            a.extend(strs(&["-map", "0:a:0"]));
        }
        a.extend(strs(&["-c:v", "libx264", "-profile:v", "high", "-level:v", "4.2", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]));
        let gop = ((f64::from(r.fps_milli) / 1000.0) * f64::from(KEYFRAME_SECS)).floor().max(1.0) as u32;
        a.extend(strs(&[
            "-maxrate",
            &r.max_video_bitrate.to_string(),
            "-bufsize",
            &(r.max_video_bitrate.saturating_mul(2)).to_string(),
            "-g",
            &gop.to_string(),
            "-sc_threshold",
            "0",
            "-force_key_frames",
            &format!("expr:gte(t,n_forced*{KEYFRAME_SECS})"),
        ]));
        if v.has_audio {
            a.extend(strs(&["-c:a", "aac", "-b:a", &AUDIO_BITRATE.to_string(), "-ac", "2", "-ar", "48000"]));
        }
        a.extend(strs(&[
            "-dn",
            "-sn",
            "-map_metadata",
            "-1",
            "-map_chapters",
            "-1",
            "-metadata:s:v:0",
            "rotate=0",
            "-fflags",
            "+bitexact",
            "-flags:v",
            "+bitexact",
            "-flags:a",
            "+bitexact",
            "-movflags",
            "+faststart",
            "-max_muxing_queue_size",
            "1024",
            "-threads",
            "2",
            "-f",
            "mp4",
        ]));
        a.push(file_url(path));
    }
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

/// ffmpeg argv for a small still preview for grids (short edge 240), from our output.
pub fn preview_args(rendition: &Path, at_secs: f64, output: &Path) -> Vec<OsString> {
    let mut a = strs(&["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
    a.extend(strs(&["-protocol_whitelist", "file", "-ss", &format!("{at_secs:.3}"), "-f", "mp4", "-i"]));
    a.push(file_url(rendition));
    a.extend(strs(&[
        "-frames:v",
        "1",
        "-vf",
        "scale='if(lt(iw,ih),240,-2)':'if(lt(iw,ih),-2,240)'",
        "-q:v",
        "6",
        "-map_metadata",
        "-1",
        "-f",
        "image2",
        "-update",
        "1",
    ]));
    a.push(file_url(output));
    a
}

/// Edge of the square profile picture.
pub const AVATAR_EDGE: u32 = 256;

/// ffmpeg argv for a profile picture: the probed image demuxer forced, first frame,
/// centre square, 256x256 JPEG, metadata (EXIF, GPS, comments) dropped.
pub fn avatar_args(input: &Path, demuxer: &str, output: &Path) -> Vec<OsString> {
    let mut a = strs(&["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
    a.extend(strs(&["-protocol_whitelist", "file", "-format_whitelist", crate::probe::IMAGE_DEMUXER_WHITELIST, "-f", demuxer, "-i"]));
    a.push(file_url(input));
    let vf = format!("crop='min(iw,ih)':'min(iw,ih)',scale={e}:{e}:flags=lanczos,format=yuvj420p", e = AVATAR_EDGE);
    a.extend(strs(&["-frames:v", "1", "-vf", &vf, "-map_metadata", "-1", "-q:v", "3", "-f", "image2", "-update", "1"]));
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

    fn src(w: u32, h: u32, fps: f64) -> Validated {
        Validated { demuxer: "mov".into(), width: w, height: h, duration_secs: 15.0, fps, has_audio: true }
    }

    #[test]
    fn ladder_rungs() {
        let dims = |v: Validated| ladder(&v).iter().map(|r| (r.width, r.height)).collect::<Vec<_>>();
        assert_eq!(dims(src(1080, 1920, 30.0)), vec![(1080, 1920), (720, 1280), (480, 854)]);
        assert_eq!(dims(src(3840, 2160, 30.0)), vec![(1920, 1080), (1280, 720), (854, 480)]);
        assert_eq!(dims(src(720, 1280, 30.0)), vec![(720, 1280), (480, 854)]);
        assert_eq!(dims(src(600, 800, 30.0)), vec![(480, 640)]);
        assert_eq!(dims(src(321, 241, 30.0)), vec![(320, 240)]);
        let r = ladder(&src(1080, 1920, 120.0));
        assert_eq!(r[0].fps_milli, 60_000);
        assert!(r[0].max_video_bitrate > r[1].max_video_bitrate && r[1].max_video_bitrate > r[2].max_video_bitrate);
        assert_eq!(ladder(&src(1080, 1920, 29.97))[0].fps_milli, 29_970);
    }

    #[test]
    fn argv_forces_demuxer_and_whitelists() {
        let v = src(1080, 1920, 29.97);
        let rungs = ladder(&v);
        let paths = [Path::new("/j/1080.mp4"), Path::new("/j/720.mp4"), Path::new("/j/480.mp4")];
        let outputs: Vec<(&Path, Rendition)> = paths.iter().copied().zip(rungs.iter().copied()).collect();
        let args: Vec<String> = transcode_args(Path::new("/j/input"), &v, &outputs).into_iter().map(|s| s.to_string_lossy().into_owned()).collect();
        let pos = |s: &str| args.iter().position(|a| a == s).unwrap_or(usize::MAX);
        assert!(pos("-f") < pos("-i"));
        assert_eq!(args[pos("-f") + 1], "mov");
        assert_eq!(args[pos("-protocol_whitelist") + 1], "file");
        assert!(args.contains(&"file:/j/input".to_string()));
        assert_eq!(args.iter().filter(|a| *a == "+faststart").count(), 3);
        assert_eq!(args.iter().filter(|a| a.starts_with("file:/j/") && a.ends_with(".mp4")).count(), 3);
        assert!(args[pos("-filter_complex") + 1].contains("split=3"));
        assert_eq!(args[pos("-map_metadata") + 1], "-1");
    }
}
