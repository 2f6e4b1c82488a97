#!/usr/bin/env python3
"""lepton vs ONNX Runtime vs PyTorch on ResNet-50, same machine, same run, same
thread count (issue 5's benchmark).

Model: torchvision resnet50 with seeded random weights (the FLOPs and memory
traffic of the real one; no ImageNet weights offline), written as a lepton
model directory (torchvision layout, model.safetensors) and exported to ONNX
(opset 17, dynamic batch). Workloads, 224x224 input:
  latency     batch 1: median forward time
  throughput  batch 8: images per second from the median batch time
lepton is timed with `lepton classify-image --repeat N` (forward only, on an
input preprocessed once; optional per-op profile with --profile). ONNX Runtime
runs with ORT_ENABLE_ALL, intra_op_num_threads=THREADS; PyTorch with
torch.set_num_threads(THREADS), eval + no_grad. Each side gets a warm-up.

Passes: the three sides run in turn, --passes times over (default 3), so each
pass sees the same machine load; the table gives the median over passes of
each side's median time, the minimum beside it, and the ratio of the medians.
On a shared machine read the ratios (taken in the same passes), and record
`uptime` with them.

Usage: python3 benchmarks/bench_resnet.py [--lepton build/tools/lepton] [--threads 2]
                                          [--iters 20] [--passes 3] [--out benchmarks/out]
                                          [--profile] [--baseline OLD_LEPTON]
Writes resnet.json and resnet.md under --out and prints the table. The
temporary model directory is removed at the end.
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.path.join(ROOT, "tests", "fixtures", "images", "rgb8.png")
GFLOP_PER_IMAGE = 8.2  # 4.1 GMAC at 224x224


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def lepton_times(lepton, model_dir, batch, iters, threads, profile):
    cmd = [lepton, "classify-image", "--model", model_dir, "--threads", str(threads), "--batch", str(batch),
           "--repeat", str(iters), "--top-k", "1"] + (["--profile"] if profile else []) + [IMAGE] * batch
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    report = json.loads(p.stderr.strip().splitlines()[-1])
    return report["median_ms"], report.get("profile")


def ort_times(onnx_path, x, iters, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    s.run(None, {"x": x})
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        s.run(None, {"x": x})
        ts.append((time.perf_counter() - t0) * 1e3)
    return median(ts), ort.__version__


def torch_times(model, x, iters, threads):
    torch.set_num_threads(threads)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        model(xt)
        ts = []
        for _ in range(iters):
            t0 = time.perf_counter()
            model(xt)
            ts.append((time.perf_counter() - t0) * 1e3)
    return median(ts)


def run_all(a, model, tmp, save_file):
    mdir = os.path.join(tmp, "resnet50")
    os.makedirs(mdir)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(mdir, "model.safetensors"))
    onnx_path = os.path.join(tmp, "resnet50.onnx")
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), onnx_path, dynamo=False, input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=17)
    rows, profile = [], None
    for batch in (1, 8):
        x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
        lep, ort_ms, pt_ms, base = [], [], [], []
        for p in range(a.passes):
            if a.baseline:
                base.append(lepton_times(a.baseline, mdir, batch, a.iters, a.threads, False)[0])
            ms, prof = lepton_times(a.lepton, mdir, batch, a.iters, a.threads, a.profile and batch == 1 and p == 0)
            lep.append(ms)
            profile = profile or prof
            ms, ort_version = ort_times(onnx_path, x, a.iters, a.threads)
            ort_ms.append(ms)
            pt_ms.append(torch_times(model, x, a.iters, a.threads))
        lm, om, pm = median(lep), median(ort_ms), median(pt_ms)
        rows.append({"batch": batch, "threads": a.threads, "passes": a.passes, "lepton_ms": lm,
                     "lepton_min_ms": min(lep), "onnxruntime_ms": om, "onnxruntime_min_ms": min(ort_ms),
                     "pytorch_ms": pm, "pytorch_min_ms": min(pt_ms),
                     "lepton_gflops": GFLOP_PER_IMAGE * batch / lm * 1e3,
                     "ratio_vs_onnxruntime": lm / om, "ratio_vs_pytorch": lm / pm,
                     "lepton_passes_ms": lep, "onnxruntime_passes_ms": ort_ms, "pytorch_passes_ms": pt_ms,
                     "onnxruntime": ort_version, "torch": torch.__version__,
                     "load_average": os.getloadavg()[0]})
        if base:
            rows[-1].update({"baseline_ms": median(base), "baseline_min_ms": min(base), "baseline_passes_ms": base,
                             "ratio_vs_baseline": lm / median(base)})
    return rows, profile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lepton", default=os.path.join(ROOT, "build", "tools", "lepton"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--baseline", help="another lepton binary (an older build) timed in the same passes")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "out"))
    ap.add_argument("--profile", action="store_true", help="add lepton's per-op profile (batch 1)")
    a = ap.parse_args()
    import torchvision
    from safetensors.torch import save_file
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval()
    tmp = tempfile.mkdtemp(prefix="lp_bench_resnet_")
    try:
        rows, profile = run_all(a, model, tmp, save_file)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "resnet.json"), "w") as f:
        json.dump({"rows": rows, "lepton_profile_batch1": profile}, f, indent=1)
    lines = ["| batch | threads | lepton ms (min) | ONNX Runtime ms (min) | PyTorch ms (min) | lepton / ORT "
             "| lepton / PyTorch | lepton GFLOP/s | load avg |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['batch']} | {r['threads']} | {r['lepton_ms']:.1f} ({r['lepton_min_ms']:.1f}) | "
                     f"{r['onnxruntime_ms']:.1f} ({r['onnxruntime_min_ms']:.1f}) | "
                     f"{r['pytorch_ms']:.1f} ({r['pytorch_min_ms']:.1f}) | {r['ratio_vs_onnxruntime']:.2f} | "
                     f"{r['ratio_vs_pytorch']:.2f} | {r['lepton_gflops']:.0f} | {r['load_average']:.1f} |")
    for r in rows:
        if "baseline_ms" in r:
            lines.append(f"\nbatch {r['batch']}: baseline lepton {r['baseline_ms']:.1f} ms "
                         f"(min {r['baseline_min_ms']:.1f}); this lepton / baseline = {r['ratio_vs_baseline']:.2f}")
    lines.append("")
    lines.append(f"median of {a.passes} passes (min in parentheses), {a.iters} timed runs each")
    if profile:
        lines += ["", "lepton per-op profile, batch 1 (all timed runs):", "", "| op | calls | ms | GFLOP/s |",
                  "|---|---|---|---|"]
        for op, e in sorted(profile.items(), key=lambda kv: -kv[1]["ms"]):
            gfs = e["gflop"] / (e["ms"] / 1e3) if e["ms"] and e["gflop"] else 0
            lines.append(f"| {op} | {e['calls']} | {e['ms']:.1f} | {gfs:.0f} |")
    table = "\n".join(lines)
    with open(os.path.join(a.out, "resnet.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
