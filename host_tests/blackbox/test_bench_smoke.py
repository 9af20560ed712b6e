"""Smoke test of tools/bench/echo_rtt.py (`make bench`): a short run (--count 20)
gives a complete JSON report, every case answered by both targets with no loss,
and numbers that make sense. Speed is not asserted here.

The tool makes and removes its own namespaces (zcb-*, zcbh-*, zcbp-*), so this
test needs no stack fixture; like the rest of the black-box suite it needs root
and /dev/net/tun (conftest.py skips it otherwise).
"""
import json
import math
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.blackbox

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "bench", "echo_rtt.py")
COUNT = 20
CASES = {"icmp_56": ("icmp", 56), "icmp_1472": ("icmp", 1472),
         "udp_64": ("udp", 64), "udp_1472": ("udp", 1472)}
STATS = ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "max_ms")
OUR_NS_PREFIXES = ("zcb-", "zcbh-", "zcbp-")


def _our_namespaces():
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    return {line.split()[0] for line in r.stdout.splitlines()
            if line.split() and line.split()[0].startswith(OUR_NS_PREFIXES)}


def _check_stats(where, res):
    assert res["sent"] == COUNT, (where, res)
    assert res["received"] == COUNT, (where, res)
    assert res["losses"] == 0, (where, res)
    assert res["bad_replies"] == 0, (where, res)
    assert res["complete"] is True, (where, res)
    vals = {k: res[k] for k in STATS}
    for k, v in vals.items():
        assert isinstance(v, (int, float)) and math.isfinite(v) and v > 0, (where, k, v)
        # a reply that came is within the per-reply timeout (1 s default)
        assert v < 1000, (where, k, v)
    assert vals["min_ms"] <= vals["p50_ms"] <= vals["p90_ms"] <= vals["p99_ms"] <= vals["max_ms"], \
        (where, vals)
    assert vals["min_ms"] <= vals["mean_ms"] <= vals["max_ms"], (where, vals)


