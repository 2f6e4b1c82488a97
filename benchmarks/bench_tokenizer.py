#!/usr/bin/env python3
"""lepton's tokenizer vs HF tokenizers, same machine, same run (issue 3's benchmark).

Throughput: tests/fixtures/tokenizer/corpus.txt repeated to >= --mb MB (default 10), one text
per line, encoded by
  * HF tokenizers `Tokenizer.encode_batch(lines)` with RAYON_NUM_THREADS=1 and =2 (each in
    its own process, since rayon's pool size is fixed at first use; the file's truncation and
    padding switched off). Only the encode_batch call is timed: no loading, no output.
  * `lepton tokenize --tokenizer PATH < file > /dev/null`, timed end to end: process start,
    loading, reading, encoding AND formatting every encoding as JSON (ids, tokens, offsets).
    That is more work than HF is timed for, so the ratio is conservative. Two threads only
    if `lepton tokenize` has a `--threads` option (else n/a).
Reported: MB/s of input text, tokens/s (HF's token count, special tokens included), the
ratio lepton / HF at the same thread count. Best of --repeat runs.

Loading: a synthetic Unigram tokenizer.json with --vocab entries (default 250,000; made at run
time in a temporary directory, never committed): HF `Tokenizer.from_file` (in process) vs
`lepton tokenize --tokenizer big.json < /dev/null` (a whole process: start, load, exit; the
same command on a 10-entry file is reported too, as the process floor). Best of --repeat.

SentencePiece models: HF has no .model reader; its side uses the tokenizers conversion in
tools/make_tokenizer_fixtures.py (needs protobuf + sentencepiece), lepton reads the .model.

Usage: python3 benchmarks/bench_tokenizer.py [--lepton build/tools/lepton] [--mb 10]
                                             [--repeat 3] [--only NAME ...] [--vocab 250000]
Writes benchmarks/out/tokenizer.json and prints a markdown table.
"""
import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
SHARED = os.path.join(ROOT, "..", "shared", "data", "tokenizers")

# name, path, kind (hf: tokenizer.json; spm: SentencePiece model)
TOKENIZERS = [
    ("bert-base-uncased", os.path.join(SHARED, "bert-base-uncased", "tokenizer.json"), "hf"),
    ("bert-base-chinese", os.path.join(SHARED, "bert-base-chinese", "tokenizer.json"), "hf"),
    ("bert-base-multilingual-cased", os.path.join(SHARED, "bert-base-multilingual-cased", "tokenizer.json"), "hf"),
    ("roberta-gpt2", os.path.join(FIX, "derived", "roberta-gpt2", "tokenizer.json"), "hf"),
    ("minimind", os.path.join(SHARED, "minimind", "tokenizer.json"), "hf"),
    ("trained-unigram-8k", os.path.join(FIX, "trained", "unigram-8k", "tokenizer.json"), "hf"),
    ("opus-mt-zh-en-source", os.path.join(SHARED, "opus-mt-zh-en", "source.spm"), "spm"),
]


# ----------------------------------------------------------------------------- HF side (worker process)

def hf_tokenizer(path, kind):
    from tokenizers import Tokenizer
    if kind == "spm":
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        from make_tokenizer_fixtures import spm_to_hf
        tok = spm_to_hf(path)
    else:
        tok = Tokenizer.from_file(path)
    tok.no_truncation()
    tok.no_padding()
    return tok


def hf_worker(args):
    """Runs in a child process whose RAYON_NUM_THREADS is already set."""
    tok = hf_tokenizer(args.path, args.kind)
    with open(args.input, encoding="utf-8") as f:
        lines = f.read()[:-1].split("\n")
    tok.encode_batch(lines[:2000])                        # warm the pool and caches
    best, tokens = None, 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        encs = tok.encode_batch(lines)
        dt = time.perf_counter() - t0
        tokens = sum(len(e.ids) for e in encs)
        del encs
        best = dt if best is None else min(best, dt)
    print(json.dumps({"seconds": best, "tokens": tokens}))


