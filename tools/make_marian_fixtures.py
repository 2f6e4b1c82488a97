#!/usr/bin/env python3
"""Reference fixtures for lepton's Marian translator (models/marian*, models/translator*).

Builds a MarianMTModel from opus-mt-zh-en's real config.json (shrunk: 2+2
layers, d_model 16, the real 65001-token vocabulary) with seeded random
weights, saves it as a Hugging Face model directory (weights stored as f16 to
keep the committed file near 2 MB; the reference runs in f32 on exactly those
weights), and records what transformers produces:

  tests/fixtures/marian/zh-en-tiny/        config.json, generation_config.json,
                                           model.safetensors (+ symlinks to the
                                           real source.spm, target.spm, vocab.json)
  tests/fixtures/marian/generate.jsonl     per input: source text, source ids,
                                           greedy and beam-4 ids and scores (greedy: the sum of log-probabilities;
                                           beam: sequences_scores)
  tests/fixtures/marian/tokenizer.jsonl    MarianTokenizer: text -> ids, ids -> text

Random weights make degenerate translators (they repeat until max_length), so
the eos logit gets a bias (final_logits_bias[eos] = 8) that lets it win at some
steps but not at others: the outputs then end at lengths from 1 to max_length.

With --full DIR it writes only the full-size random model (6+6 layers,
d_model 512, f32, 310 MB) for benchmarks (never committed); its weight scales
shrink with the width so its logits spread as the shrunk model's do.

Needs torch, transformers, sentencepiece. Run from the project root:
    python3 tools/make_marian_fixtures.py
"""
import argparse
import json
import math
import os
import random
import shutil
import sys

import torch
from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
TOKDIR = os.path.join(SHARED, "tokenizers", "opus-mt-zh-en")
PAIRS = os.path.join(SHARED, "parallel", "cmn-eng_tatoeba_every10th.tsv")
OUT = os.path.join("tests", "fixtures", "marian")
MAX_LENGTH = 48
EOS_BIAS = 8.0


def tokenizer():
    return MarianTokenizer(os.path.join(TOKDIR, "source.spm"), os.path.join(TOKDIR, "target.spm"),
                           os.path.join(TOKDIR, "vocab.json"), source_lang="zho", target_lang="eng")


def random_model(shrink, seed):
    cfg = MarianConfig.from_pretrained(TOKDIR)
    if shrink:
        cfg.update(dict(d_model=16, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32))
    torch.manual_seed(seed)
    m = MarianMTModel(cfg).eval()
    m.generation_config = GenerationConfig.from_pretrained(TOKDIR)
    # Weight scales shrink with the width (the shrunk model is the reference
    # point), so logits keep the spread that lets eos win at some steps.
    k = (16.0 / cfg.d_model) ** 0.5
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "embed_positions" in name:
                continue
            if p.dim() == 2:
                p.normal_(0, (0.5 if "shared" in name else 0.3) * k)
            elif "layer_norm" in name and name.endswith("weight"):
                p.uniform_(0.8, 1.2)
            else:
                p.normal_(0, 0.1)
        m.final_logits_bias.normal_(0, 1.0)
        # the full-size model's logits spread a little wider: eos needs more
        m.final_logits_bias[0, cfg.eos_token_id] = EOS_BIAS if shrink else 10.0
    return m


def save_model(m, d, dtype):
    os.makedirs(d, exist_ok=True)
    m.to(dtype).save_pretrained(d, safe_serialization=True)
    m.float()
    for f in ("source.spm", "target.spm", "vocab.json"):
        p = os.path.join(d, f)
        if os.path.lexists(p):
            os.remove(p)
        os.symlink(os.path.relpath(os.path.join(TOKDIR, f), d), p)
    shutil.copy(os.path.join(TOKDIR, "generation_config.json"), os.path.join(d, "generation_config.json"))


