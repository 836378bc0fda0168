//! Kinora's media pipeline. Uploads are hostile: everything here assumes the input
//! file was written by an attacker.
//!
//! * [`process`] is the one place that runs subprocesses: argv vectors (never a
//!   shell), a cleared environment, a wall-clock timeout, kill-on-drop and
//!   CPU/memory/file-size rlimits.
//! * [`probe`] runs ffprobe with a `file`-only protocol whitelist and a demuxer
//!   whitelist, and parses its JSON into [`probe::Probe`] (tested against captured
//!   fixtures without ffmpeg).
//! * [`limits`] validates a probe against configured limits *before* any decode and
//!   maps each rejection to a stable error code.
//! * [`transcode`] builds the ffmpeg argv for our one output profile (H.264 High,
//!   yuv420p, AAC stereo, `+faststart`, metadata stripped, rotation applied, CFR)
//!   and the poster.

pub mod limits;
pub mod probe;
pub mod process;
pub mod transcode;

pub use limits::{Limits, MediaError, Validated};
pub use probe::Probe;
pub use process::{ProcessError, ProcessLimits, Tools};
