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
