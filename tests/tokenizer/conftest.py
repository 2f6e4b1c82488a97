"""Shared helpers for the tokenizer parity suite (tests/tokenizer/test_*.py).

Environment (set by ctest `tokenizer.pytest`):
  LEPTON         path of the `lepton` binary
  LP_SOURCE_DIR  the source tree (fixtures under tests/fixtures/tokenizer, shared data at ../shared/data)
Run by hand:  LEPTON=build/tools/lepton python3 -m pytest -q tests/tokenizer
The expected outputs come from tools/make_tokenizer_fixtures.py; tests/fixtures/tokenizer/README.md
states the CLI contract they encode.
"""
import gzip
import importlib.util
import json
import os
import pathlib
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("LP_SOURCE_DIR") or pathlib.Path(__file__).resolve().parents[2])
FIXTURES = SOURCE_DIR / "tests" / "fixtures" / "tokenizer"
# Generous bound so a hang (e.g. quadratic BPE on a 1 MB word) fails instead of blocking CI;
# it is a liveness limit, not a timing assertion. Sanitizer builds are ~10x slower.
PROCESS_TIMEOUT_S = 600


def load_manifest():
    with open(FIXTURES / "manifest.json", encoding="utf-8") as f:
        return json.load(f)


MANIFEST = load_manifest()


@pytest.fixture(scope="session")
def lepton():
    path = os.environ.get("LEPTON") or str(SOURCE_DIR / "build" / "tools" / "lepton")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no lepton binary at {path} (build it, or set LEPTON)")
    return path


def resolve_tokenizer(rel):
    """Manifest path -> filesystem path. `pip:<package>/<dir>` is a folder in an installed package."""
    if rel.startswith("pip:"):
        pkg, _, sub = rel[4:].partition("/")
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            pytest.skip(f"pip package {pkg} is not installed (scripts/install-deps.sh installs it)")
        return str(pathlib.Path(list(spec.submodule_search_locations)[0]) / sub)
    path = (SOURCE_DIR / rel).resolve()
    assert path.exists(), f"tokenizer file {rel} is missing ({path}); see /work/shared/data/README.md"
    return str(path)


def cli_args(entry, path):
    return [path if a == "{tokenizer}" else a for a in entry["flags"]]


def read_input_lines(rel):
    """Input lines, split on '\\n' only (the corpus holds U+2028, NEL, VT, FF...)."""
    text = (SOURCE_DIR / rel).read_bytes().decode("utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def selected_lines(entry):
    """(1-based line numbers, texts) fed to the CLI for this fixture."""
    lines = read_input_lines(entry["input"])
    idx = MANIFEST["subsets"][entry["input_subset"]] if entry.get("input_subset") else range(len(lines))
    skip = {n for e in entry.get("excluded", []) for n in e["lines"]}
    numbers = [i + 1 for i in idx if i + 1 not in skip]
    return numbers, [lines[n - 1] for n in numbers]


def read_expected(rel):
    with gzip.open(SOURCE_DIR / rel, "rt", encoding="utf-8") as f:
        data = f.read()
    assert data.endswith("\n")
    return [json.loads(l) for l in data[:-1].split("\n")]


def group_of(input_rel, number):
    """Name of the corpus group a 1-based line number belongs to (for failure messages)."""
    with open(FIXTURES / "corpus_groups.json", encoding="utf-8") as f:
        groups = json.load(f)[os.path.basename(input_rel)]
    for g in groups:
        if g["first"] <= number < g["first"] + g["count"]:
            return g["name"]
    return "?"


def run_cli(lepton, args, stdin_bytes, timeout=PROCESS_TIMEOUT_S):
    """Runs lepton with bytes on stdin; returns CompletedProcess with bytes stdout/stderr."""
    return subprocess.run([lepton, *args], input=stdin_bytes, capture_output=True, timeout=timeout)


def parse_output_lines(stdout):
    """stdout bytes -> list of (key order, object). Raises AssertionError on invalid JSON."""
    text = stdout.decode("utf-8")
    if not text:
        return []
    assert text.endswith("\n"), "output does not end with a newline"
    out = []
    for k, line in enumerate(text[:-1].split("\n")):
        try:
            pairs = json.loads(line, object_pairs_hook=lambda kv: kv)
        except json.JSONDecodeError as e:
            near = line[max(0, e.pos - 100):e.pos + 60]
            raise AssertionError(f"output line {k + 1} is not JSON ({e}); starts {line[:100]!r}, "
                                 f"near the error: {near!r}") from None
        out.append(([key for key, _ in pairs], json.loads(line)))
    return out


def sanitizer_or_crash(proc):
    """A message if the process crashed or a sanitizer reported something, else None."""
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode < 0:
        return f"killed by signal {-proc.returncode}; stderr: {err[-2000:]}"
    for marker in ("AddressSanitizer", "UndefinedBehaviorSanitizer", "runtime error:", "LeakSanitizer",
                   "Segmentation fault", "Assertion", "core dumped"):
        if marker in err:
            return f"'{marker}' in stderr: {err[-2000:]}"
    return None
