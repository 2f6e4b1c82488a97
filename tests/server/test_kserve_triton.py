"""KServe v2 / Open Inference Protocol end to end: the real `lepton serve`
binary on a loopback port, driven by NVIDIA's own Triton HTTP client
(tritonclient.http, unchanged) and by raw HTTP for the bad requests.

Models are the committed fixtures: distilbert-cls (text classifier, labels
NEGATIVE/POSITIVE), st-mean-norm (sentence embeddings), hf_bottleneck (ResNet,
3 classes, checked on already-preprocessed FP32 tensors) and tv_bottleneck
(ResNet with labels.txt, checked on real encoded medical images). Every number
is compared with the PyTorch reference stored beside the fixture.

Needs: the lepton binary (LEPTON, default build/tools/lepton), numpy,
safetensors (numpy API) and tritonclient[http]; skipped with the reason when a
Python package is missing."""
import http.client
import json
import os
import socket
import struct
import subprocess
import tempfile
import time

import pytest

np = pytest.importorskip("numpy", reason="numpy is needed for the KServe client tests")
tc_http = pytest.importorskip(
    "tritonclient.http",
    reason="tritonclient[http] is not installed (pip install 'tritonclient[http]'): "
    "the KServe v2 tests drive the server with Triton's own client")
from tritonclient.utils import InferenceServerException  # noqa: E402

SRC = os.environ.get("LP_SOURCE_DIR",
                     os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
LEPTON = os.environ.get("LEPTON", os.path.join(SRC, "build", "tools", "lepton"))
FIX = os.path.join(SRC, "tests", "fixtures")
SLOW = 4.0 if "asan" in LEPTON.lower() else 1.0

# The reference logits come from PyTorch on the same weights; the fixtures
# state 1e-4 (max abs) for a single forward. Through the server, batches group
# texts differently, so allow 5e-4 on logits and embeddings, 2e-4 on
# probabilities (softmax of 2-3 classes does not amplify the error).
TOL_LOGITS = 5e-4
TOL_PROBS = 2e-4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def load_expected(name):
    with open(os.path.join(FIX, "bert", name, "expected.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def kserve_server():
    if not os.path.isfile(LEPTON):
        pytest.fail(f"lepton binary not found at {LEPTON} (set LEPTON)")
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="lepton-kserve-", suffix=".log", delete=False)
    models = {
        "cls": os.path.join(FIX, "bert", "distilbert-cls"),
        "emb": os.path.join(FIX, "bert", "st-mean-norm"),
        "img": os.path.join(FIX, "resnet", "hf_bottleneck"),
        "tv": os.path.join(FIX, "resnet", "tv_bottleneck"),
    }
    args = [LEPTON, "serve", "--host", "127.0.0.1", "--port", str(port)]
    for name, d in models.items():
        args += ["--model", f"{name}={d}"]
    env = dict(os.environ)
    env.pop("LEPTON_API_KEY", None)
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=SRC)
    client = tc_http.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=60.0 * SLOW)
    deadline = time.time() + 60 * SLOW
    ready = False
    while time.time() < deadline and proc.poll() is None:
        try:
            if client.is_server_ready():
                ready = True
                break
        except Exception:
            pass
        time.sleep(0.05)
    if not ready:
        proc.kill()
        proc.wait()
        with open(log.name, errors="replace") as f:
            pytest.fail("lepton serve did not become ready:\n" + f.read()[-4000:])
    yield port, client
    proc.terminate()
    try:
        rc = proc.wait(timeout=30 * SLOW)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    client.close()
    with open(log.name, errors="replace") as f:
        text = f.read()
    os.unlink(log.name)
    assert rc == 0, f"lepton serve exited {rc}:\n{text[-4000:]}"


