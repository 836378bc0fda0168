#!/usr/bin/env python3
"""Anonymous readers of the transparency log vs staff appends.

Usage: bench/log_readers.py [--entries 600] [--appends 100] [--secs 10]   (after cargo build --release)

Measures, on one server (SQLite, release build):
  * anonymous throughput (wrk, 2 threads, 32 connections) of a full hash tile, a full
    entry bundle, the checkpoint and the /transparency report;
  * staff append latency (POST /api/v1/staff/access, each a durable log append) with no
    readers, then while wrk hammers tiles and the report as fast as it can.
Reference: the same appends with no readers; the table reports the ratio (loaded/idle).
"""
import argparse, http.client, json, os, re, subprocess, tempfile, threading, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINORA = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "kinora")


def call(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.read()


DELAY_LUA = os.path.join(tempfile.gettempdir(), "kinora-wrk-delay.lua")


def wrk(url, secs, conns=32, delay_ms=None):
    args = ["wrk", "-t2", f"-c{conns}", f"-d{secs}s"]
    if delay_ms is not None:
        # Each connection waits delay_ms between requests: a fixed, modest rate.
        with open(DELAY_LUA, "w") as f:
            f.write(f"function delay() return {delay_ms} end\n")
        args += ["-s", DELAY_LUA]
    out = subprocess.run(args + [url], capture_output=True, text=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(m.group(1)) if m else 0.0, int(bad.group(1)) if bad else 0


def appends(base, token, n):
    conn = http.client.HTTPConnection(base.hostname, base.port)
    h = {"Authorization": "Bearer " + token, "content-type": "application/json"}
    lat = []
    for i in range(n):
        body = json.dumps({"subject": "alice", "scopes": ["profile"], "reason": "support", "reference": f"bench-{time.time_ns()}-{i}"})
        t = time.perf_counter()
        st, data = call(conn, "POST", "/api/v1/staff/access", body, h)
        lat.append((time.perf_counter() - t) * 1000)
        assert st == 200, (st, data)
    lat.sort()
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=600)
    ap.add_argument("--appends", type=int, default=100)
    ap.add_argument("--secs", type=int, default=10)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kinora-log-")
    data = os.path.join(tmp, "data")
    srv = subprocess.Popen([KINORA, "serve", "--data", data, "--listen", "127.0.0.1:0", "--workers", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           env={**os.environ, "KINORA_RATE_LIMITS_WRITES_PER_MINUTE_PER_ACCOUNT": "1000000",
                                "KINORA_RATE_LIMITS_WRITES_PER_MINUTE_PER_IP": "1000000"})
    try:
        url = srv.stdout.readline().strip().split("listening on ")[1]
        base = urllib.parse.urlparse(url)
        conn = http.client.HTTPConnection(base.hostname, base.port)
        js = {"content-type": "application/json"}
        for u in ["alice", "mona"]:
            call(conn, "POST", "/api/v1/accounts", json.dumps({"username": u, "password": "bench-password"}), js)
        subprocess.run([KINORA, "staff", "grant", "mona", "--role", "moderator", "--data", data], check=True, capture_output=True)
        _, tok = call(conn, "POST", "/api/v1/auth/token", json.dumps({"username": "mona", "password": "bench-password"}), js)
        token = json.loads(tok)["access_token"]
        appends(base, token, a.entries)  # grow the log: full tiles exist
        idle = appends(base, token, a.appends)
        rows = []
        for name, path in [("hash tile 0/000", "/log/tile/0/000"), ("entry bundle", "/log/tile/entries/000"),
                           ("checkpoint", "/log/checkpoint"), ("/transparency", "/transparency")]:
            rps, bad = wrk(url + path, a.secs)
            rows.append((name, rps, bad))
        def under(delay_ms, conns):
            """Appends while wrk reads tiles and the report (at a fixed rate, or flat out)."""
            results = {}

            def load(path, key):
                results[key] = wrk(url + path, a.secs * 2, conns, delay_ms)

            ts = [threading.Thread(target=load, args=(p, k)) for p, k in [("/log/tile/0/000", "tile"), ("/transparency", "report")]]
            for t in ts:
                t.start()
            time.sleep(1)
            lat = appends(base, token, a.appends)
            for t in ts:
                t.join()
            return lat, results["tile"][0] + results["report"][0]

        # About 1,000 anonymous requests a second (2 x 8 connections, 16 ms apart).
        paced, paced_rps = under(16, 8)
        flat, flat_rps = under(None, 16)
        print(f"{'anonymous reader':<22} {'req/s':>10} {'non-2xx':>8}")
        for name, rps, bad in rows:
            print(f"{name:<22} {rps:>10.0f} {bad:>8}")
        print(f"{'staff append (ms)':<34} {'p50':>8} {'p99':>8} {'p50 ratio':>10}")
        print(f"{'no readers (reference)':<34} {idle[0]:>8.2f} {idle[1]:>8.2f} {1:>9.2f}x")
        print(f"{f'{paced_rps:.0f} anonymous req/s':<34} {paced[0]:>8.2f} {paced[1]:>8.2f} {paced[0] / idle[0]:>9.2f}x")
        print(f"{f'{flat_rps:.0f} anonymous req/s (flat out)':<34} {flat[0]:>8.2f} {flat[1]:>8.2f} {flat[0] / idle[0]:>9.2f}x")
    finally:
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()
