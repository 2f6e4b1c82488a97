#!/usr/bin/env python3
"""Translation throughput: lepton vs CTranslate2 vs transformers on the same Marian
model, the same inputs, beam 4, batch 16, the same threads, in one run.

    python3 benchmarks/bench_translate.py [--model DIR] [--n 64] [--beam 4] [--batch 16]
        [--threads 2] [--max-length 128] [--lepton build/tools/lepton] [--out benchmarks/results]

--model: a MarianMTModel directory. Without one, the full-size random opus-mt-zh-en
model (6+6 layers, d_model 512, vocabulary 65001, f32) is made with
tools/make_marian_fixtures.py --full (needs torch) in /tmp. No opus-mt weights exist
offline, so the outputs are random text; the work per token is the real model's.

Each engine runs in its own process (peak memory = that process's max RSS, the model
included) on the first --n Chinese sentences of the Tatoeba pairs, sorted by nothing.
Target tokens per second counts the generated tokens (eos excluded) of that engine's own
outputs. The ids of lepton and transformers are compared (same algorithm: they must be
identical); CTranslate2's decoding differs in detail, so its agreement is only reported:
it does not force eos at max_length (generation_config's forced_eos_token_id), does not
renormalise the logits after bad_words_ids, and does not let eos be the first token (on
this random model, whose outputs often end at step 1 or run to max_length, that changes
nearly every output; the work per generated token is the same). CTranslate2 (PyPI ctranslate2) converts the model with its
TransformersConverter (fp32, no quantization) into DIR-ct2 once. Every process gets
OMP_WAIT_POLICY=passive; lepton --threads, CTranslate2 intra_threads and
torch.set_num_threads are all --threads. The machine's load average is recorded: on a
shared machine the numbers move with it.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAIRS = os.path.join(ROOT, "..", "shared", "data", "parallel", "cmn-eng_tatoeba_every10th.tsv")

CT2_CHILD = r"""
import json, sys, time, os
import ctranslate2
from transformers import MarianTokenizer
a = json.loads(sys.argv[1])
d = a["model"]
tok = MarianTokenizer(d + "/source.spm", d + "/target.spm", d + "/vocab.json")
texts = [l.rstrip("\n") for l in open(a["inputs"], encoding="utf-8")]
src = [tok.convert_ids_to_tokens(tok(t).input_ids) for t in texts]
tr = ctranslate2.Translator(a["ct2"], device="cpu", compute_type="float32", intra_threads=a["threads"],
                            inter_threads=1)
t0 = time.perf_counter()
res = tr.translate_batch(src, max_batch_size=a["batch"], beam_size=a["beam"],
                         max_decoding_length=a["max_length"] - 1, length_penalty=1.0, return_scores=True)
dt = time.perf_counter() - t0
out = [tok.convert_tokens_to_ids(r.hypotheses[0]) for r in res]
json.dump({"seconds": dt, "ids": out}, open(a["result"], "w"))
"""

HF_CHILD = r"""
import json, sys, time
import torch
from transformers import MarianMTModel, MarianTokenizer
a = json.loads(sys.argv[1])
torch.set_num_threads(a["threads"])
d = a["model"]
tok = MarianTokenizer(d + "/source.spm", d + "/target.spm", d + "/vocab.json")
m = MarianMTModel.from_pretrained(d, dtype=torch.float32).eval()
texts = [l.rstrip("\n") for l in open(a["inputs"], encoding="utf-8")]
out = []
t0 = time.perf_counter()
with torch.inference_mode():
    for b in range(0, len(texts), a["batch"]):
        enc = tok(texts[b:b + a["batch"]], return_tensors="pt", padding=True)
        seq = m.generate(**enc, num_beams=a["beam"], max_length=a["max_length"])
        for row in seq.tolist():
            row = row[1:]
            while row and row[-1] == m.config.pad_token_id:
                row.pop()
            out.append(row)
