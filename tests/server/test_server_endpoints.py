"""Every /v1 endpoint of `lepton serve`, single and list inputs, with answers
checked against the `lepton` CLI on the same checkpoints (same code path for
the model, so only batching and float rounding may differ)."""
import base64
import math
import os
import uuid

from conftest import CLS_DIR, IMG_DIR, MEDICAL, MT_DIR, Server, run_cli

TEXTS = ["The weather is lovely today.", "今天天气很好。", "A man is playing a guitar on the stage.",
         "", "emoji 🙂 and numbers 12345"]
IMAGES = ["00000001_000.png", "ISIC_0000000.jpg", "600px-Fundus_photograph_of_normal_right_eye.jpg"]


def read_image(name):
    with open(os.path.join(MEDICAL, name), "rb") as f:
        return f.read()


def test_health_and_readiness(srv):
    r = srv.request("GET", "/v2/health/live")
    assert r.status == 200 and r.json()["live"] is True
    r = srv.request("GET", "/v2/health/ready")
    assert r.status == 200 and r.json()["ready"] is True


def test_models_lists_every_model(srv):
    r = srv.request("GET", "/v1/models")
    assert r.status == 200
    models = {m["name"]: m for m in r.json()["models"]}
    assert set(models) == {"minilm", "cls", "img", "slow", "cls_deadline", "zh-en"}
    assert models["zh-en"]["task"] == "translate"
    assert models["minilm"]["task"] == "embed" and models["minilm"]["dim"] == 384
    assert models["minilm"]["state"] == "ready"
    assert models["cls"]["task"] == "classify"
    assert models["cls"]["labels"] == ["negative", "neutral", "positive"]
    assert models["cls"]["limits"]["max_items"] == 8
    assert models["img"]["task"] == "classify-image"
    assert models["img"]["labels"] == ["normal", "benign", "malignant"]
    assert models["img"]["thresholds"] == {"normal": 0.5, "benign": 0.5, "malignant": 0.1}
    one = srv.request("GET", "/v1/models/cls")
    assert one.status == 200 and one.json()["name"] == "cls"


def test_embed_matches_cli(srv, minilm):
    want = run_cli(["embed", "--model", minilm], "\n".join(TEXTS) + "\n")
    r = srv.post("/v1/embed", {"model": "minilm", "inputs": TEXTS})
    assert r.status == 200, r.body
    doc = r.json()
    assert doc["model"] == "minilm" and doc["dim"] == 384
    assert len(doc["embeddings"]) == len(TEXTS) and doc["truncated"] == [False] * len(TEXTS)
    for got, ref in zip(doc["embeddings"], want):
        assert len(got) == 384
        # same weights and kernels; only the batch composition differs (float rounding)
        assert max(abs(a - b) for a, b in zip(got, ref["embedding"])) < 1e-4
        assert abs(math.sqrt(sum(v * v for v in got)) - 1.0) < 1e-4  # MiniLM normalises


def test_embed_single_text(srv, minilm):
    want = run_cli(["embed", "--model", minilm], TEXTS[0] + "\n")[0]["embedding"]
    r = srv.post("/v1/embed", {"model": "minilm", "inputs": TEXTS[0]})
    assert r.status == 200, r.body
    doc = r.json()
    assert doc["truncated"] is False
    assert max(abs(a - b) for a, b in zip(doc["embedding"], want)) < 1e-4
    timing = r.headers["server-timing"]
    assert "queue;dur=" in timing and "compute;dur=" in timing and 'batch;desc="1"' in timing


def test_embed_semantics(srv):
    """Real weights: paraphrases are closer than unrelated sentences."""
    r = srv.post("/v1/embed", {"model": "minilm", "inputs": [
        "A man is playing a guitar.", "Someone plays the guitar.", "The stock market fell sharply today."]})
    e = r.json()["embeddings"]
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))
    assert dot(e[0], e[1]) > dot(e[0], e[2]) + 0.3


def test_embed_long_text_is_truncated_and_says_so(srv):
    long_text = "word " * 600
    r = srv.post("/v1/embed", {"model": "minilm", "inputs": [long_text, "short"]})
    assert r.status == 200, r.body
    assert r.json()["truncated"] == [True, False]


