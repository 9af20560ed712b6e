"""Frame suite helpers (named bb_frames, not frames: host_tests/unit/frames.py
is another top-level `frames` in the same pytest session): hand-built frames
(exact bytes, malformed on purpose) and a checker that asserts which named
counters moved and what came back.

Frames are built byte by byte here, not by scapy, so a test can break one
field and keep every other one right (checksums included); scapy only parses
what the stack sends back.

Wire(stack): a raw AF_PACKET socket on the host side of zc0, inside the
test's private namespace. It sends frames fast (bytes) and captures every
frame the stack sent (incoming on the host side; our own sends are outgoing
and skipped), so "nothing was sent back" is checked on the wire itself.

Checker(stack): primes ARP both ways (the stack learns the host's MAC from an
ARP request; the host gets a permanent entry for the stack, so Linux never
ARPs in the middle of a step), then `step(...)` sends frames and asserts the
counter delta EXACTLY (every counter that moved, with its amount; anything
else that moved is a failure) and the frames sent back.
"""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tools"))
import netns as netns_mod  # noqa: E402  (tools/netns.py)
from zcrun import counter_delta, driver_delta, pool_at_baseline  # noqa: E402  (tools/zcrun.py)

TAP = "zc0"
HOST_IP = "198.51.100.1"
STACK_IP = "198.51.100.2"
SUBNET_BCAST = "198.51.100.255"
HOST_UDP_PORT = 40007          # the host keeps a socket here: echoes land quietly
ECHO_PORT = 7
CLOSED_PORT = 33434

BCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
ALL_HOSTS_MAC = bytes.fromhex("01005e000001")
ETH_IP = 0x0800
ETH_ARP = 0x0806
PROTO_ICMP = 1
PROTO_UDP = 17
MF = 0x2000
DF = 0x4000

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4

# Counters that mean "a frame was dropped / refused" somewhere. A step that
# expects none of them moves none of them (checked through the exact delta).
DRIVER_DROPS = ("rx_no_buffer", "rx_oversize", "rx_errors", "tx_ring_full", "tx_errors")


# ---- addresses and checksums --------------------------------------------------

def mac(s):
    if isinstance(s, bytes):
        return s
    return bytes(int(x, 16) for x in s.split(":"))


def ip4(a):
    if isinstance(a, bytes):
        return a
    return bytes(int(x) for x in a.split("."))


def csum(data):
    """RFC 1071 Internet checksum of data (the value to put in the field)."""
    if len(data) & 1:
        data = bytes(data) + b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


# ---- builders (bytes in, bytes out) ---------------------------------------------

def eth(dst, src, etype, payload):
    return mac(dst) + mac(src) + struct.pack("!H", etype) + bytes(payload)


def ipv4(src, dst, proto, payload, ttl=64, ident=0x1234, flags_frag=0, options=b"",
         ihl=None, tl=None, version=4, tos=0, cksum=None):
    """An IPv4 datagram; every header field can be set to a wrong value
    (the checksum is right for whatever the header says, unless given)."""
    hl = 20 + len(options)
    if ihl is None:
        assert hl % 4 == 0, "options must pad to 32 bits"
        ihl = hl // 4
    if tl is None:
        tl = hl + len(payload)
    h = bytearray(struct.pack("!BBHHHBBH4s4s", (version << 4) | (ihl & 15), tos, tl & 0xFFFF,
                              ident, flags_frag, ttl, proto, 0, ip4(src), ip4(dst)) + bytes(options))
    if cksum is None:
        cksum = csum(bytes(h[:max(20, min(len(h), (ihl & 15) * 4))]))
    struct.pack_into("!H", h, 10, cksum)
    return bytes(h) + bytes(payload)


def icmp(typ, code, rest=b"\x00" * 4, data=b"", cksum=None):
    m = bytearray(struct.pack("!BBH", typ, code, 0) + bytes(rest) + bytes(data))
    struct.pack_into("!H", m, 2, csum(bytes(m)) if cksum is None else cksum)
    return bytes(m)


def echo_request(ident=0x5a43, seq=1, data=b"zcstack frame suite", cksum=None):
    return icmp(8, 0, struct.pack("!HH", ident, seq), data, cksum)


