"""Bad and extreme input to `lepton tokenize` / `lepton detokenize`: never a crash, never silent garbage.

Where the behaviour is lepton's choice (invalid UTF-8: replace or refuse), the test accepts either
documented outcome but checks that the lines around the bad one are still right:
  exit 0: one JSON object per input line; good lines equal the reference; the bad line's object is
          an encoding (ids/tokens/offsets of equal length) or {"error": ...};
  exit 1: a message on stderr; anything printed before it is valid JSON.
Corrupt or missing tokenizer files: exit 1 and a message on stderr that names the file.
1 MB lines must equal the HF / sentencepiece result exactly (tests/fixtures/tokenizer/README.md).
"""
import json
import pathlib

import pytest

from conftest import (MANIFEST, SOURCE_DIR, parse_output_lines, read_expected, read_input_lines, resolve_tokenizer,
                      run_cli, sanitizer_or_crash)

BY_ID = {e["id"]: e for e in MANIFEST["fixtures"]}
TOKENIZERS = ["bert-base-uncased", "roberta-gpt2", "cpm-chinese"]

BAD_LINES = {
    "invalid-bytes-ff-fe": b"abc\xff\xfedef",
    "truncated-2-byte": b"\xc3",
    "bad-continuation": b"\xc3\x28 x",
    "truncated-3-byte": b"\xe4\xb8 tail",
    "overlong-slash": b"\xc0\xaf overlong",
    "5-byte-form": b"\xf8\x88\x80\x80\x80",
    "lone-high-surrogate": b"\xed\xa0\x80 lone surrogate",
    "lone-low-surrogate": b"\xed\xbf\xbf",
    "cesu8-surrogate-pair": b"\xed\xa0\xbd\xed\xb8\x80",
    "above-U+10FFFF": b"\xf4\x90\x80\x80",
    "nul-inside": b"before\x00after",
    "nul-only": b"\x00",
    "nul-then-invalid": b"\x00\xff\x00",
}


def tokenizer_path(name):
    entry = BY_ID[f"{name}/single"]
    return resolve_tokenizer(entry["tokenizer"])


def good_line(name):
    """Line 1 of the corpus and its reference encoding for this tokenizer."""
    entry = BY_ID[f"{name}/single"]
    assert 1 not in entry["offsets_unchecked_lines"]
    return read_input_lines(entry["input"])[0], read_expected(entry["expected"])[0]


def require_good_line_works(lepton, name, good, expected):
    """Exit 1 is an accepted answer to a bad line only if the tokenizer works on good ones."""
    proc = run_cli(lepton, ["tokenize", "--tokenizer", tokenizer_path(name)], good + b"\n")
    check_no_crash(proc)
    assert proc.returncode == 0, f"{name} fails on a good line: {proc.stderr.decode('utf-8', 'replace')[-500:]}"
    assert [o for _, o in parse_output_lines(proc.stdout)] == [expected], f"{name} is wrong on a good line"


def check_no_crash(proc):
    crash = sanitizer_or_crash(proc)
    if crash:
        pytest.fail(crash, pytrace=False)


def is_encoding_or_error(obj):
    if "error" in obj:
        return isinstance(obj["error"], str) and obj["error"] != ""
    ids, toks, offs = obj.get("ids"), obj.get("tokens"), obj.get("offsets")
    return (isinstance(ids, list) and isinstance(toks, list) and isinstance(offs, list)
            and len(ids) == len(toks) == len(offs) and all(isinstance(i, int) and i >= 0 for i in ids)
            and all(isinstance(o, list) and len(o) == 2 and 0 <= o[0] <= o[1] for o in offs))


def check_bad_line_run(proc, good_expected, n_lines, bad_positions):
    check_no_crash(proc)
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode == 0:
        out = parse_output_lines(proc.stdout)
        assert len(out) == n_lines, f"exit 0 but {len(out)} output lines for {n_lines} input lines"
        for k, (_, obj) in enumerate(out):
            if k in bad_positions:
                assert is_encoding_or_error(obj), f"bad line {k + 1} gave neither an encoding nor an error: {obj}"
            else:
                assert obj == good_expected, f"good line {k + 1} changed next to a bad line: {obj}"
    elif proc.returncode == 1:
        assert err.strip(), "exit 1 without a message on stderr"
        out = parse_output_lines(proc.stdout)
        for k, (_, obj) in enumerate(out):
            if k not in bad_positions:
                assert obj == good_expected, f"good line {k + 1} wrong before the error: {obj}"
    else:
        pytest.fail(f"exit {proc.returncode} (expected 0 or 1); stderr: {err[-1000:]}")


