//! Limits checked from the probe, before anything is decoded.

use crate::probe::Probe;
use serde::{Deserialize, Serialize};

/// Configurable media limits (config section `[media]`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest upload in bytes.
    pub max_bytes: u64,
    /// Longest duration in seconds.
    pub max_duration_secs: f64,
    /// Largest width or height in pixels (either orientation).
    pub max_dimension: u32,
    /// Largest width x height.
    pub max_pixels: u64,
    /// Highest frame rate.
    pub max_fps: f64,
    /// Most frames (declared, or duration x frame rate).
    pub max_frames: u64,
    /// Most streams in the container.
    pub max_streams: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 512 * 1024 * 1024,
            max_duration_secs: 600.0,
            max_dimension: 4096,
            max_pixels: 4096 * 2304,
            max_fps: 240.0,
            max_frames: 600 * 120,
            max_streams: 16,
        }
    }
}

/// Why media was rejected. `code()` is the stable API error code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MediaError {
    #[error("the file is not a video we can read: {0}")]
    Invalid(String),
    #[error("unsupported format: {0}")]
    Unsupported(String),
    #[error("the file has no video stream")]
    NoVideo,
    #[error("the file has {got} streams; the limit is {max}")]
    Streams { got: usize, max: usize },
    #[error("the file is {got} bytes; the limit is {max}")]
    FileTooLarge { got: u64, max: u64 },
    #[error("the video is {got:.1} s long; the limit is {max:.0} s")]
    TooLong { got: f64, max: f64 },
    #[error("the video is {w}x{h}; the limit is {max_dim} pixels per side and {max_px} pixels in all")]
    TooLarge { w: u32, h: u32, max_dim: u32, max_px: u64 },
    #[error("the video has {0}; the limit is {1}")]
    FrameRate(String, String),
    #[error("processing took longer than its time limit")]
    Timeout,
}

impl MediaError {
    /// The stable API code of this verdict.
    pub fn error_code(&self) -> kinora_core::ErrorCode {
        use kinora_core::ErrorCode as C;
        match self {
            MediaError::Invalid(_) => C::MediaInvalid,
            MediaError::Unsupported(_) => C::UnsupportedMedia,
            MediaError::NoVideo => C::MediaNoVideo,
            MediaError::Streams { .. } => C::MediaStreams,
            MediaError::FileTooLarge { .. } => C::MediaFileTooLarge,
            MediaError::TooLong { .. } => C::MediaTooLong,
            MediaError::TooLarge { .. } => C::MediaTooLarge,
            MediaError::FrameRate(..) => C::MediaFrameRate,
            MediaError::Timeout => C::MediaTimeout,
        }
    }

    /// The code as a string (stored with failed videos).
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

/// Video codecs we decode. Anything else is refused before a decoder is opened.
pub const VIDEO_CODECS: &[&str] = &["h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "prores"];

/// A probe that passed every limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    pub demuxer: String,
    /// Display size, rotation applied.
    pub width: u32,
    pub height: u32,
    pub duration_secs: f64,
    pub fps: f64,
    pub has_audio: bool,
}

impl Limits {
    /// Checks a probe against the limits.
    pub fn validate(&self, p: &Probe, file_bytes: u64) -> Result<Validated, MediaError> {
        if file_bytes > self.max_bytes {
            return Err(MediaError::FileTooLarge { got: file_bytes, max: self.max_bytes });
        }
        if !matches!(p.demuxer.as_str(), "mov" | "matroska") {
            return Err(MediaError::Unsupported(format!("container {}", p.demuxer)));
        }
        if p.stream_count > self.max_streams {
            return Err(MediaError::Streams { got: p.stream_count, max: self.max_streams });
        }
        let v = p.video.as_ref().ok_or(MediaError::NoVideo)?;
        if !VIDEO_CODECS.contains(&v.codec.as_str()) {
            return Err(MediaError::Unsupported(format!("video codec {:?}", v.codec)));
        }
        if v.width == 0 || v.height == 0 {
            return Err(MediaError::Invalid("the video stream has no size".into()));
        }
        let (w, h) = v.display_size();
        if w > self.max_dimension || h > self.max_dimension || u64::from(w) * u64::from(h) > self.max_pixels {
            return Err(MediaError::TooLarge { w, h, max_dim: self.max_dimension, max_px: self.max_pixels });
        }
        let duration = p.duration().filter(|d| *d > 0.0).ok_or_else(|| MediaError::Invalid("the file does not say how long it is".into()))?;
        // The longest of the container's and the stream's claims counts.
        let duration = duration.max(v.duration_secs.unwrap_or(0.0));
        if duration > self.max_duration_secs {
            return Err(MediaError::TooLong { got: duration, max: self.max_duration_secs });
        }
        let fps = v.fps.unwrap_or(30.0);
        if fps > self.max_fps {
            return Err(MediaError::FrameRate(format!("{fps:.0} frames/s"), format!("{:.0}", self.max_fps)));
        }
        let frames = v.frames.unwrap_or(0).max((duration * fps).ceil() as u64);
        if frames > self.max_frames {
            return Err(MediaError::FrameRate(format!("{frames} frames"), format!("{}", self.max_frames)));
        }
        Ok(Validated { demuxer: p.demuxer.clone(), width: w, height: h, duration_secs: duration, fps, has_audio: p.audio_streams > 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::VideoStream;

    fn probe(w: u32, h: u32, dur: f64, fps: f64) -> Probe {
        Probe {
            demuxer: "mov".into(),
            duration_secs: Some(dur),
            size_bytes: None,
            video: Some(VideoStream {
                codec: "h264".into(),
                width: w,
                height: h,
                rotation: 0,
                fps: Some(fps),
                frames: None,
                duration_secs: Some(dur),
                pix_fmt: None,
            }),
            audio_streams: 1,
            stream_count: 2,
        }
    }

    #[test]
    fn each_limit_has_its_code() {
        let l = Limits::default();
        assert!(l.validate(&probe(1080, 1920, 15.0, 30.0), 1000).is_ok());
        let code = |p: Probe| l.validate(&p, 1000).err().map(|e| e.code());
        assert_eq!(code(probe(8192, 8192, 1.0, 30.0)), Some("media-too-large"));
        assert_eq!(code(probe(16, 16, 36000.0, 30.0)), Some("media-too-long"));
        assert_eq!(code(probe(320, 240, 2.0, 1000.0)), Some("media-frame-rate"));
        let mut hls = probe(320, 240, 2.0, 30.0);
        hls.demuxer = "hls".into();
        assert_eq!(code(hls), Some("unsupported-media"));
        let mut none = probe(320, 240, 2.0, 30.0);
        none.video = None;
        assert_eq!(code(none), Some("media-no-video"));
        let mut odd = probe(320, 240, 2.0, 30.0);
        if let Some(v) = odd.video.as_mut() {
            v.codec = "gif".into();
        }
        assert_eq!(code(odd), Some("unsupported-media"));
        assert_eq!(l.validate(&probe(320, 240, 2.0, 30.0), u64::MAX).err().map(|e| e.code()), Some("media-file-too-large"));
        let mut many = probe(320, 240, 2.0, 30.0);
        many.stream_count = 65;
        assert_eq!(code(many), Some("media-streams"));
    }
}