def udp(src, dst, sport, dport, data, ulen=None, cksum=None):
    """A UDP datagram with a right checksum unless one is given (0 = none)."""
    n = 8 + len(data)
    if ulen is None:
        ulen = n
    seg = bytearray(struct.pack("!HHHH", sport, dport, ulen & 0xFFFF, 0) + bytes(data))
    if cksum is None:
        pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, PROTO_UDP, n)
        cksum = csum(pseudo + bytes(seg)) or 0xFFFF
    struct.pack_into("!H", seg, 6, cksum)
    return bytes(seg)


def arp(op, sha, spa, tha, tpa, htype=1, ptype=0x0800, hlen=6, plen=4):
    return struct.pack("!HHBBH6s4s6s4s", htype, ptype, hlen, plen, op,
                       mac(sha), ip4(spa), mac(tha), ip4(tpa))


class Frames:
    """Builders bound to one stack instance's addresses."""

    def __init__(self, stack):
        self.smac = mac(stack.stack_mac)
        self.hmac = mac(stack.host_mac)
        self.sip = stack.stack_ip
        self.hip = stack.host_ip

    def ip_frame(self, datagram, dst_mac=None, src_mac=None, trailer=b""):
        return eth(dst_mac or self.smac, src_mac or self.hmac, ETH_IP, datagram + trailer)

    def ping(self, src=None, dst=None, dst_mac=None, src_mac=None, ttl=64, ident=0x1234,
             data=b"zcstack frame suite", seq=1, options=b"", trailer=b""):
        d = ipv4(src or self.hip, dst or self.sip, PROTO_ICMP,
                 echo_request(seq=seq, data=data), ttl=ttl, ident=ident, options=options)
        return self.ip_frame(d, dst_mac, src_mac, trailer)

    def udp_dgram(self, dport=ECHO_PORT, data=b"zcstack udp probe", src=None, dst=None,
                  sport=HOST_UDP_PORT, ident=0x2345, ulen=None, cksum=None, options=b""):
        src = src or self.hip
        dst = dst or self.sip
        return ipv4(src, dst, PROTO_UDP, udp(src, dst, sport, dport, data, ulen, cksum),
                    ident=ident, options=options)

    def udp_frame(self, dst_mac=None, src_mac=None, trailer=b"", **kw):
        return self.ip_frame(self.udp_dgram(**kw), dst_mac, src_mac, trailer)


# ---- the wire ------------------------------------------------------------------

class Wire:
    """Raw AF_PACKET socket on zc0 (host side), inside the test namespace."""

    MAX_CAPTURE = 200000

    def __init__(self, stack):
        with stack.ns():
            assert netns_mod.in_private_ns(), "refusing to open a raw socket outside the test netns"
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.bind((TAP, 0))
            # The host answers nothing on its UDP port: stack echoes land here
            # instead of drawing an ICMP port unreachable from Linux.
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((HOST_IP, HOST_UDP_PORT))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.settimeout(0.05)
        self.sock = s
        self.udp_sock = u
        self.frames = []            # (monotonic time, bytes): frames the stack sent
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture, daemon=True)
        self._thread.start()

    def _capture(self):
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            if len(self.frames) < self.MAX_CAPTURE:
                self.frames.append((time.monotonic(), data))

    def send(self, frame):
        if not isinstance(frame, (bytes, bytearray)):
            frame = bytes(frame)
        return self.sock.send(frame)

    def mark(self):
        return len(self.frames)

    def since(self, mark):
        return [f for _, f in self.frames[mark:]]

    def wait_frames(self, mark, n, timeout):
        """Frames captured since mark, waiting (bounded) until there are n."""
        deadline = time.monotonic() + timeout
        while len(self.frames) - mark < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.since(mark)

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        self.udp_sock.close()


def parse(frame):
    from scapy.all import Ether
    return Ether(frame)


def describe(frames, limit=6):
    out = []
    for f in frames[:limit]:
        try:
            out.append(parse(f).summary())
        except Exception:  # a frame scapy cannot parse is still worth showing
            out.append(f[:64].hex())
    if len(frames) > limit:
        out.append("... %d more" % (len(frames) - limit))
    return out


# ---- counters ------------------------------------------------------------------

def frames_consumed(snap):
    """Frames the driver took off the TAP (delivered or dropped)."""
    dr = snap.get("driver", {})
    return dr.get("rx_frames", 0) + dr.get("rx_no_buffer", 0) + dr.get("rx_oversize", 0)