def read_pairs():
    with open(PAIRS, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    return [r[0] for r in rows], [r[1] for r in rows]


def inputs(tok, en, zh):
    """>= 200 inputs, Chinese and English, 1 to 200 source tokens."""
    rnd = random.Random(7)
    texts = []
    texts += zh[::29][:100]
    texts += en[::29][:100]
    # Long inputs: consecutive sentences joined until the target token count.
    for lang, side, sep in (("zh", zh, ""), ("en", en, " ")):
        for target in (40, 80, 120, 160, 199):
            start = rnd.randrange(len(side))
            s = side[start]
            i = start + 1
            while True:
                nxt = s + sep + side[i % len(side)]
                if len(tok(nxt).input_ids) > target:
                    break
                s = nxt
                i += 1
            texts.append(s)
    texts += ["", "好", "a", "。", "Hello", "你好，世界！", "  spaces   around  ", "Mixed 中文 and English 123.",
              "emoji 🙂 here", "Tab\tand\u00a0nbsp", ">>eng<< 你好", "<unk> </s> literal", "ＦＵＬＬ-width ０１２"]
    return texts


def run_generate(m, tok, texts, batch):
    out = []
    for b in range(0, len(texts), batch):
        chunk = texts[b:b + batch]
        enc = tok(chunk, return_tensors="pt", padding=True)
        with torch.no_grad():
            g = m.generate(**enc, max_length=MAX_LENGTH, num_beams=1, output_scores=True,
                           return_dict_in_generate=True)
            bm = m.generate(**enc, max_length=MAX_LENGTH, num_beams=4, output_scores=True,
                            return_dict_in_generate=True)
        for i, text in enumerate(chunk):
            src = enc.input_ids[i][enc.attention_mask[i].bool()].tolist()
            gids, score = [], 0.0
            for t in range(1, g.sequences.shape[1]):
                tid = int(g.sequences[i, t])
                lp = torch.log_softmax(g.scores[t - 1][i].double(), -1)[tid].item()
                gids.append(tid)
                score += lp
                if tid == m.config.eos_token_id:
                    break
            bids = bm.sequences[i, 1:].tolist()
            while bids and bids[-1] == m.config.pad_token_id:
                bids.pop()
            out.append(dict(text=text, src=src, greedy=dict(ids=gids, score=score),
                            beam4=dict(ids=bids, score=float(bm.sequences_scores[i]))))
        print(f"generate: {b + len(chunk)}/{len(texts)}", file=sys.stderr)
    return out


def tokenizer_cases(tok, en, zh):
    odd = ["", " ", "  a  b  ", "\t\n", "你好", "ＡＢＣ１２３", "Ⅻ ½ ﬁ", "é vs e\u0301", "🙂🙃👍🏽",
           "\u200b zero width", "<unk>", "a</s>b", "x <pad> y", ">>fra<< bonjour", ">>x<<", ">>a<< >>b<< c",
           "no >>code<< here", "ctrl\x01char", "Dr. Smith's \"quotes\" — dashes…", "中文，标点；符号：“引号”！",
           "http://example.com/a?b=c", "a" * 300, "长" * 120, "Ünïcödé ǅ ß ſ", "\ufeffbom"]
    cases = [dict(text=t, ids=tok(t).input_ids) for t in zh + en + odd]
    rnd = random.Random(11)
    V = len(tok.get_vocab())
    dec = []
    for _ in range(300):
        ids = [rnd.randrange(V) for _ in range(rnd.randrange(0, 12))]
        dec.append(dict(ids=ids, text=tok.decode(ids, skip_special_tokens=True)))
    for c in cases[::7]:
        dec.append(dict(ids=c["ids"], text=tok.decode(c["ids"], skip_special_tokens=True)))
    return cases, dec


def write_jsonl(path, rows):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)


def make_en_zh(en, zh):
    """The en->zh direction: SentencePiece unigram models trained here on the English
    (source) and Chinese (target) sides of the Tatoeba pairs, a shared vocab.json laid
    out as opus-mt's (</s> 0, <unk> 1, the pieces, <pad> last), and a shrunk random
    model whose config is opus-mt-zh-en's with that vocabulary."""
    import sentencepiece as spm
    d = os.path.join(OUT, "en-zh-tiny")
    os.makedirs(d, exist_ok=True)
    import tempfile
    work = tempfile.mkdtemp(prefix="spm-train-")
    for name, side, size, cov in (("source", en, 800, 1.0), ("target", zh, 2000, 0.995)):
        txt = os.path.join(work, name + ".txt")
        with open(txt, "w", encoding="utf-8") as f:
            f.write("".join(t + "\n" for t in side))
        spm.SentencePieceTrainer.train(input=txt, model_prefix=os.path.join(work, name), vocab_size=size,
                                       model_type="unigram", character_coverage=cov, num_threads=1,
                                       seed_sentencepiece_size=100000, minloglevel=2)
        shutil.copy(os.path.join(work, name + ".model"), os.path.join(d, name + ".spm"))
    shutil.rmtree(work)
    vocab = {"</s>": 0, "<unk>": 1}
    for name in ("source", "target"):
        sp = spm.SentencePieceProcessor(model_file=os.path.join(d, name + ".spm"))
        for i in range(sp.get_piece_size()):
            p = sp.id_to_piece(i)
            if not (sp.is_control(i) or sp.is_unknown(i)) and p not in vocab:
                vocab[p] = len(vocab)
    vocab["<pad>"] = len(vocab)
    V = len(vocab)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=1)
    cfg = MarianConfig.from_pretrained(TOKDIR)
    cfg.update(dict(d_model=16, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                    decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, vocab_size=V,
                    decoder_vocab_size=V, pad_token_id=V - 1, decoder_start_token_id=V - 1))
    gen = GenerationConfig.from_pretrained(TOKDIR)
    gen.update(pad_token_id=V - 1, decoder_start_token_id=V - 1, bad_words_ids=[[V - 1]])
    torch.manual_seed(3)
    m = MarianMTModel(cfg).eval()
    m.generation_config = gen
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "embed_positions" in name:
                continue
            if p.dim() == 2:
                p.normal_(0, 0.5 if "shared" in name else 0.3)
            elif "layer_norm" in name and name.endswith("weight"):
                p.uniform_(0.8, 1.2)
            else:
                p.normal_(0, 0.1)
        m.final_logits_bias.normal_(0, 1.0)
        m.final_logits_bias[0, 0] = 11.0  # tuned by hand: outputs end at lengths from 1 to max_length
    m.half().save_pretrained(d, safe_serialization=True)
    gen.save_pretrained(d)
    tok = MarianTokenizer(os.path.join(d, "source.spm"), os.path.join(d, "target.spm"), os.path.join(d, "vocab.json"),
                          source_lang="eng", target_lang="zho")
    cases, dec = tokenizer_cases(tok, [], en[::3])  # every third: the committed fixtures stay small
    write_jsonl(os.path.join(OUT, "tokenizer-en-zh.jsonl"), [dict(kind="encode", **c) for c in cases] +
                [dict(kind="decode", **x) for x in dec])
    m = MarianMTModel.from_pretrained(d, dtype=torch.float32).eval()
    texts = en[::23][:112] + zh[::97][:16] + ["", "Hi", "OK."]
    rows = run_generate(m, tok, texts, 16)
    write_jsonl(os.path.join(OUT, "generate-en-zh.jsonl"), rows)
    glens = [len(r["greedy"]["ids"]) for r in rows]
    blens = [len(r["beam4"]["ids"]) for r in rows]
    print(f"en-zh: vocabulary {V}; {len(rows)} inputs; greedy lengths {sorted(set(glens))}; beam lengths "
          f"{sorted(set(blens))}", file=sys.stderr)


