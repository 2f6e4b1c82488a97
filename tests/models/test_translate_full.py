"""`lepton translate` on the full-size random opus-mt-zh-en model (6+6 layers, d_model 512,
vocabulary 65001) against transformers' generate(), greedy and beam 4, 16 inputs in
one batch (Chinese and English), max_length 32. Needs torch and transformers to make the model and
the reference (tools/make_marian_fixtures.py --full, 310 MB in the temp directory, kept
for the next run), so it is skipped where they are missing (CI). Ids identical; scores
within 1e-4 absolute."""
import json
import os
import subprocess
import sys
import tempfile

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

ROOT = os.environ.get("LP_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
LEPTON = os.environ.get("LEPTON", os.path.join(ROOT, "build", "tools", "lepton"))
PAIRS = os.path.join(ROOT, "..", "shared", "data", "parallel", "cmn-eng_tatoeba_every10th.tsv")
MAX_LENGTH = 32


@pytest.fixture(scope="module")
def model():
    d = os.path.join(tempfile.gettempdir(), "lepton-marian-full")
    if not os.path.exists(os.path.join(d, "model.safetensors")):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_marian_fixtures.py"), "--full", d],
                       check=True, cwd=ROOT, capture_output=True)
    return d


def texts():
    with open(PAIRS, encoding="utf-8") as f:
        rows = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    return [r[1] for r in rows[5::361]][:8] + [r[0] for r in rows[7::361]][:8]


def reference(d, items, beams):
    from transformers import MarianMTModel, MarianTokenizer
    tok = MarianTokenizer(d + "/source.spm", d + "/target.spm", d + "/vocab.json")
    m = MarianMTModel.from_pretrained(d, dtype=torch.float32).eval()
    out = []
    with torch.inference_mode():
        for b in range(0, len(items), 16):
            enc = tok(items[b:b + 16], return_tensors="pt", padding=True)
            g = m.generate(**enc, num_beams=beams, max_length=MAX_LENGTH, output_scores=True,
                           return_dict_in_generate=True)
            for i in range(g.sequences.shape[0]):
                ids = g.sequences[i, 1:].tolist()
                while ids and ids[-1] == m.config.pad_token_id:
                    ids.pop()
                if beams > 1:
                    score = float(g.sequences_scores[i])
                else:
                    score = sum(torch.log_softmax(g.scores[t][i].double(), -1)[tid].item()
                                for t, tid in enumerate(ids)) / max(1, len(ids))
                out.append((ids, score))
    return out


@pytest.mark.parametrize("beams", [1, 4])
def test_full_size_matches_transformers(model, beams):
    items = texts()
    want = reference(model, items, beams)
    p = subprocess.run([LEPTON, "translate", "--model", model, "--beam", str(beams), "--max-length",
                        str(MAX_LENGTH), "--batch-size", "16", "--threads", "2"],
                       input="".join(t + "\n" for t in items).encode(), capture_output=True, timeout=900,
                       env=dict(os.environ, OMP_WAIT_POLICY="passive"))
    assert p.returncode == 0, p.stderr.decode()
    got = [json.loads(l) for l in p.stdout.decode().splitlines()]
    assert len(got) == len(items)
    same = sum(g["ids"] == w[0] for g, w in zip(got, want))
    assert same == len(items), f"{same}/{len(items)} identical"
    for g, w in zip(got, want):
        assert abs(g["score"] - w[1]) <= 1e-4
