"""Black-box: tools/fuzz, the seeded campaign runner (docs/fuzz.md), as CI
runs it: a short campaign on each width (64-bit through every NETIF of the
suite) must end with 0 crashes, hangs,
leaks, bad frames and bug counters, every generator having run and the
stateful TCP sessions having opened; and the tool's own oracles must catch
a stack that hangs (SIGSTOP) or dies (SIGKILL), write the pcap of the
frames since the last good oracle, and replay it. The tool refuses an
interface that carries a default route.

ZC_FUZZ_SEED picks another seed; ZC_FUZZ_COUNT another length (64-bit;
the 32-bit campaign is 60% of it).
"""
import json
import os
import struct
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ = os.path.join(ROOT, "tools", "fuzz")
sys.path.insert(0, os.path.join(ROOT, "tools"))

from conftest import BINARIES, NETIFS  # noqa: E402
from fuzzlib import pkt  # noqa: E402  (tools/fuzzlib)
from fuzzlib.gen import Gen  # noqa: E402

pytestmark = pytest.mark.blackbox

SEED = int(os.environ.get("ZC_FUZZ_SEED", "20261130"))
COUNT = int(os.environ.get("ZC_FUZZ_COUNT", "60000"))


def run_fuzz(args, timeout, ns=None):
    argv = [sys.executable, FUZZ] + args
    if ns is not None:
        argv = ["ip", "netns", "exec", ns] + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                       stdin=subprocess.DEVNULL)
    summ = None
    for line in r.stdout.splitlines():
        if line.startswith("FUZZ SUMMARY "):
            summ = json.loads(line[len("FUZZ SUMMARY "):])
    return r, summ


def mpy_args(width):
    return ["--bits", width, "--micropython", BINARIES[width]]


def pcap_frames(path):
    """The frames of a classic pcap (checks its header)."""
    with open(path, "rb") as f:
        data = f.read()
    magic, vmaj, vmin, _, _, _, link = struct.unpack_from("<IHHiIII", data, 0)
    assert (magic, vmaj, vmin, link) == (0xA1B2C3D4, 2, 4, 1), data[:24].hex()
    out = []
    i = 24
    while i < len(data):
        _, _, cap, wire = struct.unpack_from("<IIII", data, i)
        out.append(data[i + 16:i + 16 + cap])
        i += 16 + cap
    assert i == len(data)
    return out


# 64-bit through every NETIF of the black-box suite (conftest.NETIFS), 32-bit
# through the first
CAMPAIGNS = [("64", n) for n in NETIFS] + [("32", NETIFS[0])]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("width,netif", CAMPAIGNS, ids=["%s-%s" % c for c in CAMPAIGNS])
def test_fuzz_campaign(width, netif, tmp_path):
    count = COUNT if width == "64" else COUNT * 6 // 10
    r, s = run_fuzz(["--count", str(count), "--seed", str(SEED + int(width)), "--out", str(tmp_path),
                     "--progress", "30", "--netif", netif] + mpy_args(width), timeout=220)
    assert s is not None, "no summary; stdout %s stderr %s" % (r.stdout[-3000:], r.stderr[-3000:])
    fail = {k: s[k] for k in ("crashes", "hangs", "leaks", "bad_frames", "counters") if s[k]}
    assert not fail and r.returncode == 0, "%s: %s\n%s" % (fail, s.get("failure"), r.stdout[-3000:])
    assert s["frames"] >= count and s["exit_status"] == 0
    # every generator ran, and the stateful sessions got inside connections
    assert set(s["cases"]) == set(Gen.KINDS) | {"tcp_session"}, s["cases"]
    assert s["tcp_opened"] >= s["tcp_sessions"] // 2 > 0, (s["tcp_opened"], s["tcp_sessions"])
    assert s["pings"] == s["ping_replies"] > 0
    # the campaign reached deep: reassembly, TCP inside connections, every layer's drops
    for k in ("reasm_ok", "reasm_overlap", "tcp_rx_bytes", "tcp_ooseq", "tcp_challenge_ack",
              "tcp_bad_options", "ipv4_bad_options", "arp_bad_format", "udp_bad_length",
              "icmp_echo_tx"):
        assert s["stack_counters"].get(k, 0) > 0, (k, s["stack_counters"])
    print("fuzz %s-bit: %d frames, %d frames/s" % (width, s["frames"], s["frames_per_s"]))


