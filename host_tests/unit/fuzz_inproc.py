# The in-process fuzz target, for both interpreters: one byte string drives a
# whole Stack on a memif (its TCP services and UDP echo up) through many
# frames, the clock advanced by the input itself (as lwIP's fuzz3 does).
# tools/fuzz_atheris.py runs it coverage-guided on CPython; the corpus in
# host_tests/fuzz_corpus/ goes through it on CPython and both MicroPython
# widths (test_fuzz_corpus.py). docs/fuzz.md describes the format:
#
#   input  := record*
#   record := hdr (2 bytes, big endian) frame (len bytes; fewer at the end)
#   hdr    := fix (bit 15) | clock (bits 14-11) | len (bits 10-0)
#
# clock indexes TIMES: how far the clock moves after the frame. fix set: the
# frame's IPv4 header checksum and ICMP/UDP/TCP checksum are made right, and
# a TCP segment's acknowledgment number (and its SACK block edges) are taken
# as offsets from the stack's SND.NXT of that connection (the last sequence
# number the stack sent it, plus what that segment took), so an input can
# hold a whole conversation without knowing the ISN. The ISN secret is fixed
# (zeros), so one input always runs the same way. Besides the services, a
# client (stack/services.Client) opens one connection from port CLIENT_PORT
# to the peer's port PEER_ECHO_PORT at the start and sends 200 bytes: an
# input that answers it reaches the active-open side.
#
# Checked as it runs: no exception; every frame the stack sends comes from
# its MAC and address, with right lengths and checksums. At the end: the
# clock runs on (every timer fires), then after shutdown every block, header
# block and pbuf object is back (support.Rig.finish).
import frames
from support import PEER_IP, US_IP, US_MAC, Rig

TIMES = (0, 0, 0, 1, 2, 5, 10, 40, 100, 200, 500, 1000, 3000, 10000, 60000, 300000)
RX_MAX = 1596
FIX = 0x8000

# timers short enough that the quiet time at the end runs them all out
SETTINGS = {"TCP_MSL_MS": 1000, "REASM_TIMEOUT_MS": 2000, "TCP_RTO_MAX_MS": 4000,
            "TCP_MAX_RETRIES": 4, "TCP_SYN_RETRIES": 2}
# quotas and tables so small that one input runs blocks, queues and caches
# out (tools/fuzz_atheris.py --tight; the corpus in fuzz_corpus/tight/)
TIGHT = {"QUOTA_TCP_BLOCKS": 4, "QUOTA_REASM_BLOCKS": 3, "QUOTA_TX_BLOCKS": 2, "QUOTA_UDP_BLOCKS": 1,
         "QUOTA_ARPQ_BLOCKS": 1, "ARP_CACHE_ENTRIES": 2, "REASM_MAX_DATAGRAMS": 2, "TCP_OOSEQ_MAX": 2,
         "TCP_MAX_PCBS": 4, "TCP_BACKLOG_MAX": 2, "UDP_QUEUE_DATAGRAMS": 1, "TCP_WND_BLOCKS": 4,
         "QUOTA_TX_HDR_BLOCKS": 4}
QUIET_MS = 60000
CLIENT_PORT = 50000
PEER_ECHO_PORT = 7007
US_IP_B = frames.ip4(US_IP)


class Fail(AssertionError):
    pass


def records(data):
    """[(fix, clock ms, frame)] of an input."""
    out = []
    i = 0
    n = len(data)
    while i + 2 <= n:
        h = (data[i] << 8) | data[i + 1]
        i += 2
        ln = h & 0x7FF
        out.append((bool(h & FIX), TIMES[(h >> 11) & 15], bytes(data[i:i + ln])))
        i += ln
    return out


def record(frame, clock_ms=0, fix=True):
    """The bytes of one record (the closest TIMES entry not above clock_ms)."""
    k = 0
    for j in range(len(TIMES)):
        if TIMES[j] <= clock_ms:
            k = j
    n = min(len(frame), 0x7FF)
    h = (FIX if fix else 0) | (k << 11) | n
    return bytes([h >> 8, h & 0xFF]) + bytes(frame[:n])


def _be16(b, o):
    return (b[o] << 8) | b[o + 1]


def _be32(b, o):
    return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]


def _put16(b, o, v):
    b[o] = (v >> 8) & 0xFF
    b[o + 1] = v & 0xFF


def _put32(b, o, v):
    b[o] = (v >> 24) & 0xFF
    b[o + 1] = (v >> 16) & 0xFF
    b[o + 2] = (v >> 8) & 0xFF
    b[o + 3] = v & 0xFF