@pytest.mark.parametrize("name", TOKENIZERS)
@pytest.mark.parametrize("case", list(BAD_LINES))
def test_invalid_line_between_good_ones(lepton, name, case):
    text, expected = good_line(name)
    good = text.encode("utf-8")
    require_good_line_works(lepton, name, good, expected)
    data = good + b"\n" + BAD_LINES[case] + b"\n" + good + b"\n"
    proc = run_cli(lepton, ["tokenize", "--tokenizer", tokenizer_path(name)], data)
    check_bad_line_run(proc, expected, 3, {1})


def test_all_bad_lines_in_one_stream(lepton):
    text, expected = good_line("bert-base-uncased")
    good = text.encode("utf-8")
    require_good_line_works(lepton, "bert-base-uncased", good, expected)
    lines = [good]
    for bad in BAD_LINES.values():
        lines += [bad, good]
    proc = run_cli(lepton, ["tokenize", "--tokenizer", tokenizer_path("bert-base-uncased")], b"\n".join(lines) + b"\n")
    check_bad_line_run(proc, expected, len(lines), set(range(1, len(lines), 2)))


def rebuild_periodic(p):
    """head + period (offsets shifted by k*shift) * times + tail -> full record."""
    def shifted(rec, by):
        return None if rec["offsets"] is None else [[a + by, b + by] for a, b in rec["offsets"]]
    ids, toks, offs = list(p["head"]["ids"]), list(p["head"]["tokens"]), p["head"]["offsets"]
    offs = None if offs is None else list(offs)
    for k in range(p["times"]):
        ids += p["period"]["ids"]
        toks += p["period"]["tokens"]
        if offs is not None:
            offs += shifted(p["period"], k * p["shift"])
    ids += p["tail"]["ids"]
    toks += p["tail"]["tokens"]
    if offs is not None:
        offs += p["tail"]["offsets"]
    return {"ids": ids, "tokens": toks, "offsets": offs}


@pytest.mark.parametrize("entry", MANIFEST["long_lines"], ids=[e["id"] for e in MANIFEST["long_lines"]])
def test_one_megabyte_line(lepton, entry):
    text = entry["unit"] * entry["repeat"]
    want = rebuild_periodic(read_expected(entry["expected"])[0])
    assert len(want["ids"]) == entry["tokens"]
    path = resolve_tokenizer(entry["tokenizer"])
    args = ["tokenize", *[path if a == "{tokenizer}" else a for a in entry["flags"]]]
    proc = run_cli(lepton, args, text.encode("utf-8") + b"\n")
    check_no_crash(proc)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-1000:]
    out = parse_output_lines(proc.stdout)
    assert len(out) == 1
    got = out[0][1]
    for field in ("ids", "tokens", "offsets"):
        if want[field] is None:
            continue
        a, b = want[field], got.get(field)
        if a != b:
            i = next((k for k, (x, y) in enumerate(zip(a, b or [])) if x != y), min(len(a), len(b or [])))
            pytest.fail(f"{entry['id']} {field}: first difference at {i} of {len(a)} (got {len(b or [])}):"
                        f" expected {a[max(0, i - 3):i + 5]} got {(b or [])[max(0, i - 3):i + 5]}")


def test_empty_input_prints_nothing(lepton):
    proc = run_cli(lepton, ["tokenize", "--tokenizer", tokenizer_path("bert-base-uncased")], b"")
    check_no_crash(proc)
    assert proc.returncode == 0 and proc.stdout == b""


def test_last_line_without_newline(lepton):
    text, expected = good_line("bert-base-uncased")
    proc = run_cli(lepton, ["tokenize", "--tokenizer", tokenizer_path("bert-base-uncased")],
                   (text + "\n" + text).encode("utf-8"))
    check_no_crash(proc)
    assert proc.returncode == 0, proc.stderr
    assert [o for _, o in parse_output_lines(proc.stdout)] == [expected, expected]