def test_classify_matches_cli(srv):
    texts = ["这部电影太好看了", "质量很差，不推荐", "一般般吧"]
    want = run_cli(["classify", "--model", CLS_DIR], "\n".join(texts) + "\n")
    r = srv.post("/v1/classify", {"model": "cls", "inputs": texts})
    assert r.status == 200, r.body
    res = r.json()["results"]
    assert len(res) == 3
    for got, ref in zip(res, want):
        assert got["label"] == ref["label"]
        assert set(got["scores"]) == {"negative", "neutral", "positive"}
        for k in got["scores"]:
            assert abs(got["scores"][k] - ref["scores"][k]) < 1e-5
        assert abs(sum(got["scores"].values()) - 1) < 1e-5
        assert got["truncated"] is False


def test_classify_single_and_pairs(srv):
    r = srv.post("/v1/classify", {"model": "cls", "inputs": "很好"})
    assert r.status == 200, r.body
    doc = r.json()
    assert doc["model"] == "cls" and doc["label"] in ("negative", "neutral", "positive")
    assert abs(doc["score"] - max(doc["scores"].values())) < 1e-9
    want = run_cli(["classify", "--model", CLS_DIR, "--pair"], "问题\t回答\n")
    r = srv.post("/v1/classify", {"model": "cls", "inputs": [["问题", "回答"], "单句"]})
    assert r.status == 200, r.body
    got = r.json()["results"][0]
    for k in got["scores"]:
        assert abs(got["scores"][k] - want[0]["scores"][k]) < 1e-5


def test_sentiment_endpoint(srv):
    r = srv.post("/v1/sentiment", {"model": "cls", "inputs": ["太棒了", "太差了"]})
    assert r.status == 200, r.body
    assert [x["label"] in ("negative", "neutral", "positive") for x in r.json()["results"]] == [True, True]


def check_image_top(doc, ref):
    assert doc["label"] == ref["top"][0]["label"]
    assert [t["label"] for t in doc["top"]] == [t["label"] for t in ref["top"]]
    for a, b in zip(doc["top"], ref["top"]):
        assert abs(a["score"] - b["score"]) < 1e-4 and a["index"] == b["index"]


def test_classify_image_raw_body_matches_cli(srv):
    paths = [os.path.join(MEDICAL, n) for n in IMAGES]
    want = run_cli(["classify-image", "--model", IMG_DIR, "--top-k", "3"] + paths, "")
    for name, ref in zip(IMAGES, want):
        ctype = "image/png" if name.endswith(".png") else "image/jpeg"
        r = srv.request("POST", "/v1/classify-image?model=img&top_k=3", read_image(name),
                        headers={"Content-Type": ctype})
        assert r.status == 200, r.body
        check_image_top(r.json(), ref)


def test_classify_image_base64_list(srv):
    paths = [os.path.join(MEDICAL, n) for n in IMAGES]
    want = run_cli(["classify-image", "--model", IMG_DIR, "--top-k", "2"] + paths, "")
    imgs = [base64.b64encode(read_image(n)).decode() for n in IMAGES]
    imgs[1] = "data:image/jpeg;base64," + imgs[1]
    r = srv.post("/v1/classify-image", {"model": "img", "images": imgs, "top_k": 2})
    assert r.status == 200, r.body
    res = r.json()["results"]
    assert len(res) == 3
    for doc, ref in zip(res, want):
        assert len(doc["top"]) == 2
        check_image_top(doc, ref)


def multipart(fields, files):
    boundary = "lepton" + uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").encode()
    for name, filename, data in files:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def test_classify_image_multipart(srv):
    want = run_cli(["classify-image", "--model", IMG_DIR, "--top-k", "3", os.path.join(MEDICAL, IMAGES[1])], "")
    body, ctype = multipart({"model": "img", "top_k": "3"}, [("image", IMAGES[1], read_image(IMAGES[1]))])
    r = srv.request("POST", "/v1/classify-image", body, headers={"Content-Type": ctype})
    assert r.status == 200, r.body
    check_image_top(r.json(), want[0])
    body, ctype = multipart({"model": "img"}, [("images", n, read_image(n)) for n in IMAGES[:2]])
    r = srv.request("POST", "/v1/classify-image", body, headers={"Content-Type": ctype})
    assert r.status == 200, r.body
    assert len(r.json()["results"]) == 2