OPTION_SETS = [dict(num_beams=4, early_stopping=True, length_penalty=0.6, max_length=MAX_LENGTH),
               dict(num_beams=3, early_stopping=False, length_penalty=2.0, max_length=MAX_LENGTH),
               dict(num_beams=5, early_stopping=True, length_penalty=1.0, max_length=21),
               dict(num_beams=2, early_stopping=False, length_penalty=-0.5, max_length=30)]


def make_option_fixtures(en, zh):
    """Beam search with other options (early_stopping, length_penalty, max_length)
    on the zh-en model: generate-options.jsonl, one row per input and option set."""
    tok = tokenizer()
    m = MarianMTModel.from_pretrained(os.path.join(OUT, "zh-en-tiny"), dtype=torch.float32).eval()
    texts = inputs(tok, en, zh)[::4][:56]
    rows = []
    for opts in OPTION_SETS:
        for b in range(0, len(texts), 16):
            chunk = texts[b:b + 16]
            enc = tok(chunk, return_tensors="pt", padding=True)
            with torch.no_grad():
                g = m.generate(**enc, output_scores=True, return_dict_in_generate=True, **opts)
            for i, text in enumerate(chunk):
                ids = g.sequences[i, 1:].tolist()
                while ids and ids[-1] == m.config.pad_token_id:
                    ids.pop()
                src = enc.input_ids[i][enc.attention_mask[i].bool()].tolist()
                rows.append(dict(text=text, src=src, opts=opts, ids=ids, score=float(g.sequences_scores[i])))
        print("options:", opts, file=sys.stderr)
    write_jsonl(os.path.join(OUT, "generate-options.jsonl"), rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", help="also write the full-size random model here")
    ap.add_argument("--skip-generate", action="store_true")
    ap.add_argument("--en-zh", action="store_true", help="only the en->zh model and fixtures")
    ap.add_argument("--options", action="store_true", help="only generate-options.jsonl (other beam options)")
    args = ap.parse_args()
    tok = tokenizer()
    en, zh = read_pairs()
    os.makedirs(OUT, exist_ok=True)
    if args.options:
        make_option_fixtures(en, zh)
        return
    if args.en_zh:
        make_en_zh(en, zh)
        return
    if args.full:
        m = random_model(False, 1)
        save_model(m, args.full, torch.float32)
        print("full model:", args.full, file=sys.stderr)
        return
    cases, dec = tokenizer_cases(tok, en, zh)
    write_jsonl(os.path.join(OUT, "tokenizer.jsonl"), [dict(kind="encode", **c) for c in cases] +
                [dict(kind="decode", **d) for d in dec])
    if args.skip_generate:
        return
    m = random_model(True, 0)
    d = os.path.join(OUT, "zh-en-tiny")
    save_model(m, d, torch.float16)
    m = MarianMTModel.from_pretrained(d, dtype=torch.float32).eval()
    texts = inputs(tok, en, zh)
    rows = run_generate(m, tok, texts, 16)
    write_jsonl(os.path.join(OUT, "generate.jsonl"), rows)
    glens = [len(r["greedy"]["ids"]) for r in rows]
    blens = [len(r["beam4"]["ids"]) for r in rows]
    slens = [len(r["src"]) for r in rows]
    print(f"{len(rows)} inputs, source tokens {min(slens)}..{max(slens)}; greedy lengths "
          f"{min(glens)}..{max(glens)} ({sum(l < MAX_LENGTH - 1 for l in glens)} end before max_length); "
          f"beam lengths {min(blens)}..{max(blens)} ({sum(l < MAX_LENGTH - 1 for l in blens)} before)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
