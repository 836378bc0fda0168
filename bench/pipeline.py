#!/usr/bin/env python3
"""Upload-to-ready time vs the same ffmpeg command run by hand.

Usage: bench/pipeline.py [--runs N] [--secs S] [--size WxH]
Builds nothing: run `cargo build --release` first (scripts/bench does).
Prints a table: our pipeline's wall time (HTTP upload -> status ready) against
bare ffmpeg running the exact argv `kinora media explain` reports, plus the poster.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time, urllib.request, uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
KINORA = os.path.join(TARGET, "release", "kinora")


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, **kw)


def req(method, url, body=None, headers=None):
    r = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(r) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def multipart(path):
    boundary = uuid.uuid4().hex
    with open(path, "rb") as f:
        data = f.read()
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=15)
    ap.add_argument("--size", default="1080x1920")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kinora-bench-")
    src = os.path.join(tmp, "src.mp4")
    sh(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={a.size}:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(a.secs),
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-pix_fmt", "yuv420p", "-c:a", "aac", src])
    size_mb = os.path.getsize(src) / 1e6

    # Bare ffmpeg: the same argv (the whole ladder from one decode), plus the same
    # poster and preview steps.
    plan = json.loads(sh([KINORA, "media", "explain", src, "--output", tmp]).stdout)
    assert plan["verdict"] == "accepted", plan
    rungs = plan["renditions"]
    top = os.path.join(tmp, f"{min(rungs[0]['width'], rungs[0]['height'])}p.mp4")
    low = os.path.join(tmp, f"{min(rungs[-1]['width'], rungs[-1]['height'])}p.mp4")
    bare = []
    for _ in range(a.runs):
        t = time.monotonic()
        sh([plan["ffmpeg"], *plan["argv"]], cwd=tmp)
        sh(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", "1", "-i", top,
            "-frames:v", "1", "-q:v", "4", "-update", "1", os.path.join(tmp, "bare.jpg")])
        sh(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", "1", "-i", low, "-vf", "scale=240:-2",
            "-frames:v", "1", "-q:v", "6", "-update", "1", os.path.join(tmp, "bare-preview.jpg")])
        bare.append(time.monotonic() - t)

    # Our pipeline, through HTTP.
    data = os.path.join(tmp, "data")
    srv = subprocess.Popen([KINORA, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = srv.stdout.readline()
        base = line.strip().split("listening on ")[1]
        req("POST", base + "/api/v1/accounts", json.dumps({"username": "bench", "password": "bench-password"}).encode(),
            {"content-type": "application/json"})
        _, tok = req("POST", base + "/api/v1/auth/token", json.dumps({"username": "bench", "password": "bench-password"}).encode(),
                     {"content-type": "application/json"})
        auth = {"authorization": "Bearer " + tok["access_token"]}
        ours = []
        for _ in range(a.runs):
            body, ctype = multipart(src)
            t = time.monotonic()
            _, v = req("POST", base + "/api/v1/videos", body, {**auth, "content-type": ctype})
            while True:
                _, v = req("GET", base + "/api/v1/videos/" + v["id"], None, auth)
                if v["status"] != "processing":
                    break
                time.sleep(0.05)
            ours.append(time.monotonic() - t)
            assert v["status"] == "ready", v
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    b, o = statistics.median(bare), statistics.median(ours)
    print(f"machine: {os.cpu_count()} cores, {os.uname().machine}; source {a.size}, {a.secs} s, {size_mb:.1f} MB; "
          f"ladder {', '.join(str(r['width']) + 'x' + str(r['height']) for r in rungs)}; median of {a.runs}")
    print(f"| {'what':<42} | {'seconds':>8} | {'x realtime':>10} |")
    print(f"|{'-'*44}|{'-'*10}|{'-'*12}|")
    print(f"| {'bare ffmpeg (same argv) + poster/preview':<42} | {b:8.2f} | {a.secs / b:10.2f} |")
    print(f"| {'kinora: HTTP upload -> status ready':<42} | {o:8.2f} | {a.secs / o:10.2f} |")
    print(f"| {'overhead (kinora - bare)':<42} | {o - b:8.2f} | {'':>10} |")
    print(f"ratio kinora/bare = {o / b:.3f}  (target: <= 1.05 + 0.15 s / bare = {1.05 + 0.15 / b:.3f})")


if __name__ == "__main__":
    sys.exit(main())