def fixup(f, snd_nxt):
    """The frame with checksums made right and a TCP ACK relative to the
    stack's SND.NXT for that connection (snd_nxt: {(peer port, our port): n})."""
    b = bytearray(f)
    if len(b) < 34 or b[12] != 8 or b[13] != 0:
        return bytes(b)
    ihl = (b[14] & 15) * 4
    if ihl < 20 or 14 + ihl > len(b):
        return bytes(b)
    b[24] = b[25] = 0
    _put16(b, 24, frames.csum(bytes(b[14:14 + ihl])))
    tl = _be16(b, 16)
    if _be16(b, 20) & 0x3FFF or tl > len(b) - 14 or tl < ihl:
        return bytes(b)
    t = 14 + ihl
    end = 14 + tl
    n = end - t
    proto = b[23]
    if proto == 1 and n >= 4:
        b[t + 2] = b[t + 3] = 0
        _put16(b, t + 2, frames.csum(bytes(b[t:end])))
    elif proto == 17 and n >= 8:
        b[t + 6] = b[t + 7] = 0
        _put16(b, t + 6, frames.csum(bytes(b[t:end]), frames.pseudo(bytes(b[26:30]), bytes(b[30:34]), 17, n)) or 0xFFFF)
    elif proto == 6 and n >= 20:
        key = (_be16(b, t), _be16(b, t + 2))
        base = snd_nxt.get(key)
        if base is not None:
            _put32(b, t + 8, (base + _be32(b, t + 8)) & 0xFFFFFFFF)
            # SACK block edges: offsets from the same SND.NXT
            hl = (b[t + 12] >> 4) * 4
            i = t + 20
            oend = min(t + hl, end)
            while i < oend:
                k = b[i]
                if k == 0:
                    break
                if k == 1:
                    i += 1
                    continue
                if i + 1 >= oend or b[i + 1] < 2:
                    break
                ln = b[i + 1]
                if k == 5:
                    j = i + 2
                    while j + 4 <= min(i + ln, oend):
                        _put32(b, j, (base + _be32(b, j)) & 0xFFFFFFFF)
                        j += 4
                i += ln
        b[t + 16] = b[t + 17] = 0
        _put16(b, t + 16, frames.csum(bytes(b[t:end]), frames.pseudo(bytes(b[26:30]), bytes(b[30:34]), 6, n)))
    return bytes(b)


def check_sent(f, snd_nxt):
    """Raise Fail when a frame the stack sent is wrong; note its SND.NXT."""
    n = len(f)
    if n < 14 or n > 1514:
        raise Fail("sent a %d-byte frame" % n)
    if f[6:12] != US_MAC:
        raise Fail("source MAC %s" % f[6:12])
    if f[12] == 8 and f[13] == 6:
        if n < 42 or f[22:28] != US_MAC or f[28:32] != US_IP_B:
            raise Fail("ARP %s" % f[14:42])
        return
    if f[12] != 8 or f[13] != 0:
        raise Fail("EtherType %02x%02x" % (f[12], f[13]))
    if n < 34 or f[14] >> 4 != 4:
        raise Fail("IPv4 header")
    ihl = (f[14] & 15) * 4
    tl = _be16(f, 16)
    if ihl < 20 or tl < ihl or 14 + tl > n or not frames.csum_ok(f[14:14 + ihl]):
        raise Fail("IPv4 header %s" % f[14:34])
    if f[26:30] != US_IP_B:
        raise Fail("IPv4 source %s" % f[26:30])
    if _be16(f, 20) & 0x3FFF:
        return
    t = 14 + ihl
    seg = f[t:14 + tl]
    proto = f[23]
    if proto == 1:
        ok = len(seg) >= 8 and frames.csum_ok(seg)
    elif proto == 17:
        ok = len(seg) >= 8 and _be16(seg, 4) == len(seg) and frames.csum_ok(
            seg, frames.pseudo(f[26:30], f[30:34], 17, len(seg)))
    elif proto == 6:
        ok = len(seg) >= 20 and 20 <= (seg[12] >> 4) * 4 <= len(seg) and frames.csum_ok(
            seg, frames.pseudo(f[26:30], f[30:34], 6, len(seg)))
        if ok:
            fl = seg[13]
            used = len(seg) - (seg[12] >> 4) * 4 + (1 if fl & 3 else 0)
            snd_nxt[(_be16(seg, 2), _be16(seg, 0))] = (_be32(seg, 4) + used) & 0xFFFFFFFF
    else:
        ok = False
    if not ok:
        raise Fail("protocol %d segment %s" % (proto, seg[:24]))


def run(data, quiet_ms=QUIET_MS, settings=None):
    """Drive one input through a fresh stack; Fail (or the stack's own
    exception) when something is wrong. Returns the counters that moved.
    settings: more stack/config.py overrides (e.g. tight quotas)."""
    from stack import services
    cfg = dict(SETTINGS)
    if settings:
        cfg.update(settings)
    with Rig(**cfg) as r:
        st = r.st
        st.tcp.key = bytes(16)
        st.udp.bind_echo(7)
        services.echo(st.tcp, 7)
        services.discard(st.tcp, 9)
        services.source(st.tcp, 19)
        services.qotd(st.tcp, 17)
        r.learn()
        st.tcp._ephemeral = lambda: CLIENT_PORT
        client = services.Client(st.tcp, frames.ip4(PEER_IP), PEER_ECHO_PORT, 1, 200)
        nxt = {}
        client.kick()
        r.poll(r.t)
        for s in r.sent():
            check_sent(s, nxt)
        for fix, dt, f in records(data):
            if len(f) > RX_MAX:
                f = f[:RX_MAX]
            if fix:
                f = fixup(f, nxt)
            r.inject(f)
            r.poll(r.t + dt)
            for s in r.sent():
                check_sent(s, nxt)
        end = r.t + quiet_ms
        while r.t < end:
            r.poll(r.t + 500)
            for s in r.sent():
                check_sent(s, nxt)
        return r.delta()
