"""Readiness, API keys, overload, deadlines, cancellation, batching and the
SIGTERM drain, each on a server of its own where it needs one."""
import json
import re
import socket
import threading
import time

from conftest import CLS_DIR, SLOW, Server, write_config


def post_in_thread(server, path, doc, results, i):
    try:
        results[i] = server.post(path, doc, timeout=120)
    except Exception as e:  # recorded, asserted by the caller
        results[i] = e


def start_all(server, path, docs):
    results = [None] * len(docs)
    threads = [threading.Thread(target=post_in_thread, args=(server, path, d, results, i))
               for i, d in enumerate(docs)]
    for t in threads:
        t.start()
    return threads, results


def wait_queue_depth(server, model, depth, timeout=20):
    """Until lepton_queue_depth{model} reaches `depth` (the requests are queued)."""
    pat = re.compile(r'^lepton_queue_depth\{[^}]*model="%s"[^}]*\} (\S+)$' % re.escape(model), re.M)
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        m = pat.search(server.metrics())
        if m and float(m.group(1)) >= depth:
            return
        time.sleep(0.01)
    raise AssertionError(f"queue of {model} never reached {depth}:\n{server.metrics()}")


def test_overload_answers_503_at_once_then_recovers(srv):
    # 'slow' holds a batch open for 1 s (x SLOW) and queues at most 2 items.
    threads, results = start_all(srv, "/v1/embed", [{"model": "slow", "inputs": f"queued {i}"} for i in range(2)])
    wait_queue_depth(srv, "slow", 2)
    r = srv.post("/v1/embed", {"model": "slow", "inputs": "one too many"})
    assert r.status == 503
    assert "overloaded" in r.error()
    assert r.headers.get("retry-after") == "1"
    for t in threads:
        t.join()
    assert [x.status for x in results] == [200, 200], [getattr(x, "body", x) for x in results]
    r = srv.post("/v1/embed", {"model": "slow", "inputs": "room again"})
    assert r.status == 200, r.body


def test_request_deadline_gives_504(srv):
    r = srv.post("/v1/embed", {"model": "slow", "inputs": "too slow for me", "timeout_ms": 20})
    assert r.status == 504
    assert "deadline" in r.error()


def test_model_default_deadline_gives_504(srv):
    r = srv.post("/v1/classify", {"model": "cls_deadline", "inputs": "x"})
    assert r.status == 504
    assert "deadline (5 ms)" in r.error()
    # an explicit per-request deadline of 0 means none: it waits for the batch
    r = srv.post("/v1/classify", {"model": "cls_deadline", "inputs": "x", "timeout_ms": 0})
    assert r.status == 200, r.body


def test_client_disconnect_cancels_the_queued_request(srv):
    before = srv.metrics().count("cancelled")
    body = json.dumps({"model": "slow", "inputs": "nobody waits for me"}).encode()
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    wait_queue_depth(srv, "slow", 1)
    s.close()
    deadline = time.time() + 10 * SLOW
    text = srv.metrics()
    while time.time() < deadline and not re.search(r'lepton_queue_depth\{[^}]*model="slow"[^}]*\} 0$', text, re.M):
        time.sleep(0.01)
        text = srv.metrics()
    # removed from the queue well before its batch would have closed, and counted
    assert re.search(r'lepton_queue_depth\{[^}]*model="slow"[^}]*\} 0$', text, re.M), text
    assert re.search(r'lepton_requests_total\{[^}]*reason="cancelled"[^}]*\} [1-9]', text), text
    assert srv.request("GET", "/v2/health/ready").status == 200


def test_concurrent_requests_are_batched(srv):
    # slow's batch waits (1 s) for company: two concurrent single requests share one batch
    hist_before = batch_counts(srv.metrics(), "slow")
    threads, results = start_all(srv, "/v1/embed", [{"model": "slow", "inputs": f"text {i}"} for i in range(2)])
    for t in threads:
        t.join()
    assert all(r.status == 200 for r in results)
    hist_after = batch_counts(srv.metrics(), "slow")
    batches = hist_after[0] - hist_before[0]
    items = hist_after[1] - hist_before[1]
    assert items == 2 and batches == 1, (hist_before, hist_after)