def raw(port, method, path, body=None, headers=None):
    """One HTTP request on its own connection: (status, headers dict, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60 * SLOW)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def error_of(body):
    doc = json.loads(body)
    assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"], body
    return doc["error"]


def bytes_input(name, texts, binary):
    arr = np.array([t.encode("utf-8") if isinstance(t, str) else t for t in texts], dtype=np.object_)
    i = tc_http.InferInput(name, [len(texts)], "BYTES")
    i.set_data_from_numpy(arr, binary_data=binary)
    return i


# ---- health and metadata ----------------------------------------------------

def test_health_and_server_metadata(kserve_server):
    port, c = kserve_server
    assert c.is_server_live()
    assert c.is_server_ready()
    for m in ("cls", "emb", "img", "tv"):
        assert c.is_model_ready(m)
        assert c.is_model_ready(m, model_version="1")
    assert not c.is_model_ready("no-such-model")
    meta = c.get_server_metadata()
    assert meta["name"] == "lepton"
    assert set(meta["extensions"]) >= {"binary_tensor_data", "classification", "statistics"}


def test_model_metadata(kserve_server):
    _, c = kserve_server
    m = c.get_model_metadata("cls")
    assert m["name"] == "cls" and m["versions"] == ["1"]
    assert m["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]},
                           {"name": "text_pair", "datatype": "BYTES", "shape": [-1]}]
    assert m["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 2]},
                            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}]
    e = c.get_model_metadata("emb", model_version="1")
    assert e["outputs"][0]["name"] == "embedding" and e["outputs"][0]["shape"][0] == -1
    assert e["outputs"][0]["shape"][1] == len(load_expected("st-mean-norm")["outputs"][0])
    i = c.get_model_metadata("img")
    names = [t["name"] for t in i["inputs"]]
    assert names == ["image", "pixel_values"]
    assert i["inputs"][1] == {"name": "pixel_values", "datatype": "FP32", "shape": [-1, 3, -1, -1]}
    assert i["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}]
    with pytest.raises(InferenceServerException) as ex:
        c.get_model_metadata("no-such-model")
    assert ex.value.status() == "404" and "unknown model" in ex.value.message()


# ---- inference ----------------------------------------------------------------

@pytest.mark.parametrize("binary", [True, False])
def test_text_classify_matches_pytorch(kserve_server, binary):
    _, c = kserve_server
    exp = load_expected("distilbert-cls")
    idx = [k for k, inp in enumerate(exp["inputs"]) if inp["pair"] is None]
    texts = [exp["inputs"][k]["text"] for k in idx]
    want = np.array([exp["outputs"][k] for k in idx], dtype=np.float32)
    outs = [tc_http.InferRequestedOutput("logits", binary_data=binary),
            tc_http.InferRequestedOutput("probabilities", binary_data=binary)]
    r = c.infer("cls", [bytes_input("text", texts, binary)], outputs=outs, request_id="req-7")
    assert r.get_response()["id"] == "req-7"
    logits = r.as_numpy("logits")
    assert logits.shape == want.shape and logits.dtype == np.float32
    assert np.abs(logits - want).max() <= TOL_LOGITS, np.abs(logits - want).max()
    probs = r.as_numpy("probabilities")
    assert np.abs(probs - softmax(want)).max() <= TOL_PROBS


def test_text_pairs_and_default_outputs(kserve_server):
    _, c = kserve_server
    exp = load_expected("distilbert-cls")
    idx = [k for k, inp in enumerate(exp["inputs"]) if inp["pair"] is not None]
    assert idx, "the fixture has sentence pairs"
    a = bytes_input("text", [exp["inputs"][k]["text"] for k in idx], True)
    b = bytes_input("text_pair", [exp["inputs"][k]["pair"] for k in idx], True)
    # no outputs named: the client asks for binary_data_output and gets every output
    r = c.infer("cls", [a, b])
    outs = {o["name"]: o for o in r.get_response()["outputs"]}
    assert set(outs) == {"logits", "probabilities"}
    assert all("binary_data_size" in o["parameters"] for o in outs.values())
    want = np.array([exp["outputs"][k] for k in idx], dtype=np.float32)
    assert np.abs(r.as_numpy("logits") - want).max() <= TOL_LOGITS


@pytest.mark.parametrize("binary", [True, False])
def test_classification_parameter(kserve_server, binary):
    _, c = kserve_server
    exp = load_expected("distilbert-cls")
    texts = [exp["inputs"][k]["text"] for k in range(4)]
    want = softmax(np.array(exp["outputs"][:4], dtype=np.float32))
    out = tc_http.InferRequestedOutput("probabilities", binary_data=binary, class_count=2)
    r = c.infer("cls", [bytes_input("text", texts, not binary)], outputs=[out])
    o = r.get_response()["outputs"][0]
    assert o["datatype"] == "BYTES" and o["shape"] == [4, 2]
    got = r.as_numpy("probabilities")
    assert got.shape == (4, 2)
    for row in range(4):
        order = np.argsort(-want[row], kind="stable")
        for j in range(2):
            s = got[row][j]
            s = s.decode() if isinstance(s, bytes) else s
            value, index, label = s.split(":")
            assert int(index) == order[j]
            assert label == exp["labels"][order[j]]
            assert abs(float(value) - want[row][order[j]]) <= TOL_PROBS + 1e-6  # printed as %f
    # top-1 of logits: the count is clamped to what the model has
    out = tc_http.InferRequestedOutput("logits", binary_data=binary, class_count=5)
    r = c.infer("cls", [bytes_input("text", texts[:1], True)], outputs=[out])
    assert r.as_numpy("logits").shape == (1, 2)


def test_embedding_matches_pytorch(kserve_server):
    _, c = kserve_server
    exp = load_expected("st-mean-norm")
    idx = [k for k, inp in enumerate(exp["inputs"]) if inp["pair"] is None][:6]
    texts = [exp["inputs"][k]["text"] for k in idx]
    want = np.array([exp["outputs"][k] for k in idx], dtype=np.float32)
    for binary in (True, False):
        r = c.infer("emb", [bytes_input("text", texts, binary)],
                    outputs=[tc_http.InferRequestedOutput("embedding", binary_data=binary)])
        got = r.as_numpy("embedding")
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= TOL_LOGITS


def test_pixel_values_match_pytorch(kserve_server):
    _, c = kserve_server
    from safetensors.numpy import load_file
    ref = load_file(os.path.join(FIX, "resnet", "expected.safetensors"))
    x = ref["x"].astype(np.float32)  # [8, 3, 56, 56], already preprocessed
    want = softmax(ref["hf_bottleneck.b8"].astype(np.float32))
    for binary in (True, False):
        i = tc_http.InferInput("pixel_values", list(x.shape), "FP32")
        i.set_data_from_numpy(x, binary_data=binary)
        r = c.infer("img", [i], outputs=[tc_http.InferRequestedOutput("probabilities", binary_data=binary)])
        got = r.as_numpy("probabilities")
        assert got.shape == (8, 3)
        assert np.abs(got - want).max() <= TOL_PROBS


def test_encoded_images_match_pytorch(kserve_server):
    _, c = kserve_server
    from safetensors.numpy import load_file
    ref = load_file(os.path.join(FIX, "resnet", "expected.safetensors"))
    with open(os.path.join(FIX, "resnet", "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["e2e_model"] == "tv_bottleneck"
    items = [e for e in manifest["e2e"] if os.path.isfile(os.path.join(SRC, e["image"]))]
    if not items:
        pytest.skip("no e2e images found (../shared/data missing)")
    images = []
    for e in items:
        with open(os.path.join(SRC, e["image"]), "rb") as f:
            images.append(f.read())
    want = softmax(np.concatenate([ref[e["logits"]] for e in items]).astype(np.float32))
    with open(os.path.join(FIX, "resnet", "tv_bottleneck", "labels.txt")) as f:
        labels = [line.strip() for line in f if line.strip()]
    i = bytes_input("image", images, True)
    outs = [tc_http.InferRequestedOutput("probabilities", binary_data=True),
            tc_http.InferRequestedOutput("probabilities", binary_data=False, class_count=1)]
    r = c.infer("tv", [i], outputs=outs[:1])
    got = r.as_numpy("probabilities")
    assert got.shape == want.shape
    # decoding and resizing follow PIL/torchvision to the pixel; the tolerance
    # covers float rounding of the whole network
    assert np.abs(got - want).max() <= 1e-3, np.abs(got - want).max()
    r = c.infer("tv", [i], outputs=outs[1:])
    top = r.as_numpy("probabilities")
    for row in range(len(items)):
        s = top[row][0]
        s = s.decode() if isinstance(s, bytes) else s
        _, index, label = s.split(":", 2)
        assert int(index) == int(np.argmax(want[row]))
        assert label == labels[int(index)]


def test_truncation_is_reported_or_refused(kserve_server):
    port, c = kserve_server
    long_text = " ".join(["word"] * 5000)
    doc = {"inputs": [dict(TEXT, shape=[2], data=["short", long_text])]}
    st, _, body = raw(port, "POST", "/v2/models/cls/infer", json.dumps(doc).encode())
    assert st == 200, body
    assert json.loads(body)["parameters"] == {"truncated": [False, True]}
    st, _, body = raw(port, "POST", "/v2/models/cls/infer", json.dumps(dict(doc, parameters={"truncate": False})).encode())
    assert st == 422, body
    error_of(body)
    # the same through the Triton client's custom parameters
    r = c.infer("cls", [bytes_input("text", ["short"], True)], parameters={"truncate": False})
    assert r.as_numpy("logits").shape == (1, 2) and "parameters" not in r.get_response()


def test_undecodable_image(kserve_server):
    port, _ = kserve_server
    doc = {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [2], "data": ["not an image", "x"]}]}
    st, _, body = raw(port, "POST", "/v2/models/tv/infer", json.dumps(doc).encode())
    assert st == 400 and "input 'image' element 0:" in error_of(body), body


def test_statistics(kserve_server):
    _, c = kserve_server
    before = c.get_inference_statistics("emb")["model_stats"][0]
    r = c.infer("emb", [bytes_input("text", ["a", "b", "c"], True)])
    assert r.as_numpy("embedding").shape[0] == 3
    s = c.get_inference_statistics("emb", model_version="1")["model_stats"]
    assert len(s) == 1 and s[0]["name"] == "emb" and s[0]["version"] == "1"
    s = s[0]
    assert s["inference_count"] == before["inference_count"] + 3
    assert s["execution_count"] >= before["execution_count"] + 1
    st = s["inference_stats"]
    assert st["success"]["count"] == before["inference_stats"]["success"]["count"] + 1
    assert st["success"]["ns"] > before["inference_stats"]["success"]["ns"]
    assert st["queue"]["count"] >= 1 and st["compute_infer"]["count"] >= 1
    assert s["last_inference"] > 1.6e12
    assert sum(b["compute_infer"]["count"] for b in s["batch_stats"]) == s["execution_count"]
    everything = c.get_inference_statistics()["model_stats"]
    assert sorted(m["name"] for m in everything) == ["cls", "emb", "img", "tv"]
    with pytest.raises(InferenceServerException) as ex:
        c.get_inference_statistics("no-such-model")
    assert ex.value.status() == "404"


def test_client_side_errors_come_back_as_messages(kserve_server):
    _, c = kserve_server
    i = tc_http.InferInput("text", [2], "FP32")
    i.set_data_from_numpy(np.array([1.0, 2.0], dtype=np.float32))
    with pytest.raises(InferenceServerException) as ex:
        c.infer("cls", [i])
    assert ex.value.status() == "400" and "must have datatype BYTES, got FP32" in ex.value.message()
    with pytest.raises(InferenceServerException) as ex:
        c.infer("cls", [bytes_input("sentence", ["x"], True)])
    assert ex.value.status() == "400" and "has no input 'sentence'" in ex.value.message()
    with pytest.raises(InferenceServerException) as ex:
        c.infer("nope", [bytes_input("text", ["x"], True)])
    assert ex.value.status() == "404" and "unknown model 'nope'" in ex.value.message()
    with pytest.raises(InferenceServerException) as ex:
        c.infer("cls", [bytes_input("text", ["x"], True)],
                outputs=[tc_http.InferRequestedOutput("embedding")])
    assert ex.value.status() == "400" and "has no output 'embedding'" in ex.value.message()
    with pytest.raises(InferenceServerException) as ex:
        c.infer("cls", [bytes_input("text", ["x"], True)], model_version="2")
    assert ex.value.status() == "404" and "no version '2'" in ex.value.message()


# ---- bad requests over raw HTTP ------------------------------------------------

def infer_json(port, model, doc, headers=None):
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return raw(port, "POST", f"/v2/models/{model}/infer", body, h)


TEXT = {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hello"]}

BAD_JSON = [
    # (what, body, status, words in the error)
    ("malformed JSON", b'{"inputs": [', 400, "malformed JSON"),
    ("not an object", b'[1, 2]', 400, "must be a JSON object"),
    ("no inputs", {"outputs": []}, 400, '"inputs" must be an array'),
    ("unknown datatype", {"inputs": [dict(TEXT, datatype="STRING")]}, 400, "unknown datatype 'STRING'"),
    ("wrong datatype", {"inputs": [dict(TEXT, datatype="INT32", data=[1])]}, 400,
     "must have datatype BYTES, got INT32"),
    ("shape vs data", {"inputs": [dict(TEXT, shape=[2])]}, 400, "shape says 2 elements but \"data\" has 1"),
    ("negative dim", {"inputs": [dict(TEXT, shape=[-1])]}, 400, "shape[0] must be an integer"),
    ("2-d texts", {"inputs": [dict(TEXT, shape=[1, 2], data=["a", "b"])]}, 400, "shape [n] or [n, 1]"),
    ("number as text", {"inputs": [dict(TEXT, data=[5])]}, 400, "element 0 must be a string"),
    ("unknown input", {"inputs": [dict(TEXT, name="words")]}, 400, "has no input 'words'"),
    ("no text input", {"inputs": [dict(TEXT, name="text_pair")]}, 400, "needs the input 'text'"),
    ("pair count", {"inputs": [TEXT, dict(TEXT, name="text_pair", shape=[2], data=["a", "b"])]}, 400,
     "'text_pair' has 2 items but 'text' has 1"),
    ("duplicate input", {"inputs": [TEXT, TEXT]}, 400, "given twice"),
    ("unknown output", {"inputs": [TEXT], "outputs": [{"name": "scores"}]}, 400, "has no output 'scores'"),
    ("bad classification", {"inputs": [TEXT], "outputs": [{"name": "logits", "parameters": {"classification": -2}}]},
     400, "classification must be a positive integer"),
    ("no data", {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1]}]}, 400, 'no "data"'),
    ("binary size without header",
     {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 9}}]},
     400, "no Inference-Header-Content-Length"),
    ("empty batch", {"inputs": [dict(TEXT, shape=[0], data=[])]}, 400, "no items"),
]


@pytest.mark.parametrize("what,doc,status,words", BAD_JSON, ids=[c[0] for c in BAD_JSON])
def test_bad_json_requests(kserve_server, what, doc, status, words):
    port, _ = kserve_server
    st, _, body = infer_json(port, "cls", doc)
    assert st == status, (what, body)
    assert words in error_of(body), (what, body)


def binary_request(inputs_meta, tail, header_len=None):
    head = json.dumps({"inputs": inputs_meta}).encode()
    n = len(head) if header_len is None else header_len
    return head + tail, {"Inference-Header-Content-Length": str(n),
                         "Content-Type": "application/octet-stream"}


BYTES_META = {"name": "text", "datatype": "BYTES", "shape": [1]}
BAD_BINARY = [
    ("size larger than the tail", [dict(BYTES_META, parameters={"binary_data_size": 20})],
     struct.pack("<I", 2) + b"hi", None, "binary_data_size 20 is more than the 6 bytes"),
    ("bytes left over", [dict(BYTES_META, parameters={"binary_data_size": 6})],
     struct.pack("<I", 2) + b"hi" + b"zz", None, "the inputs' binary_data_size add up to 6"),
    ("element length lies", [dict(BYTES_META, parameters={"binary_data_size": 6})],
     struct.pack("<I", 1000) + b"hi", None, "says 1000 bytes but only 2 are left"),
    ("too many elements for the bytes", [dict(BYTES_META, shape=[100], parameters={"binary_data_size": 6})],
     struct.pack("<I", 2) + b"hi", None, "cannot hold 100 BYTES elements"),
    ("fp32 size mismatch",
     [{"name": "pixel_values", "datatype": "FP32", "shape": [1, 3, 2, 2], "parameters": {"binary_data_size": 8}}],
     b"\0" * 8, None, "needs 48 bytes"),
    ("header length beyond the body", [dict(BYTES_META, parameters={"binary_data_size": 6})],
     struct.pack("<I", 2) + b"hi", 100000, "larger than the body"),
    ("header length cuts the JSON", [dict(BYTES_META, parameters={"binary_data_size": 6})],
     struct.pack("<I", 2) + b"hi", 10, "malformed JSON"),
]


@pytest.mark.parametrize("what,meta,tail,hlen,words", BAD_BINARY, ids=[c[0] for c in BAD_BINARY])
def test_bad_binary_requests(kserve_server, what, meta, tail, hlen, words):
    port, _ = kserve_server
    body, headers = binary_request(meta, tail, hlen)
    model = "img" if meta[0]["name"] == "pixel_values" else "cls"
    st, _, resp = raw(port, "POST", f"/v2/models/{model}/infer", body, headers)
    assert st == 400, (what, resp)
    assert words in error_of(resp), (what, resp)


def test_bad_header_value(kserve_server):
    port, _ = kserve_server
    body, headers = binary_request([dict(BYTES_META, parameters={"binary_data_size": 6})],
                                   struct.pack("<I", 2) + b"hi")
    headers["Inference-Header-Content-Length"] = "12abc"
    st, _, resp = raw(port, "POST", "/v2/models/cls/infer", body, headers)
    assert st == 400 and "non-negative integer" in error_of(resp)


def test_routes_methods_and_binary_reply(kserve_server):
    port, _ = kserve_server
    st, _, body = raw(port, "GET", "/v2/models/cls/infer")
    assert st == 405 and "takes POST" in error_of(body)
    st, h, body = raw(port, "POST", "/v2/models/cls")
    assert st == 405 and h.get("allow") == "GET"
    st, _, body = raw(port, "GET", "/v2/models/cls/explain")
    assert st == 404 and "no such KServe v2 endpoint" in error_of(body)
    st, _, body = raw(port, "GET", "/v2/models/nope/ready")
    assert st == 404 and "unknown model 'nope'" in error_of(body)
    st, _, body = infer_json(port, "nope", {"inputs": [TEXT]})
    assert st == 404 and "unknown model 'nope'" in error_of(body)
    st, _, body = infer_json(port, "cls", {"inputs": [TEXT]}, {"Content-Encoding": "gzip"})
    assert st == 415 and "Content-Encoding" in error_of(body)
    # a binary reply: the JSON header length, then the raw FP32 logits
    st, h, body = infer_json(port, "cls", {"inputs": [TEXT], "outputs": [
        {"name": "logits", "parameters": {"binary_data": True}}]})
    assert st == 200 and h["content-type"] == "application/octet-stream"
    n = int(h["inference-header-content-length"])
    head = json.loads(body[:n])
    assert head["outputs"][0]["parameters"]["binary_data_size"] == 8 == len(body) - n
    logits = np.frombuffer(body[n:], dtype="<f4")
    st, h, body = infer_json(port, "cls", {"inputs": [TEXT]})
    assert st == 200 and h["content-type"] == "application/json"
    doc = json.loads(body)
    assert np.allclose(doc["outputs"][0]["data"], logits, rtol=0, atol=1e-6)
    assert h.get("x-request-id")


def test_metrics_count_kserve_requests(kserve_server):
    port, c = kserve_server
    c.infer("cls", [bytes_input("text", ["metrics please"], True)])
    assert infer_json(port, "cls", {"inputs": [dict(TEXT, shape=[3])]})[0] == 400
    st, _, body = raw(port, "GET", "/metrics")
    assert st == 200
    text = body.decode()
    assert 'lepton_requests_total{model="cls",endpoint="kserve_infer",status="200",reason="ok"}' in text
    assert 'lepton_requests_total{model="cls",endpoint="kserve_infer",status="400",reason="bad_request"}' in text
    assert 'lepton_batch_size_count{model="cls"}' in text


def test_metrics_exposition_parses(kserve_server):
    """/metrics after KServe traffic, read by the official Prometheus parser:
    every family typed, histograms cumulative with +Inf == _count."""
    parser = pytest.importorskip("prometheus_client.parser",
                                 reason="prometheus-client is not installed (the official text parser)")
    port, c = kserve_server
    c.infer("emb", [bytes_input("text", ["one", "two"], True)])
    st, h, body = raw(port, "GET", "/metrics")
    assert st == 200 and h["content-type"].startswith("text/plain")
    families = {f.name: f for f in parser.text_string_to_metric_families(body.decode())}
    assert families["lepton_requests"].type == "counter"
    for name in ("lepton_request_duration_seconds", "lepton_queue_duration_seconds",
                 "lepton_compute_duration_seconds", "lepton_batch_size"):
        fam = families[name]
        assert fam.type == "histogram"
        series = {}
        for s in fam.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, []).append(s)
        assert series, name
        for key, samples in series.items():
            buckets = [s for s in samples if s.name.endswith("_bucket")]
            counts = [s.value for s in buckets]
            assert counts == sorted(counts), (name, key)
            assert buckets[-1].labels["le"] == "+Inf"
            total = [s.value for s in samples if s.name.endswith("_count")]
            assert total == [counts[-1]], (name, key)
    emb = [s for s in families["lepton_batch_size"].samples
           if s.name == "lepton_batch_size_count" and s.labels.get("model") == "emb"]
    assert emb and emb[0].value >= 1
    assert families["lepton_model_state"].type == "gauge"
    ready = {s.labels["model"]: s.value for s in families["lepton_model_state"].samples
             if s.labels["state"] == "ready"}
    assert ready == {"cls": 1.0, "emb": 1.0, "img": 1.0, "tv": 1.0}