# Expected deltas for the ordinary answers (one frame in, one out).
def ECHO_ANSWERED(n=1):
    return dict(eth_rx=n, ipv4_rx=n, icmp_echo_rx=n, icmp_echo_tx=n, ipv4_tx=n)


def UDP_ECHOED(n=1):
    return dict(eth_rx=n, ipv4_rx=n, udp_rx=n, udp_tx=n, ipv4_tx=n)


class Checker:
    """Steps of (frames in -> exact counter delta, frames out), failures
    collected so one stack start checks many frames and reports them all."""

    def __init__(self, stack, prime=True):
        self.st = stack
        self.wire = Wire(stack)
        self.f = Frames(stack)
        self.failures = []
        if prime:
            self.prime_arp()

    def close(self):
        self.wire.close()

    # -- set-up
    def prime_arp(self):
        """The stack caches the host (it asked us), the host caches the stack
        permanently (it never asks again): no ARP inside later steps."""
        st = self.st
        r = st.run(["ip", "neigh", "replace", STACK_IP, "lladdr", st.stack_mac,
                    "dev", TAP, "nud", "permanent"])
        assert r.returncode == 0, r.stderr
        req = eth(BCAST_MAC, self.f.hmac, ETH_ARP,
                  arp(1, self.f.hmac, HOST_IP, ZERO_MAC, STACK_IP))
        self.step("prime ARP", [req],
                  dict(eth_rx=1, arp_request_rx=1, arp_reply_tx=1), replies=1)
        self.raise_failures()

    # -- the step
    def snapshot(self):
        return self.st.counters()

    def step(self, label, frames, expect, replies=0, settle_s=0.05, wait_s=3.0,
             tolerate=(), driver_expect=None, until=None):
        """Send frames; require the counter delta to be exactly `expect`
        (counters named in `tolerate` may move by any amount) and exactly
        `replies` frames back from the stack. `until`: a counter a timer
        moves; wait (at most wait_s) until it reached its expected delta.
        Returns the frames back."""
        st = self.st
        if isinstance(frames, (bytes, bytearray)):
            frames = [frames]
        before = self.snapshot()
        mark = self.wire.mark()
        for fr in frames:
            self.wire.send(fr)
        # the stack has taken every frame off the TAP ...
        deadline = time.monotonic() + wait_s
        after = before
        while time.monotonic() < deadline:
            after = self.snapshot()
            if frames_consumed(after) - frames_consumed(before) >= len(frames):
                break
            time.sleep(0.01)
        # ... a timer has run, if one is to be waited for ...
        if until is not None:
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                after = self.snapshot()
                if counter_delta(before, after).get(until, 0) >= expect.get(until, 1):
                    break
                time.sleep(0.02)
        # ... and (a reply is written in the same poll) whatever it sent is here
        got = self.wire.wait_frames(mark, replies, wait_s) if replies else []
        time.sleep(settle_s)
        after = self.snapshot()
        got = self.wire.since(mark)
        self.verify(label, before, after, expect, tolerate, driver_expect)
        if len(got) != replies:
            self.fail(label, "expected %d frame(s) back, got %d: %s"
                      % (replies, len(got), describe(got)))
        return got

    def verify(self, label, before, after, expect, tolerate=(), driver_expect=None):
        d = counter_delta(before, after)
        want = {k: v for k, v in expect.items() if v}
        seen = {k: v for k, v in d.items() if k not in tolerate}
        want_cmp = {k: v for k, v in want.items() if k not in tolerate}
        if seen != want_cmp:
            extra = {k: v for k, v in seen.items() if want_cmp.get(k) != v}
            missing = {k: v for k, v in want_cmp.items() if seen.get(k) != v}
            self.fail(label, "counter delta %s; expected %s (differs: got %s, wanted %s)"
                      % (d, want, extra, missing))
        dd = driver_delta(before, after)
        dwant = driver_expect or {}
        for k in DRIVER_DROPS:
            if dd.get(k, 0) != dwant.get(k, 0):
                self.fail(label, "driver %s moved by %d (expected %d): %s"
                          % (k, dd.get(k, 0), dwant.get(k, 0), dd))
        return d

    def fail(self, label, msg):
        self.failures.append("%s: %s" % (label, msg))

    def expect_true(self, label, cond, msg):
        if not cond:
            self.fail(label, msg)

    def raise_failures(self):
        if self.failures:
            msg = "\n  ".join(self.failures)
            self.failures = []
            raise AssertionError("%d check(s) failed:\n  %s" % (msg.count("\n  ") + 1, msg))

    def quiesce(self, timeout=4.0):
        """Wait (bounded) until the pool is back at baseline."""
        return self.st.snapshot_until(lambda snap: pool_at_baseline(snap["pool"]), timeout, 0.05)


