//! ffprobe output captured from real files, parsed without running ffprobe.
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on

use kinora_media::Probe;

#[test]
fn rotated_iphone_style_mov() {
    let json = include_bytes!("fixtures/rotated-mov-h264-aac.json");
    let p = Probe::parse(json).expect("parses");
    assert_eq!(p.demuxer, "mov");
    assert_eq!(p.audio_streams, 1);
    assert_eq!(p.stream_count, 2);
    assert_eq!(p.duration().map(|d| d.round()), Some(2.0));
    let v = p.video.expect("video stream");
    assert_eq!(v.codec, "h264");
    assert_eq!((v.width, v.height), (320, 240));
    assert_eq!(v.rotation, 90);
    assert_eq!(v.display_size(), (240, 320));
    assert_eq!(v.fps, Some(30.0));
    assert_eq!(v.frames, Some(60));
}
