"""The writer shared by the op fixture generators (make_gemm_fixtures.py,
make_elementwise_fixtures.py): cases of tensors in one safetensors file under
tests/fixtures/ops/, each case's op and parameters as JSON in __metadata__
(tests/op_fixture.c reads them back)."""
import json
import os
import struct

from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "ops")
MAX_BYTES = 200 * 1024


def sort_metadata(path):
    """safetensors writes __metadata__ in hash order, which changes from run
    to run; rewrite the header with the keys sorted (same length, same
    tensors) so that regenerating a fixture gives the same bytes."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= n
    text += b" " * (n - len(text))
    with open(path, "wb") as f:
        f.write(data[:8] + text + data[8 + n:])


class Fixture:
    """Cases "case<N>" numbered from 0 without gaps; tensors "case<N>.<name>".
    as_float stores every tensor as float32 (the GEMM family), else each keeps
    its dtype (the cast fixtures need f16 / bf16). None tensors are left out."""

    def __init__(self, prefix, name, as_float=False):
        self.path = os.path.join(OUT, "%s_%s.safetensors" % (prefix, name))
        self.as_float = as_float
        self.tensors = {}
        self.meta = {}
        self.count = 0

    def case(self, params, **tensors):
        key = "case%d" % self.count
        self.count += 1
        self.meta[key] = json.dumps(params, sort_keys=True)
        for name, t in tensors.items():
            if t is None:
                continue
            t = t.detach()
            self.tensors["%s.%s" % (key, name)] = (t.float() if self.as_float else t).contiguous().clone()

    def save(self):
        save_file(self.tensors, self.path, metadata=self.meta)
        sort_metadata(self.path)
        size = os.path.getsize(self.path)
        assert size < MAX_BYTES, "%s is %d bytes" % (self.path, size)
        print("%-40s %3d cases %7d bytes" % (os.path.relpath(self.path, ROOT), self.count, size))