dt = time.perf_counter() - t0
json.dump({"seconds": dt, "ids": out}, open(a["result"], "w"))
"""


def child_rss(cmd, stdin_path=None, env=None):
    """Runs cmd with its own rusage; returns (wall, max RSS MiB, stdout)."""
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=fin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read()
    errb = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if stdin_path:
        fin.close()
    if status != 0:
        raise RuntimeError(f"{cmd[0]} failed ({status}): {errb.decode()[-2000:]}")
    return dt, ru.ru_maxrss / 1024.0, out


def gen_tokens(ids, eos=0):
    return sum(len(r) - (1 if r and r[-1] == eos else 0) for r in ids)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--lepton", default=os.path.join(ROOT, "build", "tools", "lepton"))
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    ap.add_argument("--skip", default="", help="comma-separated engines to skip: ct2,transformers")
    args = ap.parse_args()

    model = args.model or os.path.join(tempfile.gettempdir(), "lepton-marian-full")
    if not os.path.exists(os.path.join(model, "model.safetensors")):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_marian_fixtures.py"), "--full", model],
                       check=True, cwd=ROOT)
    with open(PAIRS, encoding="utf-8") as f:
        zh = [l.rstrip("\n").split("\t")[1] for l in f if l.strip()]
    step = max(1, len(zh) // args.n)
    texts = zh[::step][:args.n]
    work = tempfile.mkdtemp(prefix="bench_translate_")
    inputs = os.path.join(work, "inputs.txt")
    with open(inputs, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in texts))
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    load_before = os.getloadavg()
    results = {}

    # lepton
    dt, rss, out = child_rss([args.lepton, "translate", "--model", model, "--beam", str(args.beam), "--max-length",
                              str(args.max_length), "--batch-size", str(args.batch), "--threads", str(args.threads)],
                             inputs, env)
    rows = [json.loads(l) for l in out.decode().splitlines()]
    # The same command on empty input: loading alone, subtracted (best of 3).
    empty = os.path.join(work, "empty.txt")
    open(empty, "w").close()
    load = min(child_rss([args.lepton, "translate", "--model", model, "--threads", str(args.threads)], empty,
                         env)[0] for _ in range(3))
    results["lepton"] = {"seconds": dt - load, "process_seconds": dt, "rss_mib": rss, "ids": [r["ids"] for r in rows],
                         "note": f"process minus loading ({load:.2f} s)"}

    skip = set(s for s in args.skip.split(",") if s)
    if "ct2" not in skip:
        ct2 = model.rstrip("/") + "-ct2"
        if not os.path.exists(os.path.join(ct2, "model.bin")):
            import ctranslate2
            ctranslate2.converters.TransformersConverter(model).convert(ct2, force=True)
        res = os.path.join(work, "ct2.json")
        a = dict(model=model, ct2=ct2, inputs=inputs, threads=args.threads, batch=args.batch, beam=args.beam,
                 max_length=args.max_length, result=res)
        dt, rss, _ = child_rss([sys.executable, "-c", CT2_CHILD, json.dumps(a)], None, env)
        r = json.load(open(res))
        results["ctranslate2"] = {"seconds": r["seconds"], "process_seconds": dt, "rss_mib": rss,
                                  "ids": [x + [0] if len(x) < args.max_length - 1 else x for x in r["ids"]],
                                  "note": "translate_batch only"}
    if "transformers" not in skip:
        res = os.path.join(work, "hf.json")
        a = dict(model=model, inputs=inputs, threads=args.threads, batch=args.batch, beam=args.beam,
                 max_length=args.max_length, result=res)
        dt, rss, _ = child_rss([sys.executable, "-c", HF_CHILD, json.dumps(a)], None, env)
        r = json.load(open(res))
        results["transformers"] = {"seconds": r["seconds"], "process_seconds": dt, "rss_mib": rss, "ids": r["ids"],
                                   "note": "generate() only"}
    load_after = os.getloadavg()

    ref = results.get("transformers", {}).get("ids")
    table = []
    for name, r in results.items():
        toks = gen_tokens(r["ids"])
        row = {"engine": name, "seconds": round(r["seconds"], 3), "target_tokens": toks,
               "tokens_per_s": round(toks / r["seconds"], 1), "peak_rss_mib": round(r["rss_mib"], 1),
               "timed": r["note"]}
        if ref is not None:
            row["same_ids_as_transformers"] = sum(a == b for a, b in zip(r["ids"], ref))
        table.append(row)
    meta = {"model": model, "inputs": len(texts), "beam": args.beam, "batch": args.batch, "threads": args.threads,
            "max_length": args.max_length, "loadavg_before": load_before, "loadavg_after": load_after,
            "nproc": os.cpu_count()}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "translate.json"), "w") as f:
        json.dump({"meta": meta, "results": table}, f, indent=1)
    lines = [f"beam {args.beam}, batch {args.batch}, {args.threads} threads, {len(texts)} inputs, max_length "
             f"{args.max_length}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after", "",
             "| engine | target tokens | seconds | tokens/s | peak RSS MiB | ids = transformers | timed |",
             "|---|---|---|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['engine']} | {r['target_tokens']} | {r['seconds']} | {r['tokens_per_s']} | "
                     f"{r['peak_rss_mib']} | {r.get('same_ids_as_transformers', '-')}/{len(texts)} | {r['timed']} |")
    if "ctranslate2" in results:
        lp = next(r for r in table if r["engine"] == "lepton")
        ct = next(r for r in table if r["engine"] == "ctranslate2")
        lines.append("")
        lines.append(f"lepton / CTranslate2 tokens/s: {lp['tokens_per_s'] / ct['tokens_per_s']:.2f}")
        lines.append("")
        lines.append("CTranslate2 forces no eos at max_length and never ends at step 1, so its outputs differ "
                     "from generate()'s (see the script's docstring); each engine's tokens/s counts its own outputs.")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "translate.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
