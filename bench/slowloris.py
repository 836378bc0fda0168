#!/usr/bin/env python3
"""Slowloris: does a normal client still get served while 1,000 connections dribble
their headers a byte at a time? (Review finding 2.)

Usage: bench/slowloris.py [--slow 1000] [--requests 200] [--bin PATH]
Builds nothing: run `cargo build --release` first (scripts/bench does); --bin picks
another kinora binary. Reference: the same normal client against the same server with
no slow connections open, in the same run. Prints a table of latencies and the ratio,
and how many slow connections the server had closed by the end (header timeout).
"""
import argparse, os, resource, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINORA = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "kinora")


def latencies(base, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        with urllib.request.urlopen(base + "/healthz", timeout=30) as r:
            r.read()
        out.append((time.perf_counter() - t) * 1000)
    return out


def row(name, xs):
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
    return name, statistics.median(xs), p99, max(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--slow", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--header-timeout", type=int, default=10)
    ap.add_argument("--bin", default=KINORA)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, a.slow + 256)), hard))
    data = tempfile.mkdtemp(prefix="kinora-slowloris-")
    env = dict(os.environ, KINORA_SERVER_HEADER_TIMEOUT_SECS=str(a.header_timeout), KINORA_WORKERS="0")
    p = subprocess.Popen([a.bin, "serve", "--data", data, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        base = None
        for line in p.stdout:
            if line.startswith("kinora listening on "):
                base = line.split()[-1].strip()
                break
        threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
        host, port = base.removeprefix("http://").split(":")
        latencies(base, 20)  # warm up
        quiet = latencies(base, a.requests)

        slow, stop = [], threading.Event()
        for _ in range(a.slow):
            s = socket.create_connection((host, int(port)))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)

        def dribble():
            # One header byte per second per connection, the classic slowloris.
            while not stop.is_set():
                for s in slow:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
                stop.wait(1.0)

        t = threading.Thread(target=dribble, daemon=True)
        t.start()
        time.sleep(1.0)
        loaded = latencies(base, a.requests)
        # Wait past the header timeout, then count the connections the server closed.
        time.sleep(a.header_timeout + 2)
        stop.set()
        closed = 0
        for s in slow:
            s.settimeout(0.05)
            try:
                s.recv(1024)  # end of stream, or the server's answer before closing
                closed += 1
            except (socket.timeout, BlockingIOError):
                pass
            except OSError:
                closed += 1
            s.close()
        print(f"{a.slow} slow connections (a header byte a second), header timeout {a.header_timeout} s; "
              f"{a.requests} sequential GET /healthz each")
        print(f"{'normal client':32} {'median ms':>10} {'p99 ms':>10} {'max ms':>10}")
        rows = [row("alone (reference)", quiet), row(f"beside {a.slow} slow connections", loaded)]
        for name, med, p99, mx in rows:
            print(f"{name:32} {med:10.2f} {p99:10.2f} {mx:10.2f}")
        print(f"ratio (median, loaded / alone): {rows[1][1] / rows[0][1]:.2f}")
        print(f"slow connections closed by the server after the header timeout: {closed}/{a.slow}")
    finally:
        p.terminate()
        p.wait()


if __name__ == "__main__":
    sys.exit(main())