def test_diagnose_reports_labels_thresholds_and_findings(srv):
    r = srv.request("POST", "/v1/diagnose?model=img", read_image("ISIC_0000020.jpg"),
                    headers={"Content-Type": "image/jpeg"})
    assert r.status == 200, r.body
    doc = r.json()
    assert doc["labels"] == ["normal", "benign", "malignant"]
    assert doc["thresholds"] == {"normal": 0.5, "benign": 0.5, "malignant": 0.1}
    assert abs(sum(doc["scores"].values()) - 1) < 1e-4
    assert doc["findings"] == [k for k in doc["labels"] if doc["scores"][k] >= doc["thresholds"][k]]
    assert doc["scores"][doc["label"]] == max(doc["scores"].values())


def test_translate_matches_cli(srv):
    texts = ["你好世界", "今天天气很好。", "他很穷。"]
    for beam in (1, 3):
        want = run_cli(["translate", "--model", MT_DIR, "--beam", str(beam), "--max-length", "24"],
                       "\n".join(texts) + "\n")
        r = srv.post("/v1/translate", {"model": "zh-en", "inputs": texts, "beam": beam, "max_length": 24})
        assert r.status == 200, r.body
        doc = r.json()
        assert doc["translations"] == [w["translation"] for w in want]
        for got, ref in zip(doc["scores"], want):
            assert abs(got - ref["score"]) < 1e-4
    r = srv.post("/v1/translate", {"model": "zh-en", "inputs": texts[1], "max_length": 24})
    assert r.status == 200, r.body
    assert isinstance(r.json()["translation"], str) and isinstance(r.json()["hit_max_length"], bool)


def test_translate_without_a_translation_model_is_a_clear_error():
    s = Server(["--model", "cls=" + CLS_DIR], name="no-mt")
    try:
        r = s.post("/v1/translate", {"inputs": "你好"})
        assert r.status == 404
        assert "no translation model" in r.error()
    finally:
        assert s.stop() == 0, s.logtext()


def test_request_id_honoured_or_generated(srv):
    r = srv.request("GET", "/v1/models", headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = srv.request("GET", "/v1/models", headers={"X-Request-Id": "bad id with spaces\x7f"})
    assert r.status == 200 and r.headers["x-request-id"] and " " not in r.headers["x-request-id"]
    a = srv.request("GET", "/v1/models").headers["x-request-id"]
    b = srv.request("GET", "/v1/models").headers["x-request-id"]
    assert a and b and a != b


def test_metrics_exposition(srv):
    srv.post("/v1/embed", {"model": "minilm", "inputs": ["metrics please"]})
    text = srv.metrics()
    for family in ["lepton_requests_total", "lepton_batch_size", "lepton_queue_depth",
                   "lepton_request_duration_seconds", "lepton_compute_duration_seconds",
                   "lepton_queue_duration_seconds", "lepton_model_state", "lepton_inflight_requests"]:
        assert family in text, family
    assert 'model="minilm"' in text


def test_kserve_routes_are_wired(srv):
    """The /v2 routes reach the KServe handler (its own suite covers the protocol)."""
    r = srv.request("GET", "/v2")
    assert r.status == 200 and r.json()["name"] == "lepton"
    r = srv.post("/v2/models/minilm/infer",
                 {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [TEXTS[0]]}]})
    assert r.status == 200, r.body
    out = r.json()["outputs"][0]
    v1 = srv.post("/v1/embed", {"model": "minilm", "inputs": TEXTS[0]}).json()["embedding"]
    assert max(abs(a - b) for a, b in zip(out["data"], v1)) < 1e-4
    r = srv.request("GET", "/v2/models/nope")
    assert r.status == 404 and r.error()