@pytest.mark.timeout(120)
def test_fuzz_catches_a_hung_stack_and_its_pcap_replays(tmp_path):
    r, s = run_fuzz(["--count", "6000", "--batch", "2000", "--seed", "5", "--fault", "stop",
                     "--out", str(tmp_path)] + mpy_args("64"), timeout=110)
    assert r.returncode == 1 and s is not None, r.stdout[-3000:]
    assert s["hangs"] == 1 and s["crashes"] == s["leaks"] == 0, s
    assert s["failure"].startswith("hang: no answer to 3 pings"), s["failure"]
    pcap = os.path.join(ROOT, s["pcap"]) if not os.path.isabs(s["pcap"]) else s["pcap"]
    frames = pcap_frames(pcap)
    # every frame since the last good oracle: batch 2 (~2000 fuzz frames,
    # pacing pings, ARP primes), then the failing oracle's own probes
    assert 2000 <= len(frames) <= 2600, len(frames)
    details = json.load(open(pcap[:-5] + ".json"))
    assert details["kind"] == "hang" and details["frames_in_pcap"] == len(frames)
    # the tool replayed it into a fresh stack: no real bug, so not reproduced
    assert s["reproduced"] is False, s["reproduced"]
    assert "FUZZ REPLAY" in r.stdout


@pytest.mark.timeout(60)
def test_fuzz_catches_a_dead_stack(tmp_path):
    r, s = run_fuzz(["--count", "6000", "--batch", "2000", "--seed", "6", "--fault", "kill",
                     "--no-verify", "--out", str(tmp_path)] + mpy_args("64"), timeout=55)
    assert r.returncode == 1 and s is not None, r.stdout[-3000:]
    assert s["crashes"] == 1 and s["hangs"] == 0, s
    assert "the stack exited (status -9)" in s["failure"], s["failure"]


@pytest.mark.timeout(60)
def test_fuzz_refuses_an_interface_with_a_default_route(netns):
    ns = netns.name
    for cmd in (["ip", "link", "add", "zcd0", "type", "veth", "peer", "name", "zcd1"],
                ["ip", "addr", "add", "198.51.100.1/24", "dev", "zcd0"],
                ["ip", "link", "set", "zcd1", "up"],
                ["ip", "link", "set", "zcd0", "up"],
                ["ip", "route", "add", "default", "via", "198.51.100.254", "dev", "zcd0"]):
        netns.run(cmd, check=True)
    r, s = run_fuzz(["--iface", "zcd0", "--target", "198.51.100.2", "--count", "10"], 50, ns=ns)
    assert r.returncode == 2 and s is None, (r.returncode, r.stdout, r.stderr)
    assert "zcd0 carries a default route" in r.stdout, r.stdout
    # without the route the same call goes on (and finds no stack there)
    netns.run(["ip", "route", "del", "default"], check=True)
    r, s = run_fuzz(["--iface", "zcd0", "--target", "198.51.100.2", "--count", "10"], 50, ns=ns)
    assert r.returncode == 2 and "does not answer ARP" in r.stdout, r.stdout


def test_wire_oracle_names_what_is_wrong():
    """The check every captured frame goes through (tools/fuzzlib/pkt.py)."""
    smac = pkt.mac("02:00:00:00:00:02")
    hmac = pkt.mac("02:00:00:00:00:01")
    sip, hip = pkt.ip4("198.51.100.2"), pkt.ip4("198.51.100.1")
    good = pkt.eth(hmac, smac, pkt.ETH_IP, pkt.ipv4(sip, hip, pkt.PROTO_UDP,
                                                    pkt.udp(sip, hip, 7, 40000, b"hello")))
    assert pkt.check_sent(good, smac, sip) == ""
    assert pkt.check_sent(hmac + hmac + good[12:], smac, sip).startswith("source MAC")
    spoofed = pkt.eth(hmac, smac, pkt.ETH_IP, pkt.ipv4(hip, hip, pkt.PROTO_UDP,
                                                       pkt.udp(hip, hip, 7, 40000, b"hello")))
    assert pkt.check_sent(spoofed, smac, sip).startswith("IPv4 source")
    bad = bytearray(good)
    bad[-1] ^= 1
    assert pkt.check_sent(bytes(bad), smac, sip) == "UDP checksum"
    bad = bytearray(good)
    bad[22] ^= 1                    # TTL: the header checksum no longer holds
    assert pkt.check_sent(bytes(bad), smac, sip) == "IPv4 header checksum"
    assert pkt.check_sent(good + b"x" * 60, smac, sip).startswith("IPv4 total length")
    arp = pkt.eth(hmac, smac, pkt.ETH_ARP, pkt.arp(2, smac, hip, hmac, hip))
    assert pkt.check_sent(arp, smac, sip).startswith("ARP sender")
    assert pkt.check_sent(pkt.fix_checksums(bytes(bad)), smac, sip) == ""