def run_hf(path, kind, input_path, threads, repeat):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
    cmd = [sys.executable, os.path.abspath(__file__), "--hf-worker", "--path", path, "--kind", kind,
           "--input", input_path, "--repeat", str(repeat)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().split("\n")[-1])


# ----------------------------------------------------------------------------- lepton side

def lepton_threads_option(lepton):
    r = subprocess.run([lepton, "tokenize", "--help"], capture_output=True, text=True)
    return "--threads" in (r.stdout + r.stderr)


def run_lepton(lepton, path, input_path, threads, repeat, has_threads):
    args = [lepton, "tokenize", "--tokenizer", path]
    if has_threads:
        args += ["--threads", str(threads)]
    best = None
    for _ in range(repeat):
        with open(input_path, "rb") as fin, open(os.devnull, "wb") as fout:
            t0 = time.perf_counter()
            r = subprocess.run(args, stdin=fin, stdout=fout, stderr=subprocess.PIPE)
            dt = time.perf_counter() - t0
        if r.returncode != 0:
            return {"error": r.stderr.decode("utf-8", "replace").strip()[:300]}
        best = dt if best is None else min(best, dt)
    return {"seconds": best}


# ----------------------------------------------------------------------------- inputs

def make_input(path, mb):
    with open(os.path.join(FIX, "corpus.txt"), encoding="utf-8") as f:
        block = f.read()
    reps = -(-int(mb * 1e6) // len(block.encode("utf-8")))
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(block * reps)
    return os.path.getsize(path), block.count("\n") * reps


def make_big_unigram(path, n, seed=1234):
    """A Unigram tokenizer.json with n pieces (Metaspace + NFKC-free, as simple as loading gets)."""
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(0x61, 0x7B)] + [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    pieces, seen = [["<unk>", 0.0], ["<s>", 0.0], ["</s>", 0.0]], {"<unk>", "<s>", "</s>"}
    while len(pieces) < n:
        p = ("▁" if rng.random() < 0.3 else "") + "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        if p not in seen:
            seen.add(p)
            pieces.append([p, -rng.uniform(2.0, 20.0)])
    data = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
             "special": True} for i, t in enumerate(["<unk>", "<s>", "</s>"])],
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "post_processor": None,
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": 0, "vocab": pieces, "byte_fallback": False},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)


def time_load(lepton, path, repeat):
    from tokenizers import Tokenizer
    hf = min(timed(lambda: Tokenizer.from_file(path)) for _ in range(repeat))
    lp, err = None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run([lepton, "tokenize", "--tokenizer", path], stdin=subprocess.DEVNULL,
                           capture_output=True)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            err = r.stderr.decode("utf-8", "replace").strip()[:300]
            break
        lp = dt if lp is None else min(lp, dt)
    return hf, lp, err


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- main