def test_bench_smoke(tmp_path):
    out = tmp_path / "echo_rtt.json"
    before = _our_namespaces()
    r = subprocess.run([sys.executable, TOOL, "--count", str(COUNT), "--warmup", "10",
                        "--time-limit", "120", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "echo_rtt exited %d\nstderr:\n%s\nstdout:\n%s" % (
        r.returncode, r.stderr[-4000:], r.stdout[-4000:])
    # Every namespace the tool made is gone again.
    assert _our_namespaces() - before == set()

    rep = json.loads(out.read_text())
    assert json.loads(r.stdout) == rep, "stdout and --out differ"
    assert rep["complete"] is True and "error" not in rep, rep.get("error")
    assert rep["params"]["count"] == COUNT

    assert rep["target_icmp_p50_ms"] == 0.15
    assert rep["lwip_reference_icmp_ms"] == 0.08
    assert isinstance(rep["meets_target"], bool)
    m = rep["machine"]
    assert m["nproc"] >= 1 and m["uname_r"] and os.path.isabs(m["micropython"])
    assert rep["timestamp"]

    got = {c["case"]: c for c in rep["cases"]}
    assert set(got) == set(CASES)
    for name, (proto, payload) in CASES.items():
        c = got[name]
        assert (c["proto"], c["payload_bytes"]) == (proto, payload)
        for target in ("linux", "zcstack"):
            _check_stats("%s/%s" % (name, target), c[target])
        z = c["zcstack"]
        # The frames really went through zcstack's driver.
        assert z["driver_delta"].get("rx_frames", 0) >= COUNT, (name, z["driver_delta"])
        assert z["driver_delta"].get("tx_frames", 0) >= COUNT, (name, z["driver_delta"])
        assert isinstance(z["counters_delta"], dict)
        assert z["copied_bytes"] >= 0
        cpb = z["copied_per_payload_byte"]
        assert isinstance(cpb, (int, float)) and math.isfinite(cpb) and cpb >= 0, cpb
        assert z["pool_at_baseline"] is True, z["pool_after"]
        for k in ("ratio_p50", "ratio_p99"):
            assert isinstance(c[k], (int, float)) and math.isfinite(c[k]) and c[k] > 0, (name, k, c[k])

    assert rep["stack_exit_status"] == 0
    assert rep["stack_stopped_at_baseline"] is True, rep.get("stack_stopped_pool")


# ---------------------------------------------------------------- TCP (tools/bench/tcp_bench.py)

TCP_TOOL = os.path.join(ROOT, "tools", "bench", "tcp_bench.py")
TCP_CASES = ("bulk_in", "bulk_out", "echo_1", "cps", "idle_heap")
TCP_ECHOES = 20
TCP_CONNS = 20
TCP_IDLE = 4
TCP_BULK_BYTES = 10 ** 6


def _pos(where, v):
    assert isinstance(v, (int, float)) and math.isfinite(v) and v > 0, (where, v)


def test_tcp_bench_smoke(tmp_path):
    """A tiny run of every TCP case: complete JSON, both targets answered
    each case (bulk bytes all delivered, every echo back, every connection
    made), the stack's pool at baseline after each, nothing copied."""
    out = tmp_path / "tcp.json"
    before = _our_namespaces()
    r = subprocess.run([sys.executable, TCP_TOOL, "--bulk-mb", "1", "--linux-bulk-factor", "1",
                        "--echo-count", str(TCP_ECHOES), "--warmup", "5",
                        "--conns", str(TCP_CONNS), "--idle-conns", str(TCP_IDLE),
                        "--time-limit", "60", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=180,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "tcp_bench exited %d\nstderr:\n%s\nstdout:\n%s" % (
        r.returncode, r.stderr[-4000:], r.stdout[-4000:])
    assert _our_namespaces() - before == set()

    rep = json.loads(out.read_text())
    assert json.loads(r.stdout) == rep, "stdout and --out differ"
    assert rep["complete"] is True and "error" not in rep, rep.get("error")
    assert rep["api"] == "raw"
    m = rep["machine"]
    assert m["nproc"] >= 1 and m["uname_r"] and m["width"] == 64 and m["cpu"]
    assert rep["targets"]["bulk_mb_per_s"] == 50.0 and rep["targets"]["cps"] == 3000.0

    got = {c["case"]: c for c in rep["cases"]}
    assert tuple(got) == TCP_CASES
    for name in ("bulk_in", "bulk_out"):
        c = got[name]
        for t in ("linux", "zcstack"):
            res = c[t]
            assert res["bytes"] == TCP_BULK_BYTES, (name, t, res)
            for k in ("seconds", "mb_per_s"):
                _pos((name, t, k), res[k])
            assert res["server_cpu_s_per_mb"] >= 0 and res["client_cpu_s_per_mb"] >= 0
        _pos((name, "ratio"), c["ratio_mb_per_s"])
        # the frames went through the stack's driver: at least a full segment's worth each
        drv = c["zcstack"]["driver_delta"]
        assert drv.get("rx_frames", 0) + drv.get("tx_frames", 0) >= TCP_BULK_BYTES // 1460, drv
    c = got["echo_1"]
    for t in ("linux", "zcstack"):
        res = c[t]
        assert res["samples"] == TCP_ECHOES, (t, res)
        assert res["min_ms"] <= res["p50_ms"] <= res["p99_ms"] <= res["max_ms"], (t, res)
        _pos(("echo_1", t), res["min_ms"])
    _pos("ratio_p50_ms", c["ratio_p50_ms"])
    c = got["cps"]
    for t in ("linux", "zcstack"):
        assert c[t]["connections"] == TCP_CONNS, (t, c[t])
        _pos(("cps", t), c[t]["per_s"])
        assert c[t]["each"]["min_ms"] <= c[t]["each"]["p50_ms"] <= c[t]["each"]["max_ms"], c[t]
        assert c[t]["server_cpu_ms_per_conn"] >= 0
    assert c["zcstack"]["counters_delta"].get("tcp_accepted") == TCP_CONNS, c["zcstack"]
    c = got["idle_heap"]
    assert c["linux"] is None
    z = c["zcstack"]
    assert z["connections"] == TCP_IDLE
    # a connection costs something, and it is given back after close (a list
    # that grew may keep its room: a few words, far below one connection)
    _pos("heap_bytes_per_conn", z["heap_bytes_per_conn"])
    assert z["heap_after_close"] - z["heap_before"] <= 128, z

    for name in ("bulk_in", "bulk_out", "echo_1", "cps"):
        z = got[name]["zcstack"]
        assert z["copied_bytes"] == 0, (name, z["copied_bytes"])
        assert z["pool_at_baseline"] is True, name
    assert got["idle_heap"]["zcstack"]["pool_at_baseline"] is True
    v = rep["verdicts"]
    assert set(v) == {"bulk_in_mb_per_s", "bulk_out_mb_per_s", "cps", "echo_1_p50_ms",
                      "heap_per_idle_conn_bytes", "copied_per_byte"}
    assert v["copied_per_byte"]["met"] is True
    assert rep["stack_exit_status"] == 0
    assert rep["stack_stopped_at_baseline"] is True


def test_tcp_bench_socket_api_smoke(tmp_path):
    """The same cases through the socket API (an asyncio program under
    run.py --app): every case answered by both targets, the bulk bytes all
    delivered, the copies counted where the program reads with readinto (one
    per delivered byte) and none where it writes bytes by reference."""
    out = tmp_path / "tcp_socket.json"
    r = subprocess.run([sys.executable, TCP_TOOL, "--api", "socket", "--bulk-mb", "1",
                        "--linux-bulk-factor", "1", "--echo-count", str(TCP_ECHOES), "--warmup", "5",
                        "--conns", str(TCP_CONNS), "--idle-conns", str(TCP_IDLE),
                        "--time-limit", "60", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=180,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "tcp_bench exited %d\nstderr:\n%s" % (r.returncode, r.stderr[-4000:])
    rep = json.loads(out.read_text())
    assert rep["complete"] is True and rep["api"] == "socket"
    got = {c["case"]: c for c in rep["cases"]}
    assert tuple(got) == TCP_CASES
    for name in ("bulk_in", "bulk_out"):
        assert got[name]["zcstack"]["bytes"] == TCP_BULK_BYTES, got[name]["zcstack"]
    assert got["bulk_in"]["zcstack"]["copied_bytes"] == TCP_BULK_BYTES   # readinto: counted
    assert got["bulk_out"]["zcstack"]["copied_bytes"] == 0              # bytes and views of them: by reference
    assert got["echo_1"]["zcstack"]["samples"] == TCP_ECHOES
    assert got["cps"]["zcstack"]["connections"] == TCP_CONNS
    for name in ("bulk_in", "bulk_out", "echo_1", "cps"):
        assert got[name]["zcstack"]["pool_at_baseline"] is True, name