# ---- answers checked byte by byte ------------------------------------------------

def check_echo_reply(c, label, frame, req_dgram):
    """The reply answers exactly req_dgram's echo request: addresses swapped,
    type 0, same id/seq/data, both checksums right, IP length exact (no
    trailing bytes, no options), TTL 64."""
    hl = (req_dgram[0] & 15) * 4
    req_icmp = req_dgram[hl:struct.unpack("!H", req_dgram[2:4])[0]]
    rip = frame[14:]
    problems = []
    if frame[:6] != c.f.hmac or frame[6:12] != c.f.smac or frame[12:14] != b"\x08\x00":
        problems.append("Ethernet header %s" % frame[:14].hex())
    if rip[0] != 0x45:
        problems.append("version/IHL %#x (options are not carried back)" % rip[0])
    tl = struct.unpack("!H", rip[2:4])[0]
    if tl != 20 + len(req_icmp) or len(rip) != tl:
        problems.append("IP length %d in a %d-byte datagram, request ICMP %d bytes"
                        % (tl, len(rip), len(req_icmp)))
    if csum(rip[:20]) != 0:
        problems.append("IP header checksum")
    if rip[8] != 64 or rip[9] != PROTO_ICMP:
        problems.append("ttl %d proto %d" % (rip[8], rip[9]))
    if rip[12:16] != req_dgram[16:20] or rip[16:20] != req_dgram[12:16]:
        problems.append("addresses %s" % rip[12:20].hex())
    ricmp = rip[20:tl]
    if ricmp[0] != 0 or ricmp[1] != 0 or ricmp[4:] != req_icmp[4:] or csum(ricmp) != 0:
        problems.append("ICMP %s, request %s" % (ricmp[:16].hex(), req_icmp[:16].hex()))
    if problems:
        c.fail(label, "bad echo reply: " + "; ".join(problems))


def check_icmp_error(c, label, frame, typ, code, quote):
    """frame is an ICMP error from the stack to the host whose data is
    exactly `quote` (the bytes of the offending datagram that arrived)."""
    rip = frame[14:]
    problems = []
    if frame[:6] != c.f.hmac or frame[12:14] != b"\x08\x00":
        problems.append("Ethernet header %s" % frame[:14].hex())
    tl = struct.unpack("!H", rip[2:4])[0]
    if rip[0] != 0x45 or rip[9] != PROTO_ICMP or csum(rip[:20]) != 0 or len(rip) != tl:
        problems.append("IP header %s (datagram %d bytes)" % (rip[:20].hex(), len(rip)))
    if rip[12:16] != ip4(STACK_IP) or rip[16:20] != ip4(c.f.hip):
        problems.append("addresses %s" % rip[12:20].hex())
    m = rip[20:tl]
    if (m[0], m[1]) != (typ, code):
        problems.append("type/code %d/%d, expected %d/%d" % (m[0], m[1], typ, code))
    if csum(m) != 0:
        problems.append("ICMP checksum")
    if m[4:8] != b"\x00" * 4:
        problems.append("unused field %s" % m[4:8].hex())
    if m[8:] != quote:
        problems.append("quote of %d bytes differs from the %d bytes that arrived (first %s, wanted %s)"
                        % (len(m) - 8, len(quote), m[8:48].hex(), quote[:40].hex()))
    if problems:
        c.fail(label, "bad ICMP error: " + "; ".join(problems))


# ---- fixture (import it into a test module: `from bb_frames import checker`) ----

def _checker_fixture():
    import pytest

    @pytest.fixture
    def checker(stack):
        """A primed Checker on the test's stack; closed before the stack's
        teardown (which checks the pool baseline)."""
        c = Checker(stack)
        try:
            yield c
        finally:
            c.close()
    return checker


checker = _checker_fixture()