def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lepton", default=os.path.join(ROOT, "build", "tools", "lepton"))
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--vocab", type=int, default=250000)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "out"))
    ap.add_argument("--hf-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hf_worker:
        return hf_worker(args)

    import tokenizers
    lepton = os.path.abspath(args.lepton)
    has_threads = lepton_threads_option(lepton)
    results = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "python": platform.python_version(), "tokenizers": tokenizers.__version__,
                           "loadavg_before": os.getloadavg()},
               "lepton": lepton, "lepton_threads_option": has_threads, "throughput": [], "load": None}
    with tempfile.TemporaryDirectory() as tmp:
        input_path = os.path.join(tmp, "input.txt")
        nbytes, nlines = make_input(input_path, args.mb)
        results["input"] = {"bytes": nbytes, "lines": nlines, "source": "tests/fixtures/tokenizer/corpus.txt repeated"}
        print(f"input: {nbytes / 1e6:.1f} MB, {nlines} lines; lepton --threads: {'yes' if has_threads else 'no'}",
              file=sys.stderr)
        for name, path, kind in TOKENIZERS:
            if args.only and name not in args.only:
                continue
            for threads in (1, 2):
                hf = run_hf(path, kind, input_path, threads, args.repeat)
                lp = (run_lepton(lepton, path, input_path, threads, args.repeat, has_threads)
                      if threads == 1 or has_threads else {"seconds": None})
                row = {"tokenizer": name, "threads": threads, "tokens": hf["tokens"],
                       "hf_seconds": hf["seconds"], "lepton_seconds": lp.get("seconds"),
                       "lepton_error": lp.get("error")}
                for side in ("hf", "lepton"):
                    s = row[f"{side}_seconds"]
                    row[f"{side}_mb_s"] = nbytes / 1e6 / s if s else None
                    row[f"{side}_tokens_s"] = hf["tokens"] / s if s else None
                row["ratio"] = (row["hf_seconds"] / row["lepton_seconds"]) if row["lepton_seconds"] else None
                results["throughput"].append(row)
                print(f"  {name} x{threads}: HF {row['hf_mb_s']:.2f} MB/s, lepton "
                      f"{fmt(row['lepton_mb_s'], '.2f')} MB/s {row['lepton_error'] or ''}", file=sys.stderr)

        big = os.path.join(tmp, "unigram-big", "tokenizer.json")
        small = os.path.join(tmp, "unigram-small", "tokenizer.json")
        os.makedirs(os.path.dirname(big))
        os.makedirs(os.path.dirname(small))
        make_big_unigram(big, args.vocab)
        make_big_unigram(small, 10)
        hf_big, lp_big, err_big = time_load(lepton, big, max(args.repeat, 5))
        hf_small, lp_small, err_small = time_load(lepton, small, max(args.repeat, 5))
        results["load"] = {"vocab": args.vocab, "file_bytes": os.path.getsize(big),
                           "hf_seconds": hf_big, "lepton_process_seconds": lp_big, "lepton_error": err_big,
                           "hf_seconds_10_entries": hf_small, "lepton_process_seconds_10_entries": lp_small,
                           "lepton_error_10_entries": err_small}

    results["machine"]["loadavg_after"] = os.getloadavg()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w") as f:
        json.dump(results, f, indent=1)

    print(f"\nTokenizer throughput: {results['input']['bytes'] / 1e6:.1f} MB of corpus.txt repeated "
          f"({results['input']['lines']} lines), best of {args.repeat}. HF: encode_batch only; lepton: "
          "`lepton tokenize` end to end (start, load, JSON output to /dev/null). Load average "
          f"{results['machine']['loadavg_before'][0]:.1f} before, {results['machine']['loadavg_after'][0]:.1f} after "
          f"({results['machine']['cores']} cores).\n")
    print("| tokenizer | threads | tokens | HF MB/s | lepton MB/s | HF Mtok/s | lepton Mtok/s | lepton / HF |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results["throughput"]:
        lp_tok = r["lepton_tokens_s"] / 1e6 if r["lepton_tokens_s"] else None
        print(f"| {r['tokenizer']} | {r['threads']} | {r['tokens']} | {r['hf_mb_s']:.2f} | "
              f"{fmt(r['lepton_mb_s'], '.2f')} | {r['hf_tokens_s'] / 1e6:.2f} | {fmt(lp_tok, '.2f')} | "
              f"{fmt(r['ratio'], '.2f')}{' (' + r['lepton_error'] + ')' if r['lepton_error'] else ''} |")
    ld = results["load"]
    ms = lambda s: None if s is None else s * 1e3  # noqa: E731
    print(f"\nLoading a {ld['vocab']}-entry Unigram tokenizer.json ({ld['file_bytes'] / 1e6:.1f} MB), best of "
          f"{max(args.repeat, 5)}:\n")
    print("| | HF Tokenizer.from_file (ms) | lepton process: start + load + exit (ms) |")
    print("|---|---:|---:|")
    print(f"| {ld['vocab']} entries | {ld['hf_seconds'] * 1e3:.1f} | {fmt(ms(ld['lepton_process_seconds']), '.1f')}"
          f"{' (' + ld['lepton_error'] + ')' if ld['lepton_error'] else ''} |")
    print(f"| 10 entries (floor) | {ld['hf_seconds_10_entries'] * 1e3:.1f} | "
          f"{fmt(ms(ld['lepton_process_seconds_10_entries']), '.1f')} |")


if __name__ == "__main__":
    sys.exit(main())