def batch_counts(text, model):
    count = re.search(r'^lepton_batch_size_count\{[^}]*model="%s"[^}]*\} (\S+)$' % model, text, re.M)
    total = re.search(r'^lepton_batch_size_sum\{[^}]*model="%s"[^}]*\} (\S+)$' % model, text, re.M)
    return (float(count.group(1)) if count else 0.0, float(total.group(1)) if total else 0.0)


def test_api_key_flag_and_env():
    for args, env in ((["--api-key", "s3cret"], None), ([], {"LEPTON_API_KEY": "s3cret"})):
        s = Server(["--model", "cls=" + CLS_DIR] + args, env=env, name="auth")
        try:
            assert s.request("GET", "/v2/health/live").status == 200  # health needs no key
            assert s.request("GET", "/v2/health/ready").status == 200
            for path, body in (("/v1/models", None), ("/metrics", None)):
                r = s.request("GET", path)
                assert r.status == 401 and "API key" in r.error()
                assert r.headers.get("www-authenticate") == "Bearer"
            r = s.post("/v1/classify", {"inputs": "x"})
            assert r.status == 401
            r = s.post("/v1/classify", {"inputs": "x"}, headers={"Authorization": "Bearer wrong"})
            assert r.status == 401
            r = s.post("/v1/classify", {"inputs": "x"}, headers={"Authorization": "Basic czNjcmV0"})
            assert r.status == 401
            r = s.post("/v1/classify", {"inputs": "x"}, headers={"Authorization": "Bearer s3cret"})
            assert r.status == 200, r.body
            assert s.request("GET", "/metrics", headers={"Authorization": "Bearer s3cret"}).status == 200
        finally:
            assert s.stop() == 0, s.logtext()


def test_not_ready_until_models_load():
    s = Server(["--model", "cls=" + CLS_DIR, "--load-delay-ms", str(int(1500 * SLOW))], wait_ready=False,
               name="loading")
    try:
        assert s.request("GET", "/v2/health/live").status == 200
        r = s.request("GET", "/v2/health/ready")
        assert r.status == 503 and "cls (loading)" in r.error()
        r = s.post("/v1/classify", {"model": "cls", "inputs": "x"})
        assert r.status == 503 and "loading" in r.error()
        models = s.request("GET", "/v1/models").json()
        assert models["ready"] is False and models["models"][0]["state"] == "loading"
        s.wait_ready()
        assert s.post("/v1/classify", {"model": "cls", "inputs": "x"}).status == 200
    finally:
        assert s.stop() == 0, s.logtext()


def test_model_that_cannot_load_stops_the_server(tmp_path):
    s = Server(["--model", "bad=" + str(tmp_path)], wait_live=False, name="bad")
    rc = s.proc.wait(timeout=30 * SLOW)
    assert rc == 1
    assert "neither config.json nor model.safetensors" in s.logtext()


def test_sigterm_drains_in_flight_and_queued_work():
    cfg = {"models": [{"name": "cls", "path": CLS_DIR, "max_queue_delay_us": int(3_000_000 * SLOW),
                       "max_batch_size": 64}]}
    s = Server(["--config", write_config(cfg)], name="drain")
    try:
        threads, results = start_all(s, "/v1/classify", [{"model": "cls", "inputs": [f"text {i}"] * 2}
                                                         for i in range(4)])
        wait_queue_depth(s, "cls", 8)
        t0 = time.time()
        s.proc.send_signal(15)
        for t in threads:
            t.join()
        # the batch would have waited 3 s for company; draining runs it at once
        assert [r.status for r in results] == [200] * 4, [getattr(r, "body", r) for r in results]
        assert all(len(r.json()["results"]) == 2 for r in results)
        rc = s.proc.wait(timeout=30 * SLOW)
        assert rc == 0, s.logtext()
        assert time.time() - t0 < 3 * SLOW
        try:
            socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
            refused = False
        except OSError:
            refused = True
        assert refused
        assert "SIGTERM" in s.logtext()
    finally:
        s.stop()
