"""Bad input: each case gets the right status and a JSON {"error": ...}
message that names what was wrong."""
import base64
import json
import socket

import pytest

from conftest import SLOW

J = {"Content-Type": "application/json"}


def jb(doc):
    return json.dumps(doc).encode()


LONG_TEXT = "word " * 600
CASES = [
    # (id, method, path, headers, body, status, words the message must contain)
    ("not-json", "POST", "/v1/embed", J, b"{not json", 400, "not valid JSON"),
    ("json-array", "POST", "/v1/embed", J, b"[1, 2]", 400, "JSON object"),
    ("empty-body", "POST", "/v1/embed", J, b"", 400, "empty"),
    ("nul-in-body", "POST", "/v1/embed", J, b'{"model": "minilm", "inputs": "a"}\x00junk', 400, "JSON"),
    ("missing-inputs", "POST", "/v1/embed", J, jb({"model": "minilm"}), 400, "'inputs' is required"),
    ("inputs-number", "POST", "/v1/embed", J, jb({"model": "minilm", "inputs": 5}), 400, "'inputs' must be"),
    ("inputs-object", "POST", "/v1/classify", J, jb({"model": "cls", "inputs": {"a": 1}}), 400, "'inputs' must be"),
    ("inputs-empty-list", "POST", "/v1/embed", J, jb({"model": "minilm", "inputs": []}), 400, "empty list"),
    ("inputs-item-not-string", "POST", "/v1/embed", J, jb({"model": "minilm", "inputs": ["a", 1]}), 400,
     "inputs[1] must be a string"),
    ("inputs-null-item", "POST", "/v1/classify", J, jb({"model": "cls", "inputs": [None]}), 400, "inputs[0]"),
    ("model-not-string", "POST", "/v1/embed", J, jb({"model": 7, "inputs": "a"}), 400, "'model' must be a string"),
    ("unknown-model", "POST", "/v1/embed", J, jb({"model": "nope", "inputs": "a"}), 404, "no model named 'nope'"),
    ("path-as-model", "POST", "/v1/embed", J, jb({"model": "../../etc/passwd", "inputs": "a"}), 404, "no model named"),
    ("wrong-task", "POST", "/v1/classify", J, jb({"model": "minilm", "inputs": "a"}), 400, "/v1/embed"),
    ("embed-on-classifier", "POST", "/v1/embed", J, jb({"model": "cls", "inputs": "a"}), 400, "/v1/classify"),
    ("model-required", "POST", "/v1/embed", J, jb({"inputs": "a"}), 400, "'model' is required"),
    ("unknown-field", "POST", "/v1/embed", J, jb({"model": "minilm", "inputs": "a", "foo": 1}), 400,
     "unknown field 'foo'"),
    ("truncate-not-bool", "POST", "/v1/embed", J, jb({"model": "minilm", "inputs": "a", "truncate": "no"}), 400,
     "'truncate'"),
    ("timeout-negative", "POST", "/v1/embed", J, jb({"model": "minilm", "inputs": "a", "timeout_ms": -1}), 400,
     "timeout_ms"),
    ("timeout-fraction", "POST", "/v1/embed", J, jb({"model": "minilm", "inputs": "a", "timeout_ms": 1.5}), 400,
     "timeout_ms"),
    ("too-many-items", "POST", "/v1/classify", J, jb({"model": "cls", "inputs": ["a"] * 9}), 413, "at most 8"),
    ("text-too-long", "POST", "/v1/classify", J, jb({"model": "cls", "inputs": ["x" * 1001]}), 413,
     "at most 1000 bytes"),
    ("truncation-forbidden", "POST", "/v1/embed", J,
     jb({"model": "minilm", "inputs": ["short", LONG_TEXT], "truncate": False}), 422, "input 1 is longer"),
    ("invalid-utf8", "POST", "/v1/embed", J, b'{"model": "minilm", "inputs": "\xff\xfe"}', 400, "UTF-8"),
    ("pair-of-three", "POST", "/v1/classify", J, jb({"model": "cls", "inputs": [["a", "b", "c"]]}), 400, "pair"),
    ("pair-not-strings", "POST", "/v1/classify", J, jb({"model": "cls", "inputs": [["a", 2]]}), 400, "inputs[0][1]"),
    ("pairs-on-embed", "POST", "/v1/embed", J, jb({"model": "minilm", "inputs": [["a", "b"]]}), 400,
     "inputs[0] must be a string"),
    ("wrong-content-type", "POST", "/v1/embed", {"Content-Type": "text/plain"}, jb({"model": "minilm", "inputs": "a"}),
     415, "application/json"),
    ("get-on-post-route", "GET", "/v1/classify", {}, None, 405, "POST"),
    ("post-on-models", "POST", "/v1/models", J, b"{}", 405, "GET"),
    ("delete-metrics", "DELETE", "/metrics", {}, None, 405, "GET"),
    ("unknown-path", "GET", "/v1/nope", {}, None, 404, "no such endpoint"),
    ("unknown-model-info", "GET", "/v1/models/nope", {}, None, 404, "no model named"),
    ("body-too-large", "POST", "/v1/embed", J, b'{"model": "minilm", "inputs": "' + b"a" * (1 << 20) + b'"}', 413,
     "at most 1048576"),
    ("image-text-plain", "POST", "/v1/classify-image?model=img", {"Content-Type": "text/plain"}, b"hello", 415,
     "image/*"),
    ("image-no-content-type", "POST", "/v1/classify-image?model=img", {}, b"\x89PNG", 415, "multipart/form-data"),
    ("image-empty-body", "POST", "/v1/classify-image?model=img", {"Content-Type": "image/png"}, b"", 400, "empty"),
    ("image-garbage", "POST", "/v1/classify-image?model=img", {"Content-Type": "image/png"}, b"not an image at all",
     422, "cannot be used"),
    ("image-truncated-png", "POST", "/v1/diagnose?model=img", {"Content-Type": "image/png"},
     b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", 422, "cannot be used"),
    ("image-bad-base64", "POST", "/v1/classify-image", J, jb({"model": "img", "image": "@@@@"}), 400, "base64"),
    ("image-base64-empty", "POST", "/v1/classify-image", J, jb({"model": "img", "image": ""}), 400, "0 bytes"),
    ("image-json-missing", "POST", "/v1/classify-image", J, jb({"model": "img"}), 400, "'image' is required"),
    ("image-json-list-item", "POST", "/v1/classify-image", J, jb({"model": "img", "images": [3]}), 400,
     "images[0] must be a base64 string"),
    ("image-bad-top-k", "POST", "/v1/classify-image?model=img&top_k=0", {"Content-Type": "image/png"}, b"x", 400,
     "top_k"),
    ("image-unknown-query", "POST", "/v1/classify-image?model=img&colour=red", {"Content-Type": "image/png"}, b"x",
     400, "unknown query parameter 'colour'"),
    ("image-wrong-task", "POST", "/v1/diagnose?model=minilm", {"Content-Type": "image/png"}, b"x", 400,
     "/v1/embed"),
    ("image-unknown-model", "POST", "/v1/diagnose?model=xray9", {"Content-Type": "image/png"}, b"x", 404,
     "no model named 'xray9'"),
    ("multipart-no-boundary", "POST", "/v1/classify-image", {"Content-Type": "multipart/form-data"}, b"--x\r\n", 400,
     "boundary"),
    ("multipart-malformed", "POST", "/v1/classify-image", {"Content-Type": "multipart/form-data; boundary=zz"},
     b"--zz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc", 400, "malformed multipart"),
    ("multipart-no-file", "POST", "/v1/classify-image", {"Content-Type": "multipart/form-data; boundary=zz"},
     b"--zz\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nimg\r\n--zz--\r\n", 400, "no image file part"),
    ("translate-unknown-model", "POST", "/v1/translate", J, jb({"model": "xx-yy", "inputs": "你好"}), 404,
     "no model named 'xx-yy'"),
    ("translate-wrong-task", "POST", "/v1/translate", J, jb({"model": "cls", "inputs": "你好"}), 400, "/v1/classify"),
    ("translate-bad-beam", "POST", "/v1/translate", J, jb({"model": "zh-en", "inputs": "你好", "beam": 0}), 400,
     "'beam'"),
    ("translate-bad-max-length", "POST", "/v1/translate", J,
     jb({"model": "zh-en", "inputs": "你好", "max_length": "long"}), 400, "'max_length'"),
    ("translate-text-not-string", "POST", "/v1/translate", J, jb({"model": "zh-en", "inputs": [["a", "b"]]}), 400,
     "inputs[0] must be a string"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(srv, case):
    _, method, path, headers, body, status, words = case
    r = srv.request(method, path, body, headers=headers)
    assert r.status == status, (r.status, r.body[:300])
    assert r.headers.get("content-type", "").startswith("application/json")
    msg = r.error()
    assert words in msg, msg
    if status == 405:
        assert r.headers.get("allow") in ("GET", "POST")


def test_at_least_thirty_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",  # then the client goes away
    b"GET /v1/models HTTP/1.1\r\n" + b"X-Long: " + b"a" * 100000 + b"\r\n\r\n",
])
def test_malformed_http_does_not_hurt_the_server(srv, raw):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
        try:  # the server may answer 400/413 and close before it has read everything
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            s.recv(65536)
        except OSError:
            pass
    assert srv.request("GET", "/v2/health/ready").status == 200
    assert srv.post("/v1/embed", {"model": "minilm", "inputs": "still fine"}).status == 200


def test_base64_with_whitespace_and_urlsafe_alphabet(srv):
    import os
    from conftest import MEDICAL
    with open(os.path.join(MEDICAL, "00000001_000.png"), "rb") as f:
        data = f.read()
    b = base64.urlsafe_b64encode(data).decode().rstrip("=")
    b = "\n".join(b[i:i + 76] for i in range(0, len(b), 76))
    r = srv.post("/v1/classify-image", {"model": "img", "image": b})
    assert r.status == 200, r.body
