#!/usr/bin/env python3
"""tus ingest throughput on loopback vs writing the same bytes to the same disk.

Usage: bench/tus_ingest.py [--mib 256] [--chunk-mib 8]   (after cargo build --release)
Reference: Python writing the same chunks to a file in the same directory with an
fsync per chunk (what the server must do before acknowledging a chunk).
"""
import argparse, http.client, json, os, subprocess, tempfile, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINORA = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "kinora")


def call(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--chunk-mib", type=int, default=8)
    a = ap.parse_args()
    total, chunk = a.mib << 20, a.chunk_mib << 20
    payload = os.urandom(chunk)
    tmp = tempfile.mkdtemp(prefix="kinora-tus-")

    t = time.monotonic()
    with open(os.path.join(tmp, "ref"), "wb") as f:
        for _ in range(total // chunk):
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    ref = time.monotonic() - t
    os.remove(os.path.join(tmp, "ref"))

    srv = subprocess.Popen([KINORA, "serve", "--data", os.path.join(tmp, "data"), "--listen", "127.0.0.1:0", "--workers", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = urllib.parse.urlparse(srv.stdout.readline().strip().split("listening on ")[1])
        conn = http.client.HTTPConnection(base.hostname, base.port)
        js = {"content-type": "application/json"}
        call(conn, "POST", "/api/v1/accounts", json.dumps({"username": "bench", "password": "bench-password"}), js)
        _, _, tok = call(conn, "POST", "/api/v1/auth/token", json.dumps({"username": "bench", "password": "bench-password"}), js)
        auth = {"Authorization": "Bearer " + json.loads(tok)["access_token"], "Tus-Resumable": "1.0.0"}
        st, h, _ = call(conn, "POST", "/api/v1/uploads", None, {**auth, "Upload-Length": str(total)})
        assert st == 201, st
        loc = h["location"]
        t = time.monotonic()
        off = 0
        last = None
        while off < total:
            st, h, body = call(conn, "PATCH", loc, payload, {**auth, "Upload-Offset": str(off),
                                                            "Content-Type": "application/offset+octet-stream"})
            assert st == 204, (st, body)
            off = int(h["upload-offset"])
            last = h
        ours = time.monotonic() - t
        assert last.get("kinora-video-id"), last
    finally:
        srv.terminate()
        srv.wait()
        subprocess.run(["rm", "-rf", tmp])
    mb = total / 1e6
    print(f"machine: {os.cpu_count()} cores; {a.mib} MiB in {a.chunk_mib} MiB PATCH requests over loopback (keep-alive)")
    print(f"| {'what':<52} | {'seconds':>8} | {'MB/s':>8} |")
    print(f"|{'-'*54}|{'-'*10}|{'-'*10}|")
    print(f"| {'reference: write + fsync per chunk, same disk':<52} | {ref:8.2f} | {mb / ref:8.1f} |")
    print(f"| {'kinora tus PATCHes (incl. finishing into a video)':<52} | {ours:8.2f} | {mb / ours:8.1f} |")
    print(f"ratio kinora/reference throughput = {(mb / ours) / (mb / ref):.2f}")


if __name__ == "__main__":
    main()