def test_truncation_error_is_not_silent(lepton):
    """HF refuses only_first when the first sequence is too short; lepton must not print more than max_length."""
    entry = BY_ID["bert-base-uncased/pairs-max24-only_first"]
    assert entry["excluded"], "fixture lists no refused line"
    number = entry["excluded"][0]["lines"][0]
    line = read_input_lines(entry["input"])[number - 1]
    args = ["tokenize", *[tokenizer_path("bert-base-uncased") if a == "{tokenizer}" else a for a in entry["flags"]]]
    proc = run_cli(lepton, args, line.encode("utf-8") + b"\n")
    check_no_crash(proc)
    if proc.returncode == 1:
        assert proc.stderr.strip()
        return
    assert proc.returncode == 0, proc.stderr
    out = parse_output_lines(proc.stdout)
    assert len(out) == 1
    obj = out[0][1]
    assert "error" in obj or len(obj["ids"]) <= 24, f"silently exceeded --max-length 24: {len(obj['ids'])} ids"


# ----------------------------------------------------------------------------- missing and corrupt files

def corrupt_files(tmp):
    """name -> path of a broken tokenizer file (or directory)."""
    shared = SOURCE_DIR / ".." / "shared" / "data" / "tokenizers"
    bert = (shared / "bert-base-uncased" / "tokenizer.json").read_bytes()
    spm = (shared / "opus-mt-zh-en" / "source.spm").read_bytes()
    cpm = (shared / "cpm-chinese-sentencepiece" / "chinese_vocab.model").read_bytes()
    unigram = (SOURCE_DIR / "tests" / "fixtures" / "tokenizer" / "trained" / "unigram-8k" / "tokenizer.json").read_text()
    roberta = (SOURCE_DIR / "tests" / "fixtures" / "tokenizer" / "derived" / "roberta-gpt2" / "tokenizer.json").read_text()
    garbage = bytes((i * 7919 + 13) % 256 for i in range(4096))   # deterministic noise

    def edited(text, edit):
        d = json.loads(text)
        edit(d)
        return json.dumps(d).encode()

    files = {
        "empty.json": b"",
        "truncated.json": bert[:4096],
        "array.json": b"[1, 2, 3]",
        "model-is-number.json": b'{"model": 5}',
        "nul-inside.json": b'{"model":\x00}',
        "garbage.json": garbage,
        "unknown-model-type.json": edited(bert.decode(), lambda d: d["model"].update(type="Nope")),
        "vocab-is-string.json": edited(bert.decode(), lambda d: d["model"].update(vocab="abc")),
        "unigram-unk-out-of-range.json": edited(unigram, lambda d: d["model"].update(unk_id=10 ** 7)),
        "bpe-merge-unknown-token.json": edited(roberta, lambda d: d["model"]["merges"].insert(0, "qqqzz xxxyy")),
        "unknown-normalizer.json": edited(bert.decode(), lambda d: d.update(normalizer={"type": "Nope"})),
        "empty.model": b"",
        "garbage.model": garbage,
        "truncated-half.model": spm[:len(spm) // 2],
        "truncated-100.model": cpm[:100],
    }
    paths = {}
    for name, data in files.items():
        p = tmp / name
        p.write_bytes(data)
        paths[name] = p
    (tmp / "empty-dir").mkdir()
    paths["empty-dir"] = tmp / "empty-dir"
    (tmp / "empty-vocab").mkdir()
    (tmp / "empty-vocab" / "vocab.txt").write_bytes(b"")
    paths["empty-vocab.txt"] = tmp / "empty-vocab" / "vocab.txt"
    return paths


CORRUPT = ["empty.json", "truncated.json", "array.json", "model-is-number.json", "nul-inside.json", "garbage.json",
           "unknown-model-type.json", "vocab-is-string.json", "unigram-unk-out-of-range.json",
           "bpe-merge-unknown-token.json", "unknown-normalizer.json", "empty.model", "garbage.model",
           "truncated-half.model", "truncated-100.model", "empty-dir", "empty-vocab.txt"]


def check_refused(proc, path):
    check_no_crash(proc)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1, f"exit {proc.returncode} for {path}; stderr: {err[-500:]}"
    assert proc.stdout == b"", f"printed output for a broken tokenizer: {proc.stdout[:200]!r}"
    name = pathlib.Path(path).name
    assert name in err, f"the message does not name the file {name!r}: {err.strip()[:500]!r}"


@pytest.mark.parametrize("case", CORRUPT)
@pytest.mark.parametrize("command", ["tokenize", "detokenize"])
def test_corrupt_tokenizer_file(lepton, tmp_path, case, command):
    path = corrupt_files(tmp_path)[case]
    stdin = b"hello world\n" if command == "tokenize" else b"[1, 2, 3]\n"
    check_refused(run_cli(lepton, [command, "--tokenizer", str(path)], stdin), path)


@pytest.mark.parametrize("name", ["missing.json", "missing.model", "missing-dir", "vocab.txt"])
def test_missing_tokenizer_file(lepton, tmp_path, name):
    path = tmp_path / "nowhere" / name
    check_refused(run_cli(lepton, ["tokenize", "--tokenizer", str(path)], b"hello\n"), path)


@pytest.mark.parametrize("args", [
    [], ["--tokenizer"], ["--max-length", "abc"], ["--max-length", "-1"], ["--truncation", "sideways"],
    ["--stride", "x"], ["--frobnicate"],
], ids=["no-tokenizer", "tokenizer-without-path", "max-length-abc", "max-length-negative", "truncation-unknown",
        "stride-abc", "unknown-option"])
def test_usage_errors(lepton, args):
    full = list(args)
    if args and args[0] != "--tokenizer":
        full = ["--tokenizer", tokenizer_path("bert-base-uncased")] + full
    proc = run_cli(lepton, ["tokenize", *full], b"hello\n")
    check_no_crash(proc)
    assert proc.returncode in (1, 2), f"exit {proc.returncode} for {args}"
    assert proc.stderr.strip(), "no message on stderr"


def test_pair_line_without_tab(lepton):
    proc = run_cli(lepton, ["tokenize", "--pair", "--tokenizer", tokenizer_path("bert-base-uncased")],
                   b"no tab here\n")
    check_no_crash(proc)
    if proc.returncode == 1:
        assert proc.stderr.strip()
    else:
        assert proc.returncode == 0
        out = parse_output_lines(proc.stdout)
        assert len(out) == 1 and is_encoding_or_error(out[0][1])


def run_detokenize(lepton, line):
    proc = run_cli(lepton, ["detokenize", "--tokenizer", tokenizer_path("bert-base-uncased")], line + b"\n")
    check_no_crash(proc)
    return proc


@pytest.mark.parametrize("line", [b"not json", b"[1, 2", b'["a"]', b"[1.5]", b"{}", b"", b"[1, \xff]", b"[null]",
                                  b"[[1]]", b"[1e400]"])
def test_detokenize_refuses_what_is_not_an_id_list(lepton, line):
    proc = run_detokenize(lepton, line)
    if proc.returncode == 1:
        assert proc.stderr.strip(), f"exit 1 without a message for {line!r}"
        return
    assert proc.returncode == 0, f"exit {proc.returncode} for {line!r}"
    out = parse_output_lines(proc.stdout)
    assert len(out) == 1 and "error" in out[0][1], f"{line!r} was decoded instead of refused: {out}"


@pytest.mark.parametrize("line", [b"[-1]", b"[4294967296]", b"[99999999]", b"[101, 99999999, 102]"])
def test_detokenize_out_of_range_ids(lepton, line):
    """HF's decode skips ids it does not know; lepton may skip them too or refuse the line."""
    proc = run_detokenize(lepton, line)
    if proc.returncode == 1:
        assert proc.stderr.strip(), f"exit 1 without a message for {line!r}"
        return
    assert proc.returncode == 0, f"exit {proc.returncode} for {line!r}"
    out = parse_output_lines(proc.stdout)
    assert len(out) == 1 and (out[0][1].get("text") == "" or "error" in out[0][1]), out


def test_detokenize_empty_list(lepton):
    proc = run_cli(lepton, ["detokenize", "--tokenizer", tokenizer_path("bert-base-uncased")], b"[]\n")
    check_no_crash(proc)
    assert proc.returncode == 0, proc.stderr
    assert [o for _, o in parse_output_lines(proc.stdout)] == [{"text": ""}]

