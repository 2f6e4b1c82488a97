"""safetensors interoperability with the reference implementation (the Python
`safetensors` package, a binding of the Rust crate):
- files lepton's writer produces load in Python with the same dtypes, shapes,
  bytes and metadata (and the same values through numpy);
- files Python writes, with random bytes in every dtype, read back bit for bit
  in C (pretrained_test_safetensors_read --check).
"""
import os
import subprocess

import pytest

np = pytest.importorskip("numpy", reason="numpy is needed to compare tensors")
safetensors = pytest.importorskip("safetensors", reason="Python safetensors is the reference")
from safetensors import safe_open  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

NUMPY_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}
# Older bindings name dtypes the numpy way in deserialize(); map both spellings.
DTYPE_ALIASES = {
    "float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
    "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8",
    "uint64": "U64", "uint32": "U32", "uint16": "U16", "uint8": "U8", "bool": "BOOL",
    "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
}


def read_manifest(path):
    tensors, meta = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines():
            kind, *rest = line.split("\t")
            if kind == "tensor":
                name, dtype, shape, hexbytes = rest
                shape = [int(d) for d in shape.split(",")] if shape else []
                tensors[name] = (dtype, shape, bytes.fromhex(hexbytes))
            else:
                meta[rest[0]] = rest[1]
    return tensors, meta


def formula(n):
    return np.array([((k * 7) % 17 - 8) * 0.5 for k in range(n)])


@pytest.fixture(scope="module")
def c_written(tmp_path_factory, test_binary):
    out = tmp_path_factory.mktemp("from_c")
    writer = test_binary("pretrained", "test_safetensors_write")
    subprocess.run([writer, "--interop", out], check=True, timeout=60)
    return out


def test_c_file_loads_in_python_bit_for_bit(c_written):
    path = c_written / "from_c.safetensors"
    want, want_meta = read_manifest(str(path) + ".expected")
    with open(path, "rb") as f:
        raw = f.read()
    got = {name: info for name, info in safetensors.deserialize(raw)}
    # the manifest omits one name holding a newline; it must still load
    assert set(want) <= set(got) and len(got) == len(want) + 1
    assert any("\n" in name for name in got)
    for name, (dtype, shape, data) in want.items():
        info = got[name]
        assert DTYPE_ALIASES.get(info["dtype"], info["dtype"]) == dtype, name
        assert list(info["shape"]) == shape, name
        assert bytes(info["data"]) == data, name
    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata() == want_meta


def test_c_file_values_through_numpy(c_written):
    path = c_written / "from_c.safetensors"
    want, _ = read_manifest(str(path) + ".expected")
    with safe_open(str(path), framework="numpy") as f:
        for name, (dtype, shape, data) in want.items():
            if dtype not in NUMPY_DTYPES:
                continue
            arr = f.get_tensor(name)
            assert arr.dtype == NUMPY_DTYPES[dtype], name
            assert list(arr.shape) == shape, name
            assert np.ascontiguousarray(arr).tobytes() == data, name
        # values, not just bytes: the writer stored what it was given
        np.testing.assert_array_equal(f.get_tensor("f32_values"),
                                      formula(15).reshape(3, 5).astype(np.float32))
        np.testing.assert_array_equal(f.get_tensor("f16_values"), formula(7).astype(np.float16))
        assert f.get_tensor("scalar_f32").shape == () and f.get_tensor("scalar_f32") == -4.0
        assert f.get_tensor("empty_i32").shape == (0, 4)
        np.testing.assert_array_equal(f.get_tensor("bool"), [k % 3 == 0 for k in range(7)])


def test_c_misaligned_file_loads_in_python(c_written):
    t = load_file(str(c_written / "from_c_misaligned.safetensors"))
    np.testing.assert_array_equal(t["pad"], np.array([1, 2, 3], np.uint8))
    np.testing.assert_array_equal(t["w"], np.array([1.5, -2.25], np.float32))


def write_manifest(path, tensors, meta):
    with open(str(path) + ".expected", "w", encoding="utf-8") as f:
        for name in sorted(tensors):
            dtype, shape, data = tensors[name]
            f.write(f"tensor\t{name}\t{dtype}\t{','.join(map(str, shape))}\t{data.hex()}\n")
        for k in sorted(meta):
            f.write(f"meta\t{k}\t{meta[k]}\n")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_python_random_files_read_bit_for_bit_in_c(tmp_path, test_binary, seed):
    rng = np.random.default_rng(seed)
    arrays, expected = {}, {}
    for i, (dtype, npdtype) in enumerate(NUMPY_DTYPES.items()):
        ndim = int(rng.integers(0, 5))
        shape = [int(d) for d in rng.integers(0, 4, size=ndim)]
        n = int(np.prod(shape)) if shape else 1
        if dtype == "BOOL":
            arr = rng.integers(0, 2, size=n).astype(np.bool_)
        else:  # every bit pattern, NaNs included
            arr = np.frombuffer(rng.bytes(n * np.dtype(npdtype).itemsize), dtype=npdtype)
        arr = arr.reshape(shape)
        name = f"t{i}.{dtype.lower()}.ü"
        arrays[name] = arr
        expected[name] = (dtype, shape, arr.tobytes())
    try:  # bf16 and float8 need torch; the committed fixtures cover them otherwise
        import torch
        from safetensors.torch import save_file as torch_save

        extra = {}
        for dtype, tdtype in (("BF16", torch.bfloat16), ("F8_E4M3", torch.float8_e4m3fn),
                              ("F8_E5M2", torch.float8_e5m2)):
            n = int(rng.integers(1, 9))
            raw = rng.bytes(n * (2 if dtype == "BF16" else 1))
            t = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(tdtype)
            extra[f"x.{dtype.lower()}"] = t
            expected[f"x.{dtype.lower()}"] = (dtype, [len(t)], raw)
        # copy(), not ascontiguousarray(), which turns a 0-d array into 1-d
        extra.update({k: torch.from_numpy(v.copy()) for k, v in arrays.items()})
        path = tmp_path / "from_python.safetensors"
        meta = {"seed": str(seed), "by": "torch"}
        torch_save(extra, str(path), metadata=meta)
    except ImportError:
        path = tmp_path / "from_python.safetensors"
        meta = {"seed": str(seed), "by": "numpy"}
        save_file(arrays, str(path), metadata=meta)
    write_manifest(path, expected, meta)
    reader = test_binary("pretrained", "test_safetensors_read")
    r = subprocess.run([reader, "--check", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout
