#!/usr/bin/env python3
"""Load test for `brushwork serve` on loopback: N POST /v1/stylize requests of one photo from C
concurrent clients. Prints throughput, latency percentiles of the answered requests, every
status seen, and the server's resident memory before, right after and after a pause.

Standard library only. Usage:
  scripts/serve_load.py --url http://127.0.0.1:8080/ --pid PID --photo P.jpg \
      [--requests 500] [--clients 16] [--style towers]
"""

import argparse
import collections
import http.client
import statistics
import threading
import time
import urllib.parse
import uuid


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def form(photo, style):
    boundary = uuid.uuid4().hex
    parts = [
        (b'Content-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
         b"Content-Type: image/jpeg\r\n\r\n" + photo),
        b'Content-Disposition: form-data; name="style"\r\n\r\n' + style.encode(),
        b'Content-Disposition: form-data; name="format"\r\n\r\njpg',
    ]
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    body += b"--" + boundary.encode() + b"--\r\n"
    return f"multipart/form-data; boundary={boundary}", body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--photo", required=True)
    ap.add_argument("--style", default="towers")
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args()

    url = urllib.parse.urlparse(args.url)
    content_type, body = form(open(args.photo, "rb").read(), args.style)
    headers = {"Content-Type": content_type}

    def post():
        c = http.client.HTTPConnection(url.hostname, url.port, timeout=300)
        t = time.perf_counter()
        c.request("POST", "/v1/stylize", body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        retry = r.getheader("Retry-After")
        c.close()
        return r.status, time.perf_counter() - t, retry, data

    # Warm-up: every stylizer has run this size once.
    for _ in range(4):
        status, _, _, data = post()
        assert status == 200, (status, data[:200])
    before = rss_mb(args.pid)

    lock = threading.Lock()
    remaining = [args.requests]
    latencies = []
    statuses = collections.Counter()
    problems = []

    def client():
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            try:
                status, seconds, retry, data = post()
            except Exception as e:  # a hang or a reset is a failure of the server
                with lock:
                    statuses["exception"] += 1
                    problems.append(repr(e))
                continue
            with lock:
                statuses[status] += 1
                if status == 200:
                    latencies.append(seconds)
                elif status == 503:
                    if retry is None:
                        problems.append("503 without Retry-After")
                    time.sleep(0.05)  # a polite client backs off a little
                else:
                    problems.append(f"{status}: {data[:200]!r}")

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    peak = before
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_mb(args.pid))
        time.sleep(0.2)
    wall = time.perf_counter() - start
    after = rss_mb(args.pid)
    time.sleep(5)
    rested = rss_mb(args.pid)

    ms = sorted(x * 1e3 for x in latencies)

    def pct(p):
        return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))] if ms else float("nan")

    print(f"requests {args.requests} from {args.clients} clients in {wall:.1f} s")
    print(f"statuses {dict(statuses)}")
    print(f"answered {len(ms)}: {len(ms) / wall:.2f} pictures/s")
    if ms:
        print(f"latency ms: p50 {pct(50):.0f}  p95 {pct(95):.0f}  p99 {pct(99):.0f}  "
              f"max {ms[-1]:.0f}  mean {statistics.mean(ms):.0f}")
    print(f"server RSS MB: before {before:.0f}  peak {peak:.0f}  after {after:.0f}  "
          f"after 5 s {rested:.0f}")
    if problems:
        print(f"PROBLEMS ({len(problems)}): {problems[:5]}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
