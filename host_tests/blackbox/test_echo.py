"""Black-box: ping, ARP and UDP echo against the stack over TAP.

Every test runs in its own private namespace (see conftest.py); the host side
is 198.51.100.1 on zc0, the stack 198.51.100.2. Echo paths must copy no
payload byte: the stack's `copied` counter does not move. The ping and UDP
echo tests are the black-box smoke of both widths (the 64- and the 32-bit
binary: `[64]`, `[32]`).
"""
import random
import re
import socket
import time

import pytest
from scapy.all import ARP, ICMP, IP, UDP, Ether, IPerror, Raw, UDPerror

pytestmark = pytest.mark.blackbox

both_widths = pytest.mark.parametrize("stack", ("64", "32"), indirect=True)

CLOSED_PORT = 33434


def _ping(stack, *args, timeout=60):
    r = stack.run(["ping", "-n", "-q"] + list(args) + [stack.stack_ip], timeout=timeout)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m, "no ping summary:\n%s\n%s" % (r.stdout, r.stderr)
    return int(m.group(1)), int(m.group(2)), r


@both_widths
def test_ping_200_full_size(stack):
    before = stack.counters()
    sent, got, r = _ping(stack, "-c", "200", "-i", "0.01", "-s", "1472", "-W", "2", "-w", "30")
    assert (sent, got) == (200, 200), r.stdout
    d = stack.delta_since(before)
    assert d.get("icmp_echo_rx") == 200, d
    assert d.get("icmp_echo_tx") == 200, d
    assert d["copied"] == 0, "ping echo copied %d payload bytes" % d["copied"]


@both_widths
def test_ping_8000_fragmented_both_ways(stack):
    from scapy.all import IP as _IP

    def stack_fragment(p):
        return _IP in p and p[_IP].src == stack.stack_ip and (p[_IP].flags.MF or p[_IP].frag > 0)

    before = stack.counters()
    sn = stack.sniffer(stack_fragment)
    try:
        sent, got, r = _ping(stack, "-c", "5", "-i", "0.2", "-s", "8000", "-W", "3", "-w", "30")
    finally:
        frags = stack.stop_sniffer(sn)
    assert (sent, got) == (5, 5), r.stdout
    d = stack.delta_since(before)
    assert d.get("reasm_ok") == 5, d          # the host's requests came in fragments
    assert d.get("icmp_echo_tx") == 5, d
    # 8028-byte replies over a 1500-byte MTU: six fragments each, none oversize.
    assert len(frags) >= 5 * 6, "stack sent %d fragments" % len(frags)
    assert d.get("ipv4_frag_tx", 0) >= 5 * 6, d
    assert all(len(f) <= 1514 for f in frags), [len(f) for f in frags if len(f) > 1514]
    assert d["copied"] == 0, "fragmented echo copied %d payload bytes" % d["copied"]


def test_arping_answered(stack):
    sn = stack.sniffer(lambda p: ARP in p and p[ARP].op == 2)
    before = stack.counters()
    try:
        r = stack.run(["arping", "-c", "3", "-w", "10", "-I", "zc0", stack.stack_ip], timeout=20)
    finally:
        replies = stack.stop_sniffer(sn)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"Received (\d+) response", r.stdout)
    assert m and int(m.group(1)) == 3, r.stdout
    assert len(replies) >= 3
    for p in replies:
        a = p[ARP]
        assert a.psrc == stack.stack_ip and a.hwsrc.lower() == stack.stack_mac
        assert a.pdst == stack.host_ip and a.hwdst.lower() == stack.host_mac.lower()
        assert p[Ether].src.lower() == stack.stack_mac
    d = stack.delta_since(before)
    assert d.get("arp_request_rx", 0) >= 3, d
    assert d.get("arp_reply_tx", 0) >= 3, d


def _udp_sizes():
    rnd = random.Random(7)
    sizes = list(range(1, 18))
    sizes += sorted(rnd.sample(range(18, 1472), 24))
    sizes += [1472, 8000]
    return sizes


@both_widths
def test_udp_echo_sizes(stack):
    sizes = _udp_sizes()
    rnd = random.Random(1234)
    before = stack.counters()
    bad = []
    with stack.ns():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(3.0)
        s.connect((stack.stack_ip, 7))
        for n in sizes:
            payload = bytes(rnd.getrandbits(8) for _ in range(n))
            s.send(payload)
            try:
                echo = s.recv(65535)
            except socket.timeout:
                bad.append((n, "no echo within 3 s"))
                continue
            except ConnectionRefusedError:
                bad.append((n, "ICMP port unreachable: nothing listens on port 7"))
                continue
            if echo != payload:
                bad.append((n, "echo differs (got %d bytes)" % len(echo)))
    finally:
        s.close()
    assert not bad, "UDP echo failures (size, why): %r" % bad
    d = stack.delta_since(before)
    assert d.get("udp_rx") == len(sizes), d
    assert d.get("udp_tx") == len(sizes), d
    assert d.get("reasm_ok", 0) >= 1, d       # the 8000-byte datagram
    assert d["copied"] == 0, "UDP echo copied %d payload bytes" % d["copied"]


def _udp_frame(stack, dst_ip, dst_mac, dport=CLOSED_PORT, payload=b"zcstack-probe-0123456789abcdef"):
    return (Ether(src=stack.host_mac, dst=dst_mac)
            / IP(src=stack.host_ip, dst=dst_ip, id=4242, ttl=64)
            / UDP(sport=40001, dport=dport) / Raw(payload))


def test_closed_udp_port_unicast_port_unreachable(stack):
    before = stack.counters()

    def unreach(p):
        return ICMP in p and p[ICMP].type == 3

    got = stack.sr(_udp_frame(stack, stack.stack_ip, stack.stack_mac), unreach, timeout=5)
    assert got, "no ICMP destination unreachable from the stack"
    p = got[0]
    assert p[IP].src == stack.stack_ip and p[IP].dst == stack.host_ip
    assert p[ICMP].code == 3, "expected port unreachable, got code %d" % p[ICMP].code
    # The quote: our IP header and at least the 8 UDP header bytes, as sent.
    assert IPerror in p and p[IPerror].src == stack.host_ip and p[IPerror].id == 4242
    assert UDPerror in p and p[UDPerror].dport == CLOSED_PORT and p[UDPerror].sport == 40001
    d = stack.delta_since(before)
    assert d.get("udp_no_port") == 1, d
    assert d.get("icmp_unreach_tx") == 1, d


@pytest.mark.parametrize("dst_ip", ["198.51.100.255", "255.255.255.255"])
def test_closed_udp_port_broadcast_no_reply(stack, dst_ip):
    before = stack.counters()

    def icmp(p):
        return ICMP in p

    got = stack.sr(_udp_frame(stack, dst_ip, "ff:ff:ff:ff:ff:ff"), icmp, timeout=1.5)
    assert not got, "stack answered a broadcast datagram: %s" % [x.summary() for x in got]
    time.sleep(0.1)
    d = stack.delta_since(before)
    assert d.get("udp_no_port") == 1, d
    assert d.get("icmp_unreach_tx", 0) == 0, d
