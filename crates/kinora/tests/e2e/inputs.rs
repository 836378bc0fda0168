//! Every common phone and camera format becomes the same ladder of H.264 High
//! yuv420p CFR MP4s with AAC stereo (or no audio), upright, even-sized.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{ffmpeg, ffprobe_json, Backend, TestApp};
use serde_json::Value;
use std::path::{Path, PathBuf};

both!(common_inputs_are_normalised);

struct Case {
    name: &'static str,
    file: PathBuf,
    /// Expected display size of the top rendition.
    size: (i64, i64),
    audio: bool,
}

fn make(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut a: Vec<&str> = args.to_vec();
    a.push(out.to_str().unwrap());
    ffmpeg(&a);
    out
}

const SRC: &str = "testsrc2=size=192x108:rate=30";
const TONE: &str = "sine=frequency=440:sample_rate=48000";

fn cases(d: &Path) -> Vec<Case> {
    let v = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut a = vec!["-f", "lavfi", "-i", SRC, "-f", "lavfi", "-i", TONE, "-t", "1", "-shortest"];
        a.extend_from_slice(extra);
        a
    };
    let h264 = make(d, "h264.mov", &v(&["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]));
    let rotated = |deg: &str, name: &str| make(d, name, &["-i", h264.to_str().unwrap(), "-c", "copy", "-metadata:s:v:0", &format!("rotate={deg}")]);
    let font = d.join("font.ttf");
    std::fs::write(&font, b"\x00\x01\x00\x00not really a font").unwrap();
    let subs = d.join("subs.ass");
    std::fs::write(
        &subs,
        "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, Fontsize\nStyle: Default,Evil,20\n\n\
         [Events]\nFormat: Layer, Start, End, Style, Text\nDialogue: 0,0:00:00.00,0:00:01.00,Default,hello\n",
    )
    .unwrap();
    vec![
        Case {
            name: "hevc-mp4",
            file: make(d, "hevc.mp4", &v(&["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-c:a", "aac"])),
            size: (192, 108),
            audio: true,
        },
        Case {
            name: "hevc-10bit-mov",
            file: make(
                d,
                "hevc10.mov",
                &v(&["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p10le", "-c:a", "aac"]),
            ),
            size: (192, 108),
            audio: true,
        },
        Case {
            name: "h264-10bit-mkv",
            file: make(d, "h264-10.mkv", &v(&["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-c:a", "aac"])),
            size: (192, 108),
            audio: true,
        },
        Case {
            name: "vp9-webm",
            file: make(d, "vp9.webm", &v(&["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"])),
            size: (192, 108),
            audio: true,
        },
        Case {
            name: "av1-mkv",
            file: make(d, "av1.mkv", &v(&["-c:v", "libaom-av1", "-cpu-used", "8", "-usage", "realtime", "-c:a", "libopus"])),
            size: (192, 108),
            audio: true,
        },
        Case {
            name: "vp9-mp4",
            file: make(d, "vp9.mp4", &v(&["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "aac"])),
            size: (192, 108),
            audio: true,
        },
        Case { name: "rotate-90", file: rotated("90", "r90.mov"), size: (108, 192), audio: true },
        Case { name: "rotate-180", file: rotated("180", "r180.mov"), size: (192, 108), audio: true },
        Case { name: "rotate-270", file: rotated("270", "r270.mov"), size: (108, 192), audio: true },
        Case {
            name: "variable-frame-rate",
            file: make(
                d,
                "vfr.mp4",
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=size=192x108:rate=30",
                    "-t",
                    "2",
                    "-vf",
                    "select='not(mod(n\\,3))+lt(n\\,10)'",
                    "-fps_mode",
                    "vfr",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                ],
            ),
            size: (192, 108),
            audio: false,
        },
        Case {
            name: "no-audio",
            file: make(d, "silent.mp4", &["-f", "lavfi", "-i", SRC, "-t", "1", "-c:v", "libx264", "-preset", "ultrafast"]),
            size: (192, 108),
            audio: false,
        },
        Case {
            name: "odd-dimensions",
            file: make(
                d,
                "odd.mp4",
                &["-f", "lavfi", "-i", "testsrc2=size=193x109:rate=30", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"],
            ),
            size: (192, 108),
            audio: false,
        },
        Case {
            name: "extra-streams",
            file: make(
                d,
                "extra.mkv",
                &[
                    "-t",
                    "1",
                    "-f",
                    "lavfi",
                    "-i",
                    SRC,
                    "-t",
                    "1",
                    "-f",
                    "lavfi",
                    "-i",
                    TONE,
                    "-t",
                    "1",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=880:sample_rate=44100",
                    "-i",
                    subs.to_str().unwrap(),
                    "-map",
                    "0:v",
                    "-map",
                    "1:a",
                    "-map",
                    "2:a",
                    "-map",
                    "3:s",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-c:a",
                    "aac",
                    "-c:s",
                    "ass",
                    "-attach",
                    font.to_str().unwrap(),
                    "-metadata:s:t",
                    "mimetype=application/x-truetype-font",
                ],
            ),
            size: (192, 108),
            audio: true,
        },
    ]
}

fn check_rendition(name: &str, file: &Path, want: (i64, i64), audio: bool) {
    let p = ffprobe_json(file);
    let streams = p["streams"].as_array().unwrap();
    let vids: Vec<&Value> = streams.iter().filter(|s| s["codec_type"] == "video").collect();
    let auds: Vec<&Value> = streams.iter().filter(|s| s["codec_type"] == "audio").collect();
    assert_eq!(streams.len(), vids.len() + auds.len(), "{name}: only audio and video survive");
    assert_eq!(vids.len(), 1, "{name}");
    let v = vids[0];
    assert_eq!(v["codec_name"], "h264", "{name}");
    assert_eq!(v["profile"], "High", "{name}");
    assert_eq!(v["pix_fmt"], "yuv420p", "{name}");
    assert!(v["level"].as_i64().unwrap() <= 42, "{name}: level {}", v["level"]);
    assert_eq!((v["width"].as_i64().unwrap(), v["height"].as_i64().unwrap()), want, "{name}");
    assert_eq!(v["r_frame_rate"], v["avg_frame_rate"], "{name}: constant frame rate");
    assert!(v.get("side_data_list").is_none_or(|l| !l.to_string().contains("rotation")), "{name}");
    if audio {
        assert_eq!(auds.len(), 1, "{name}");
        assert_eq!(auds[0]["codec_name"], "aac", "{name}");
        assert_eq!(auds[0]["channels"], 2, "{name}");
    } else {
        assert!(auds.is_empty(), "{name}");
    }
    // Keyframes at least every 2 s.
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries", "frame=pts_time", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    let times: Vec<f64> = String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split(',').next().and_then(|t| t.trim().parse().ok())).collect();
    assert!(!times.is_empty(), "{name}: no keyframes");
    for w in times.windows(2) {
        assert!(w[1] - w[0] <= 2.05, "{name}: keyframes {times:?}");
    }
}

async fn common_inputs_are_normalised(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.signup("formats").await;
    let dir = tempfile::tempdir().unwrap();
    let cases = cases(dir.path());
    let mut ids = Vec::new();
    for c in &cases {
        let (s, v) = app.upload(Some(&token), &c.file, c.file.file_name().unwrap().to_str().unwrap(), c.name, "public").await;
        assert_eq!(s, 202, "{}: {v}", c.name);
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    for (c, id) in cases.iter().zip(&ids) {
        let v = app.wait(&token, id).await;
        assert_eq!(v["status"], "ready", "{}: {v}", c.name);
        assert_eq!((v["width"].as_i64().unwrap(), v["height"].as_i64().unwrap()), c.size, "{}", c.name);
        let src = &v["sources"][0];
        let bytes = app.get(src["url"].as_str().unwrap(), None).await.bytes().await.unwrap();
        let f = dir.path().join(format!("out-{}.mp4", c.name));
        std::fs::write(&f, &bytes).unwrap();
        check_rendition(c.name, &f, c.size, c.audio);
    }
}
