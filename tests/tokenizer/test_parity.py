"""`lepton tokenize` and `lepton detokenize` against HF tokenizers / sentencepiece.

One test per manifest fixture (tokenizer x mode), one lepton process per test over the
whole input; the output must equal the reference line for line: ids, tokens and offsets
(type_ids for pairs), keys in the contract's order. On a mismatch the report names the
first differing lines with their text, corpus group, and expected vs got per field.
"""
import json

import pytest

from conftest import (MANIFEST, cli_args, group_of, parse_output_lines, read_expected, resolve_tokenizer,
                      run_cli, sanitizer_or_crash, selected_lines)

SHOW = 5          # differing lines shown in a failure report
WINDOW = 6        # elements shown around the first difference inside a field

TOKENIZE = [e for e in MANIFEST["fixtures"] if e["command"] == "tokenize"]
DETOKENIZE = [e for e in MANIFEST["fixtures"] if e["command"] == "detokenize"]
BY_ID = {e["id"]: e for e in MANIFEST["fixtures"]}


def excerpt(seq, at):
    lo = max(0, at - WINDOW // 2)
    hi = at + WINDOW
    head = "... " if lo else ""
    tail = " ..." if hi < len(seq) else ""
    return f"{head}{json.dumps(seq[lo:hi], ensure_ascii=False)}{tail} (len {len(seq)})"


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def field_report(name, want, got):
    if got is None:
        return f"    {name}: missing in output"
    if name == "overflowing":
        return overflowing_report(want, got)
    i = first_diff(want, got)
    return (f"    {name}: first difference at index {i}\n"
            f"      expected {excerpt(want, i)}\n"
            f"      got      {excerpt(got, i)}")


def overflowing_report(want, got):
    if not isinstance(got, list):
        return f"    overflowing: expected a list of {len(want)} windows, got {json.dumps(got)[:200]}"
    w = first_diff(want, got)
    if w >= min(len(want), len(got)):
        return f"    overflowing: expected {len(want)} windows, got {len(got)}"
    lines = [f"    overflowing: window {w} of {len(want)} differs"]
    for key in want[w]:
        if want[w][key] != got[w].get(key):
            lines.append(field_report(f"  overflowing[{w}].{key}", want[w][key], got[w].get(key)))
    return "\n".join(lines)


def compare(entry, numbers, texts, expected, outputs, fields):
    """Failure report lines (empty when everything matches)."""
    problems, shown, count = [], 0, {f: 0 for f in fields + ["keys"]}
    unchecked = set(entry.get("offsets_unchecked_lines", []))
    bad_lines = 0
    for number, text, want, (keys, got) in zip(numbers, texts, expected, outputs):
        diffs = []
        if keys != list(want.keys()):
            count["keys"] += 1
            diffs.append(f"    keys: expected {list(want.keys())}, got {keys}")
        for f in fields:
            if f == "offsets" and (want.get(f) is None or number in unchecked):
                continue
            if got.get(f) != want[f]:
                count[f] += 1
                diffs.append(field_report(f, want[f], got.get(f)))
        if diffs:
            bad_lines += 1
            if shown < SHOW:
                shown += 1
                problems.append(f"  line {number} [{group_of(entry['input'], number)}] text={text[:200]!r}")
                problems += diffs
    if bad_lines:
        summary = ", ".join(f"{f} {n}" for f, n in count.items() if n)
        problems.insert(0, f"{bad_lines} of {len(numbers)} lines differ ({summary}); first {shown}:")
    return problems


def run_fixture(lepton, entry, stdin_texts):
    path = resolve_tokenizer(entry["tokenizer"])
    data = "".join(t + "\n" for t in stdin_texts).encode("utf-8")
    proc = run_cli(lepton, [entry["command"], *cli_args(entry, path)], data)
    crash = sanitizer_or_crash(proc)
    if crash:
        pytest.fail(f"{entry['id']}: {crash}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"{entry['id']}: exit {proc.returncode}; stderr: "
                    f"{proc.stderr.decode('utf-8', 'replace')[-2000:]}", pytrace=False)
    outputs = parse_output_lines(proc.stdout)
    if len(outputs) != len(stdin_texts):
        pytest.fail(f"{entry['id']}: {len(stdin_texts)} input lines but {len(outputs)} output lines", pytrace=False)
    return outputs


@pytest.mark.parametrize("entry", TOKENIZE, ids=[e["id"] for e in TOKENIZE])
def test_tokenize(lepton, entry):
    numbers, texts = selected_lines(entry)
    expected = read_expected(entry["expected"])
    assert len(expected) == len(texts), "fixture and manifest disagree; rerun tools/make_tokenizer_fixtures.py"
    outputs = run_fixture(lepton, entry, texts)
    fields = ["ids", "tokens", "offsets"] + (["type_ids"] if "--pair" in entry["flags"] else []) + (
        ["overflowing"] if "--stride" in entry["flags"] else [])
    problems = compare(entry, numbers, texts, expected, outputs, fields)
    if problems:
        pytest.fail(f"{entry['id']} ({entry['reference']}):\n" + "\n".join(problems), pytrace=False)


@pytest.mark.parametrize("entry", DETOKENIZE, ids=[e["id"] for e in DETOKENIZE])
def test_detokenize(lepton, entry):
    source = BY_ID[entry["input_from"]]
    numbers, texts = selected_lines(source)
    id_lists = [r["ids"] for r in read_expected(source["expected"])]
    expected = read_expected(entry["expected"])
    assert len(expected) == len(id_lists) == len(texts)
    outputs = run_fixture(lepton, entry, [json.dumps(ids) for ids in id_lists])
    problems, bad = [], 0
    for number, text, ids, want, (keys, got) in zip(numbers, texts, id_lists, expected, outputs):
        if keys != ["text"] or got.get("text") != want["text"]:
            bad += 1
            if bad <= SHOW:
                problems += [f"  line {number} [{group_of(source['input'], number)}] original={text[:120]!r}",
                             f"    ids      {json.dumps(ids)[:200]}",
                             f"    expected {json.dumps(want, ensure_ascii=False)[:300]}",
                             f"    got      {json.dumps(got, ensure_ascii=False)[:300]} (keys {keys})"]
    if bad:
        pytest.fail(f"{entry['id']} ({entry['reference']}): {bad} of {len(id_lists)} lines differ:\n"
                    + "\n".join(problems), pytrace=False)
