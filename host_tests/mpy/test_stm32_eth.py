# The STM32 ETH driver against its behavioural model (drivers/stm32_eth):
# what the driver-contract suite cannot see. MicroPython only, both widths.
# Each test checks exact counter deltas on both sides (the driver's stats()
# and the model's own hardware counters, model_stats()) and leaves the pool
# as it found it: every block free once the driver is closed.
#
# Run by hand:  build/unix/micropython host_tests/mpy/test_stm32_eth.py
import sys
import time
import array
import errno
import struct

import zcpool
import stm32_eth

FO = zcpool.FRAME_OFFSET
OUR_MAC = b"\x02\x00\x00\x00\x00\x02"
PEER_MAC = b"\x02\x00\x00\x00\x00\x01"
OUR_IP = bytes((198, 51, 100, 2))
PEER_IP = bytes((198, 51, 100, 1))
TAKE = bytearray(2048)
# The driver's own configurations the tests go through.
MODES = (
    {},                                              # normal descriptors, ring mode
    {"enhanced": True, "chained": True},             # 32-byte descriptors, chained
    {"dsl": 3},                                      # ring mode, 3 words skipped
    {"enhanced": True, "dsl": 1, "cache": "maint"},
)


class SkipTest(Exception):
    pass


def open_eth(**kw):
    opts = {"rx_ring": 8, "tx_ring": 8, "wire": "queue", "queue_depth": 256, "promisc": True}
    opts.update(kw)
    d = stm32_eth.ETH(**opts)
    for _ in range(50):
        if d.link()[0]:
            break
    assert d.link()[0], "no link after autonegotiation"
    return d


def closed_baseline():
    assert zcpool.nfree() == zcpool.NBLOCKS, "leak: %d of %d free" % (zcpool.nfree(), zcpool.NBLOCKS)
    assert zcpool.hnfree() == zcpool.HNBLOCKS, "header leak"


def at_baseline():
    return (zcpool.nfree() + zcpool.held(zcpool.H_RXPOST) == zcpool.NBLOCKS
            and zcpool.hnfree() == zcpool.HNBLOCKS)


def delta(before, after):
    return {k: after[k] - before[k] for k in after if after[k] != before.get(k, 0)}


def csum(b, s=0):
    for i in range(0, len(b) - 1, 2):
        s += (b[i] << 8) | b[i + 1]
    if len(b) & 1:
        s += b[-1] << 8
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ipv4(proto, payload, src=PEER_IP, dst=OUR_IP, ident=1, frag=0, hdr_ok=True):
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag,
                               64, proto, 0, src, dst))
    c = ~csum(ip) & 0xFFFF
    struct.pack_into("!H", ip, 10, c if hdr_ok else c ^ 0x1111)
    return bytes(ip) + payload


def udp(payload, sport=40001, dport=40002, src=PEER_IP, dst=OUR_IP, good=True, zero=False):
    u = bytearray(struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)
    if not zero:
        ph = src + dst + struct.pack("!BBH", 0, 17, len(u))
        c = ~csum(u, csum(ph)) & 0xFFFF or 0xFFFF
        struct.pack_into("!H", u, 6, c if good else c ^ 0x0101)
    return bytes(u)


def eth(l3, dst=OUR_MAC, src=PEER_MAC, etype=0x0800):
    return dst + src + struct.pack("!H", etype) + l3


def seq_frame(i, n=200):
    """A UDP frame numbered i (bytes 42..45) with n bytes of payload."""
    pl = struct.pack("!I", i) + bytes(((i + k) & 0xFF) for k in range(n - 4))
    return eth(ipv4(17, udp(pl), ident=i & 0xFFFF))


def seq_of(fr):
    return struct.unpack("!I", fr[42:46])[0]


def rx_all(d, want, budget=8, keep=False, limit=200):
    """Frames handed up (bytes, flags), blocks freed unless keep."""
    out = array.array("i", [0] * (3 * budget))
    got = []
    for _ in range(limit):
        if len(got) >= want:
            break
        n = d.rx_poll(budget, out)
        for k in range(n):
            b, ln, fl = out[3 * k], out[3 * k + 1], out[3 * k + 2]
            assert zcpool.holder(b) == zcpool.H_RX and zcpool.refcnt(b) == 1
            got.append((bytes(zcpool.block(b)[FO:FO + ln]), fl) if not keep else (b, ln, fl))
            if not keep:
                zcpool.free(b)
        if n == 0 and len(got) < want:
            d.rx_poll(0, out)
    return got


def reap_all(d, want, limit=200):
    out = array.array("i", [0] * 64)
    cookies = []
    for _ in range(limit):
        if len(cookies) >= want:
            break
        m = d.tx_reap(out)
        cookies.extend(out[:m])
    return cookies


def take_all(d):
    frames = []
    for _ in range(4096):
        n = d.take(TAKE)
        if not n:
            break
        frames.append(bytes(TAKE[:n]))
    return frames


class PoolLimits:
    def __enter__(self):
        st = zcpool.stats()
        self.reserve = st["reserve"]
        self.quota = st["quota"][zcpool.H_APP]
        zcpool.set_reserve(0)
        zcpool.set_quota(zcpool.H_APP, zcpool.NBLOCKS)
        self.taken = []
        return self

    def exhaust(self):
        for _ in range(zcpool.NBLOCKS):
            b = zcpool.alloc(zcpool.H_APP)
            if b < 0:
                break
            self.taken.append(b)
        assert zcpool.nfree() == 0

    def give_back(self):
        while self.taken:
            zcpool.free(self.taken.pop())

    def __exit__(self, *exc):
        self.give_back()
        zcpool.set_reserve(self.reserve)
        zcpool.set_quota(zcpool.H_APP, self.quota)
        return False


# ---- rings ----------------------------------------------------------------------------------

def _wrap(mode, count):
    d = open_eth(rx_ring=8, tx_ring=8, **mode)
    try:
        s0, m0 = d.stats(), d.model_stats()
        t0 = time.ticks_ms()
        # RX: bursts of up to the ring's size, every frame exact and in order
        i = 0
        while i < count:
            burst = min(6, count - i)
            for k in range(burst):
                assert d.inject(seq_frame(i + k, 60 + (i + k) % 300)) == 0
            got = rx_all(d, burst)
            assert [seq_of(f) for f, _ in got] == list(range(i, i + burst)), "rx lost/reordered at %d" % i
            for f, _ in got:
                assert f == seq_frame(seq_of(f), 60 + seq_of(f) % 300)
            i += burst
        t_rx = time.ticks_diff(time.ticks_ms(), t0)
        # TX: frames of 1..4 pieces (a pool block, bytes, a header block, a zero-length entry)
        blk = zcpool.alloc(zcpool.H_TX)
        hb = zcpool.alloc_hdr(zcpool.H_TX)
        tx_bytes = 0
        cookies = []
        pending = []                                  # sent, not yet seen on the wire
        t0 = time.ticks_ms()
        for i in range(count):
            fr = seq_frame(i, 60 + i % 500)
            pieces = 1 + i % 4
            zcpool.block(hb)[0:14] = fr[:14]              # the same for every frame
            at = 100 + (i % 8) * 40                        # not reused before the frame is reaped
            zcpool.block(blk)[at:at + 28] = fr[14:42]
            if pieces == 1:
                g = [fr, 0, len(fr)]
            elif pieces == 2:
                g = [hb, 0, 14, fr, 14, len(fr) - 14]
            elif pieces == 3:
                g = [hb, 0, 14, blk, at, 28, fr, 42, len(fr) - 42]
            else:
                g = [hb, 0, 14, fr, 0, 0, blk, at, 28, fr, 42, len(fr) - 42]
            while d.tx(len(g) // 3, g, i) == errno.ENOBUFS:
                cookies += reap_all(d, 1)
                for w in take_all(d):
                    assert w == pending.pop(0), "tx frame not exact"
            pending.append(fr)
            tx_bytes += len(fr)
            if i % 8 == 7:
                # the header block is rewritten per frame: reap before reusing it
                cookies += reap_all(d, i + 1 - len(cookies))
                for w in take_all(d):
                    assert w == pending.pop(0), "tx frame not exact"
        cookies += reap_all(d, count - len(cookies))
        for w in take_all(d):
            assert w == pending.pop(0), "tx frame not exact"
        assert pending == [], "%d frames never reached the wire" % len(pending)
        t_tx = time.ticks_diff(time.ticks_ms(), t0)
        assert cookies == list(range(count)), "tx cookies lost/reordered"
        zcpool.free(blk)
        zcpool.free(hb)
        s1, m1 = d.stats(), d.model_stats()
        ds, dm = delta(s0, s1), delta(m0, m1)
        assert ds["rx_frames"] == count and ds["tx_frames"] == count, ds
        assert ds["rx_bytes"] == sum(len(seq_frame(i, 60 + i % 300)) for i in range(count))
        assert ds["tx_bytes"] == tx_bytes
        for k in ("rx_no_buffer", "rx_errors", "rx_oversize", "tx_errors", "rx_copied_bytes",
                  "tx_copied_bytes", "resets", "fatal_bus_errors"):
            assert ds.get(k, 0) == 0, (k, ds)
        assert dm["rx_frames"] == count and dm["tx_frames"] == count, dm
        for k in ("rx_missed", "rx_truncated", "bus_errors", "tx_unclean", "rx_unarmed",
                  "rbs_not_mult4", "tx_no_fs"):
            assert dm.get(k, 0) == 0, (k, dm)
        if mode.get("dsl"):
            assert dm["dsl_nonzero_ring"] == count, dm
        assert at_baseline()
        print("FIGURE wrap %r: %d frames rx in %d ms, tx in %d ms" % (mode, count, t_rx, t_tx))
    finally:
        d.close()
    closed_baseline()


def test_ring_wrap_thousands_normal_ring():
    _wrap(MODES[0], 3000)


def test_ring_wrap_thousands_enhanced_chained():
    _wrap(MODES[1], 3000)


def test_ring_wrap_dsl_and_maint():
    _wrap(MODES[2], 1000)
    _wrap(MODES[3], 1000)


# ---- RX starvation ---------------------------------------------------------------------------

def test_rx_starvation_drops_counted_and_recovers():
    d = open_eth(rx_ring=4)
    try:
        with PoolLimits() as lim:
            s0, m0 = d.stats(), d.model_stats()
            lim.exhaust()
            # blocks posted, none to refill with: the driver drops and recycles
            for i in range(10):
                d.inject(seq_frame(i))
            assert rx_all(d, 10, limit=20) == []
            ds = delta(s0, d.stats())
            assert ds == {"rx_no_buffer": 10, "irqs": ds["irqs"], "rx_poll_demands": ds.get("rx_poll_demands", 0),
                          "rbus": ds.get("rbus", 0)}, ds
            assert delta(m0, d.model_stats()).get("rx_missed", 0) == 0
            assert zcpool.held(zcpool.H_RXPOST) == 4
            lim.give_back()
            got = rx_all(d, 3) if [d.inject(seq_frame(100 + i)) for i in range(3)] else None
            assert [seq_of(f) for f, _ in got] == [100, 101, 102]
        assert at_baseline()
    finally:
        d.close()
    closed_baseline()
    # no block posted at all: the DMA suspends (RBUS); each poll demand that
    # still finds the descriptor host-owned costs the head frame (MFC)
    with PoolLimits() as lim:
        lim.exhaust()
        d = open_eth(rx_ring=4)
        try:
            s0, m0 = d.stats(), d.model_stats()
            for i in range(5):
                d.inject(seq_frame(i))
            for _ in range(20):
                assert d.rx_poll(4, array.array("i", [0] * 12)) == 0
            ds, dm = delta(s0, d.stats()), delta(m0, d.model_stats())
            assert dm["rx_missed"] == 5 and ds["rx_missed"] == 5 and ds["rx_no_buffer"] == 5, (ds, dm)
            assert ds["rbus"] >= 1 and dm["rbus"] >= 5
            lim.give_back()
            for i in range(3):
                d.inject(seq_frame(200 + i))
            got = rx_all(d, 3)
            assert [seq_of(f) for f, _ in got] == [200, 201, 202]
            assert zcpool.held(zcpool.H_RXPOST) == 4
            assert delta(m0, d.model_stats())["rx_missed"] == 5
        finally:
            d.close()
    closed_baseline()


# ---- TX ring full -----------------------------------------------------------------------------

def test_tx_ring_full_enobufs_then_progress():
    # by frame slots, and by descriptors (chained: one buffer each)
    for kw, frames, pieces in (({"tx_ring": 4}, 4, 1), ({"tx_ring": 8, "tx_desc": 16, "chained": True}, 2, 8)):
        d = open_eth(**kw)
        try:
            fr = seq_frame(1, 400)
            cut = [0, 14, 42, 60, 100, 200, 300, 350, len(fr)][:pieces] + [len(fr)]
            g = []
            for k in range(pieces):
                g += [fr, cut[k], cut[k + 1] - cut[k]]
            s0 = d.stats()
            for i in range(frames):
                assert d.tx(pieces, g, i) == 0
            assert d.tx_room() == 0
            assert d.tx(pieces, g, 99) == errno.ENOBUFS
            assert delta(s0, d.stats()) == {"tx_ring_full": 1}
            one = array.array("i", [0])
            assert d.tx_reap(one) == 1 and one[0] == 0
            assert d.tx(pieces, g, frames) == 0            # progress once a frame was reaped
            assert reap_all(d, frames) == list(range(1, frames + 1))
            wire = take_all(d)
            assert wire == [fr] * (frames + 1)
            assert delta(s0, d.stats())["tx_frames"] == frames + 1
        finally:
            d.close()
        closed_baseline()


# ---- multi-descriptor frames -------------------------------------------------------------------

def test_multi_descriptor_tx_exact():
    for mode in MODES:
        d = open_eth(tx_ring=4, tx_desc=24, **mode)
        try:
            fr = seq_frame(7, 1400)
            blk = zcpool.alloc(zcpool.H_TX)
            zcpool.block(blk)[0:len(fr)] = fr
            s0 = d.stats()
            for n in (1, 2, 3, 7, 8, 15, 16):
                # n pieces, every other one preceded by a zero-length entry when room
                step = len(fr) // n
                g = []
                for k in range(n):
                    a = k * step
                    b = len(fr) if k == n - 1 else a + step
                    g += [blk, a, b - a]
                zeros = 0
                while len(g) // 3 < 16 and zeros < 3:
                    g = [blk, 0, 0] + g                  # zero-length: no buffer, no descriptor
                    zeros += 1
                room = d.tx_room()
                assert d.tx(len(g) // 3, g, n) == 0
                need = n if mode.get("chained") else (n + 1) // 2
                assert reap_all(d, 1) == [n]
                assert take_all(d) == [fr], "%d pieces, %r" % (n, mode)
                assert d.tx_room() == room
                assert need <= 16
            ds = delta(s0, d.stats())
            assert ds["tx_frames"] == 7 and ds["tx_bytes"] == 7 * len(fr) and ds.get("tx_copied_bytes", 0) == 0
            assert zcpool.refcnt(blk) == 1
            zcpool.free(blk)
        finally:
            d.close()
        closed_baseline()


def test_tx_descriptors_reserved_per_frame():
    # ring mode: two buffers per descriptor; chained: one
    for chained, need in ((False, 8), (True, 16)):
        d = open_eth(tx_ring=4, tx_desc=16, chained=chained)
        try:
            fr = seq_frame(3, 160)
            g = []
            for k in range(16):
                g += [fr, 10 * k, 10 if k < 15 else len(fr) - 150]
            assert d.tx_room() == 4
            assert d.tx(16, g, 1) == 0
            assert d.tx_room() == min(3, 16 - need)
            assert reap_all(d, 1) == [1] and take_all(d) == [fr]
            assert d.tx_room() == 4
        finally:
            d.close()
        closed_baseline()


def test_tx_padding_to_60():
    d = open_eth(pad=True)
    try:
        m0 = d.model_stats()
        short = OUR_MAC + PEER_MAC + b"\x08\x06" + b"arp-ish"
        assert d.tx(1, [short, 0, len(short)], 1) == 0
        assert reap_all(d, 1) == [1]
        assert take_all(d) == [short + bytes(60 - len(short))]
        assert delta(m0, d.model_stats())["tx_padded"] == 1
        assert d.stats()["tx_bytes"] == len(short)       # the driver counts what it was given
    finally:
        d.close()
    closed_baseline()


# ---- errors on receive ----------------------------------------------------------------------------

def test_crc_error_frames_dropped_blocks_recycled():
    for mode in MODES[:2]:
        d = open_eth(rx_ring=4, **mode)
        try:
            posted = sorted(i for i in range(zcpool.NBLOCKS)
                            if zcpool.refcnt(i) > 0 and zcpool.holder(i) == zcpool.H_RXPOST)
            s0, m0 = d.stats(), d.model_stats()
            d.fault("rx_crc", 1000000)
            for i in range(9):
                d.inject(seq_frame(i))
            assert rx_all(d, 9, limit=10) == []
            d.fault("rx_crc", 0)
            ds, dm = delta(s0, d.stats()), delta(m0, d.model_stats())
            assert d.faults()["rx_crc"] == 9
            assert ds["rx_crc_errors"] == 9 and ds["rx_errors"] == 9 and ds.get("rx_frames", 0) == 0, ds
            assert dm["mmc_rx_crc"] == 9 and dm["rx_crc_errors"] == 9, dm
            now = sorted(i for i in range(zcpool.NBLOCKS)
                         if zcpool.refcnt(i) > 0 and zcpool.holder(i) == zcpool.H_RXPOST)
            assert now == posted, "blocks not recycled in place"
            d.inject(seq_frame(50))
            assert [seq_of(f) for f, _ in rx_all(d, 1)] == [50]
        finally:
            d.close()
        closed_baseline()


def test_truncated_frame_de_dropped():
    d = open_eth(rx_ring=4)
    try:
        s0, m0 = d.stats(), d.model_stats()
        for i in range(3):
            d.inject(seq_frame(i))
        big = seq_frame(99, 1900)                       # needs two descriptors (RBS 1596)
        d.inject(big)
        out = array.array("i", [0] * 24)
        assert d.rx_poll(0, out) == 0                   # the DMA fills the ring; nothing handed up
        got = rx_all(d, 3)
        assert [seq_of(f) for f, _ in got] == [0, 1, 2]
        ds, dm = delta(s0, d.stats()), delta(m0, d.model_stats())
        assert dm["rx_truncated"] == 1 and ds["rx_truncated"] == 1 and ds["rx_errors"] == 1, (ds, dm)
        assert ds["rx_frames"] == 3
        assert zcpool.held(zcpool.H_RXPOST) == 4
        # a whole oversize frame (room for it) is dropped as oversize
        d.inject(big)
        d.inject(seq_frame(5))
        assert [seq_of(f) for f, _ in rx_all(d, 1)] == [5]
        assert delta(s0, d.stats())["rx_oversize"] == 1
        assert at_baseline()
    finally:
        d.close()
    closed_baseline()


def test_rx_overrun_and_wire_faults_counted():
    d = open_eth(rx_ring=8)
    try:
        s0 = d.stats()
        d.fault("rx_overrun", 300000)
        d.fault("rx_drop", 200000)
        n = 300
        got = []
        for i in range(0, n, 6):
            for k in range(6):
                d.inject(seq_frame(i + k))
            got += rx_all(d, 6, limit=3)
        f = d.faults()
        ds = delta(s0, d.stats())
        lost = f["rx_overrun"] + f["rx_drop"]
        assert f["rx_overrun"] > 0 and f["rx_drop"] > 0
        assert len(got) == n - lost, (len(got), f)
        assert ds["rx_fifo_overflow"] == f["rx_overrun"], (ds, f)
        seqs = [seq_of(fr) for fr, _ in got]
        assert seqs == sorted(set(seqs))                # no duplicate, in order
    finally:
        d.close()
    closed_baseline()


# ---- checksum offload ----------------------------------------------------------------------------

def test_rx_checksum_verdicts():
    OK, BAD = stm32_eth.RXF_CSUM_OK, stm32_eth.RXF_CSUM_BAD
    cases = [
        (eth(ipv4(17, udp(b"good"))), OK),
        (eth(ipv4(17, udp(b"bad payload", good=False))), BAD),
        (eth(ipv4(17, udp(b"bad header"), hdr_ok=False)), BAD),
        (eth(ipv4(17, udp(b"no udp checksum", zero=True))), OK),
        (eth(ipv4(17, udp(b"a first fragment"), frag=0x2000)), 0),
        (eth(ipv4(47, b"gre, unchecked payload")), 0),
        (eth(b"\x00" * 46, etype=0x88B5), 0),
    ]
    for enhanced in (False, True):
        d = open_eth(enhanced=enhanced)
        try:
            s0 = d.stats()
            for fr, _ in cases:
                d.inject(fr)
            got = rx_all(d, len(cases))
            assert [fl for _, fl in got] == [w for _, w in cases], (enhanced, [fl for _, fl in got])
            assert [f for f, _ in got] == [f for f, _ in cases]
            ds = delta(s0, d.stats())
            assert ds["rx_csum_ok"] == 2 and ds["rx_csum_bad"] == 2, ds
        finally:
            d.close()
        closed_baseline()
    d = open_eth(rx_csum=False)
    try:
        for fr, _ in cases:
            d.inject(fr)
        assert [fl for _, fl in rx_all(d, len(cases))] == [0] * len(cases)
    finally:
        d.close()
    closed_baseline()


def _l4_ok(fr):
    ip = fr[14:34]
    assert csum(ip) == 0xFFFF, "IPv4 header checksum"
    proto, tot = fr[23], struct.unpack("!H", fr[16:18])[0]
    l4 = fr[34:14 + tot]
    if proto == 1:
        return csum(l4) == 0xFFFF
    return csum(l4, csum(fr[26:34] + struct.pack("!BBH", 0, proto, len(l4)))) == 0xFFFF


def test_tx_checksum_insertion_where_allowed():
    d = open_eth(tx_csum=True, pad=False)
    try:
        assert d.TX_CSUM is True
        s0, m0 = d.stats(), d.model_stats()
        u = eth(ipv4(17, udp(b"fill me in", zero=True)), dst=PEER_MAC, src=OUR_MAC)
        u = u[:24] + b"\x00\x00" + u[26:]                 # IPv4 header checksum left 0 too
        tcp = struct.pack("!HHIIBBHHH", 7, 40000, 1, 2, 0x50, 0x18, 1000, 0, 0) + b"tcp data"
        t = eth(ipv4(6, tcp), dst=PEER_MAC, src=OUR_MAC)
        icmp0 = eth(ipv4(1, b"\x00\x00\x00\x00\x12\x34\x00\x01ping"), dst=PEER_MAC, src=OUR_MAC)
        ic = bytearray(b"\x00\x00\x00\x00\x12\x34\x00\x02ping")
        struct.pack_into("!H", ic, 2, ~csum(ic) & 0xFFFF)
        icmp_set = eth(ipv4(1, bytes(ic)), dst=PEER_MAC, src=OUR_MAC)   # its checksum already in
        frag = eth(ipv4(17, udp(b"fragment", zero=True), frag=0x2000), dst=PEER_MAC, src=OUR_MAC)
        frames = [u, t, icmp0, icmp_set, frag]
        for i, fr in enumerate(frames):
            assert d.tx(1, [fr, 0, len(fr)], i) == 0
        assert reap_all(d, 5) == [0, 1, 2, 3, 4]
        w = take_all(d)
        assert _l4_ok(w[0]) and w[0][40:42] != b"\x00\x00", "UDP checksum inserted"
        assert _l4_ok(w[1]), "TCP checksum inserted"
        assert _l4_ok(w[2]), "ICMP checksum inserted (field was 0)"
        assert w[3] == icmp_set and _l4_ok(w[3]), "ICMP with its checksum: header only, not summed twice"
        assert w[4] == frag, "a fragment goes untouched (ES0206)"
        ds, dm = delta(s0, d.stats()), delta(m0, d.model_stats())
        assert ds["tx_csum_offload"] == 4 and ds["tx_csum_bypass_frag"] == 1, ds
        assert ds["tx_csum_left_zero"] == 2, ds          # the UDP and TCP frames
        assert dm["tx_cic_frames"] == 4 and dm.get("cic_fragment", 0) == 0, dm
    finally:
        d.close()
    closed_baseline()


# ---- link -----------------------------------------------------------------------------------------

def test_phy_autonegotiation_progress_in_link():
    d = stm32_eth.ETH(rx_ring=4, tx_ring=4, wire="queue")
    try:
        seen = [d.link() for _ in range(8)]
        assert seen[0] == (False, 0, False), seen[0]     # non-blocking: not up at once
        assert seen[-1] == (True, 100, True)
        ups = [s[0] for s in seen]
        assert ups == sorted(ups)                          # down, ..., up, stays up
        m = d.model_stats()
        assert m["phy_resets"] == 1 and m["link_ups"] == 1
        assert d.stats()["link_changes"] == 1 and d.stats()["mdio_timeouts"] == 0
    finally:
        d.close()
    closed_baseline()


def test_link_flap():
    d = open_eth(rx_ring=4, tx_ring=4)
    try:
        s0, m0 = d.stats(), d.model_stats()
        d.link_set(False)
        assert d.link() == (False, 0, False)
        d.inject(seq_frame(1))
        assert rx_all(d, 1, limit=3) == []                 # lost on a dead link
        fr = seq_frame(2)
        assert d.tx(1, [fr, 0, len(fr)], 2) == 0
        assert reap_all(d, 1) == [2]                       # completes (full duplex: no carrier check)
        assert take_all(d) == []
        d.link_set(True)
        for _ in range(10):
            if d.link()[0]:
                break
        assert d.link() == (True, 100, True)
        d.inject(seq_frame(3))
        assert [seq_of(f) for f, _ in rx_all(d, 1)] == [3]
        ds, dm = delta(s0, d.stats()), delta(m0, d.model_stats())
        assert ds["link_changes"] == 2, ds
        assert dm["rx_link_down"] == 1 and dm["tx_link_down"] == 1 and dm["link_downs"] == 1, dm
        # seeded flaps (some cut an autonegotiation short: no link to lose):
        # every drop and every return the PHY went through is seen (BMSR
        # latches low), though the driver polls only once per link() call
        d.fault("link_down_steps", 6)
        d.fault("link_flap", 100000)
        s1, m1 = d.stats(), d.model_stats()
        for _ in range(400):
            d.link()
        d.fault("link_flap", 0)
        for _ in range(20):
            d.link()
        flaps = d.faults()["link_flap"]
        dm = delta(m1, d.model_stats())
        assert flaps > 3 and dm["link_downs"] > 3 and dm["link_downs"] == dm["link_ups"], (flaps, dm)
        assert delta(s1, d.stats())["link_changes"] == dm["link_downs"] + dm["link_ups"]
        assert d.link()[0]
        assert at_baseline()
    finally:
        d.close()
    closed_baseline()


# ---- recovery -----------------------------------------------------------------------------------------

def test_bus_error_reset_no_leak():
    for mode in MODES[:2]:
        d = open_eth(rx_ring=8, tx_ring=8, **mode)
        try:
            s0, m0 = d.stats(), d.model_stats()
            d.fault("bus_error", 20000)
            n = 600
            cookies, rx = [], []
            i = 0
            while i < n:
                for k in range(4):
                    d.inject(seq_frame(i + k))
                fr = seq_frame(10000 + i)
                r = d.tx(2, [fr, 0, 14, fr, 14, len(fr) - 14], i)
                if r == 0:
                    i += 4
                cookies += reap_all(d, 1, limit=2)
                rx += rx_all(d, 4, limit=2)
            d.fault("bus_error", 0)
            cookies += reap_all(d, n // 4 - len(cookies))
            rx += rx_all(d, 8, limit=5)
            ds, dm = delta(s0, d.stats()), delta(m0, d.model_stats())
            errs = d.faults()["bus_error"]
            assert errs > 0 and dm["bus_errors"] == errs and ds["fatal_bus_errors"] == errs, (errs, ds, dm)
            assert ds["resets"] == errs and dm["soft_resets"] == errs
            assert cookies == list(range(0, n, 4)), "a TX frame lost or duplicated across resets"
            assert ds.get("tx_frames", 0) + ds.get("tx_errors", 0) == n // 4
            seqs = [seq_of(f) for f, _ in rx]
            assert seqs == sorted(set(seqs)), "RX duplicated or reordered across resets"
            # everything still works, every block where it belongs
            d.inject(seq_frame(77777))
            assert [seq_of(f) for f, _ in rx_all(d, 1)] == [77777]
            assert zcpool.held(zcpool.H_RXPOST) == 8
            assert at_baseline()
        finally:
            d.close()
        closed_baseline()


def test_reset_that_never_completes_is_bounded():
    d = open_eth(rx_ring=4)
    try:
        s0 = d.stats()
        d.reset_stuck(True)                                # SR never clears (no REF_CLK)
        d.fault("bus_error", 1000000)
        d.inject(seq_frame(1))
        out = array.array("i", [0] * 12)
        t0 = time.ticks_ms()
        d.rx_poll(4, out)
        d.fault("bus_error", 0)
        d.rx_poll(4, out)                                  # still no reset: tried again, bounded
        assert time.ticks_diff(time.ticks_ms(), t0) < 5000
        ds = delta(s0, d.stats())
        assert ds["reset_timeouts"] >= 2 and ds["fatal_bus_errors"] == 1, ds
        d.reset_stuck(False)
        d.rx_poll(4, out)                                  # the reset completes now
        d.inject(seq_frame(2))
        assert [seq_of(f) for f, _ in rx_all(d, 1)] == [2]
        assert zcpool.held(zcpool.H_RXPOST) == 4
    finally:
        d.close()
    closed_baseline()


# ---- cache maintenance --------------------------------------------------------------------------------

def test_cache_maintenance_balanced():
    for cache in ("maint", "none"):
        d = open_eth(rx_ring=8, tx_ring=8, cache=cache)
        try:
            b0, m0 = d.bus_stats(), d.model_stats()
            nrx, ntx = 200, 150
            for i in range(0, nrx, 5):
                for k in range(5):
                    d.inject(seq_frame(i + k))
                assert len(rx_all(d, 5)) == 5
            hb = zcpool.alloc_hdr(zcpool.H_TX)
            segs = 0
            for i in range(ntx):
                fr = seq_frame(i)
                zcpool.block(hb)[0:42] = fr[:42]
                g = [hb, 0, 42, fr, 42, len(fr) - 42] if i % 2 else [fr, 0, len(fr)]
                segs += len(g) // 3
                assert d.tx(len(g) // 3, g, i) == 0
                assert reap_all(d, 1) == [i]
            zcpool.free(hb)
            assert len(take_all(d)) == ntx
            db, dm = delta(b0, d.bus_stats()), delta(m0, d.model_stats())
            if cache == "maint":
                # RX: one invalidate after completion, one before the fresh block is posted
                assert db["invals"] == 2 * nrx, db
                # TX: one clean per buffer a descriptor points at
                assert db["cleans"] == segs, db
                assert dm.get("tx_unclean", 0) == 0 and dm.get("rx_unarmed", 0) == 0, dm
            else:
                assert db.get("invals", 0) == 0 and db.get("cleans", 0) == 0, db
            assert db["wmbs"] >= nrx + ntx
        finally:
            d.close()
        closed_baseline()


# ---- races -------------------------------------------------------------------------------------------

def test_race_no_lost_or_duplicated_frame():
    for mode in MODES[:2]:
        d = open_eth(rx_ring=8, tx_ring=8, race=200000, seed=5, **mode)
        try:
            b0, s0 = d.bus_stats(), d.stats()
            n = 2000
            rx, cookies, wire = [], [], []
            i = j = 0
            while i < n or j < n:
                if i < n:
                    for k in range(min(5, n - i)):
                        assert d.inject(seq_frame(i + k, 80)) == 0
                    for f, _ in rx_all(d, min(5, n - i), budget=3):
                        assert f == seq_frame(seq_of(f), 80)
                        rx.append(seq_of(f))
                    i += 5
                if j < n:
                    fr = seq_frame(j, 90)
                    if d.tx(2, [fr, 0, 20, fr, 20, len(fr) - 20], j) == 0:
                        j += 1
                    out = array.array("i", [0] * 8)
                    m = d.tx_reap(out)
                    cookies += out[:m]
                    for f in take_all(d):
                        assert f == seq_frame(seq_of(f), 90)
                        wire.append(seq_of(f))
            cookies += reap_all(d, n - len(cookies))
            for f in take_all(d):
                wire.append(seq_of(f))
            assert rx == list(range(n)), "RX lost/duplicated under races"
            assert cookies == list(range(n))
            assert wire == list(range(n)), "TX lost/duplicated under races"
            db, ds = delta(b0, d.bus_stats()), delta(s0, d.stats())
            assert db["races"] > 1000, db
            assert ds["rx_frames"] == n and ds["tx_frames"] == n
            assert ds.get("rx_errors", 0) == 0 and ds.get("tx_errors", 0) == 0 and ds.get("resets", 0) == 0
            assert at_baseline()
        finally:
            d.close()
        closed_baseline()


# ---- copies --------------------------------------------------------------------------------------------

def test_zero_copy_counters():
    d = open_eth()
    try:
        s0 = d.stats()
        for i in range(20):
            d.inject(seq_frame(i, 1000))
        assert len(rx_all(d, 20)) == 20
        blk = zcpool.alloc(zcpool.H_TX)
        fr = seq_frame(1, 1000)
        zcpool.block(blk)[FO:FO + len(fr)] = fr
        cookies = []
        for i in range(20):
            assert d.tx(2, [blk, FO, 100, fr, 100, len(fr) - 100], i) == 0
            cookies += reap_all(d, 1)
        assert cookies == list(range(20))
        ds = delta(s0, d.stats())
        assert ds.get("rx_copied_bytes", 0) == 0 and ds.get("tx_copied_bytes", 0) == 0, ds
        assert ds["rx_bytes"] == 20 * len(fr) and ds["tx_bytes"] == 20 * len(fr)
        # a bytearray can move under the DMA: copied into a block, counted
        ba = bytearray(fr)
        assert d.tx(1, [ba, 0, len(ba)], 99) == 0
        assert reap_all(d, 1) == [99]
        assert delta(s0, d.stats())["tx_copied_bytes"] == len(fr)
        assert take_all(d)[-1] == fr
        zcpool.free(blk)
    finally:
        d.close()
    closed_baseline()


def test_bad_constructor_arguments():
    for kw in ({"rx_ring": 1}, {"tx_ring": 0}, {"dsl": 32}, {"cache": "wb"}, {"wire": "pipe"},
               {"tx_desc": 4}, {"mac": b"\x02"}, {"race": -1}):
        try:
            stm32_eth.ETH(**kw).close()
            assert False, "accepted %r" % (kw,)
        except ValueError:
            pass
    closed_baseline()


# ---- the model's own register semantics (model_reg: straight into the model) ------------

DMABMR, DMARPDR, DMASR, DMAOMR, DMAIER, DMAMFBOCR = 0x1000, 0x1008, 0x1014, 0x1018, 0x101C, 0x1020
MACMIIAR, MACMIIDR = 0x10, 0x14
RS, RBUS, NIS = 1 << 6, 1 << 7, 1 << 16
OMR_SR, OMR_ST = 1 << 1, 1 << 13


def test_model_dmasr_write_1_to_clear_and_sticky_summary():
    d = open_eth(rx_ring=4)
    try:
        d.inject(seq_frame(1))
        assert d.model_run() >= 1
        sr = d.model_reg(DMASR)
        assert sr & RS and sr & NIS, hex(sr)           # RIE and NISE: the driver enabled them
        d.model_reg(DMASR, RS)                         # 1 clears RS, and only RS
        sr = d.model_reg(DMASR)
        assert not (sr & RS) and sr & NIS, hex(sr)     # NIS sticky until written itself
        d.model_reg(DMASR, 0)
        assert d.model_reg(DMASR) & NIS                # writing 0 changes nothing
        d.model_reg(DMASR, NIS)
        assert not (d.model_reg(DMASR) & NIS)
        ier = d.model_reg(DMAIER)
        d.model_reg(DMAIER, ier & ~RS)                 # a source not enabled
        d.inject(seq_frame(2))
        d.model_run()
        sr = d.model_reg(DMASR)
        assert sr & RS and not (sr & NIS), hex(sr)     # ... raises no summary
        d.model_reg(DMAIER, ier)
        assert d.model_reg(DMASR) & NIS                # until it is enabled
        assert [seq_of(f) for f, _ in rx_all(d, 2)] == [1, 2]
        assert d.model_reg(DMASR) & 0x1FFFF == 0       # the driver acknowledged everything
    finally:
        d.close()
    closed_baseline()


def test_model_missed_frames_clear_on_read():
    with PoolLimits() as lim:
        lim.exhaust()
        d = open_eth(rx_ring=4)                        # no block posted: every descriptor the host's
        try:
            for i in range(3):
                d.inject(seq_frame(i))
                d.model_run()                          # into the FIFO: suspended, RBUS
                assert d.model_reg(DMASR) & RBUS
                d.model_reg(DMARPDR, 0)                # a poll demand, still nothing owned
                d.model_run()
            v = d.model_reg(DMAMFBOCR)
            assert v & 0xFFFF == 3, hex(v)
            assert d.model_reg(DMAMFBOCR) & 0xFFFF == 0
            assert d.model_stats()["rx_missed"] == 3
        finally:
            d.close()
    closed_baseline()


def test_model_mdio_busy_then_data():
    d = open_eth(rx_ring=4)
    try:
        for pa, want in ((0, 0x0007), (1, 0xFFFF)):    # the LAN8742A's ID1; nobody at 1
            d.model_reg(MACMIIAR, (pa << 11) | (2 << 6) | (4 << 2) | 1)
            assert d.model_reg(MACMIIAR) & 1           # MB: busy
            assert not (d.model_reg(MACMIIAR) & 1)     # done
            assert d.model_reg(MACMIIDR) == want
    finally:
        d.close()
    closed_baseline()


def test_dma_stopped_behind_the_driver_recovered():
    # A reset or a glitch (STM32CubeF4#159: TPSS/RPSS after REF_CLK
    # interference) stops the DMA while frames are in flight: the driver
    # finds it stopped with work, resets and re-initialises, nothing leaks.
    for glitch in ("omr", "reset"):
        d = open_eth(rx_ring=4, tx_ring=4)
        try:
            s0 = d.stats()
            fr = seq_frame(1)
            assert d.tx(1, [fr, 0, len(fr)], 1) == 0
            if glitch == "omr":
                d.model_reg(DMAOMR, d.model_reg(DMAOMR) & ~(OMR_SR | OMR_ST))
            else:
                d.model_reg(DMABMR, 1)                 # a soft reset the driver did not ask for
                for _ in range(3):
                    d.model_reg(DMABMR)
            assert reap_all(d, 1) == [1]               # completed, as an error
            ds = delta(s0, d.stats())
            assert ds["dma_stuck"] == 1 and ds["resets"] == 1 and ds["tx_errors"] == 1, ds
            assert take_all(d) == []
            fr = seq_frame(2)
            assert d.tx(1, [fr, 0, len(fr)], 2) == 0
            assert reap_all(d, 1) == [2] and take_all(d) == [fr]
            d.inject(seq_frame(3))
            assert [seq_of(f) for f, _ in rx_all(d, 1)] == [3]
            assert zcpool.held(zcpool.H_RXPOST) == 4 and at_baseline()
        finally:
            d.close()
        closed_baseline()


def test_per_frame_path_allocates_nothing():
    import gc
    for mode in MODES[:2]:
        d = open_eth(rx_ring=8, tx_ring=8, cache="maint", **mode)
        try:
            rxf = seq_frame(1, 600)
            txf = seq_frame(2, 600)
            hb = zcpool.alloc_hdr(zcpool.H_TX)
            zcpool.block(hb)[0:42] = txf[:42]
            g = [hb, 0, 42, txf, 42, len(txf) - 42]
            out = array.array("i", [0] * 24)
            cout = array.array("i", [0] * 8)
            s0 = d.stats()
            n = 0
            gc.collect()
            a0 = gc.mem_alloc()
            while n < 300:
                d.inject(rxf)
                k = d.rx_poll(8, out)
                j = 0
                while j < k:
                    zcpool.free(out[3 * j])
                    j += 1
                d.tx(2, g, n)
                d.tx_reap(cout)
                d.take(TAKE)
                n += 1
            a1 = gc.mem_alloc()
            assert a1 - a0 == 0, "%d bytes allocated over 300 frames each way" % (a1 - a0)
            ds = delta(s0, d.stats())
            assert ds["rx_frames"] == 300 and ds["tx_frames"] == 300, ds
            zcpool.free(hb)
        finally:
            d.close()
        closed_baseline()


def test_missed_tx_wakeup_resumed():
    # The doorbell is lost (it came while the DMA was fetching, before OWN
    # was visible): the TX process stays suspended with our frame owned.
    # The next service sees TPS suspended with work and rings again.
    d = open_eth(tx_ring=4)
    try:
        s0 = d.stats()
        d.lose_tx_demands(1)
        fr = seq_frame(9)
        assert d.tx(1, [fr, 0, len(fr)], 9) == 0
        out = array.array("i", [0] * 4)
        assert d.tx_reap(out) == 0 and take_all(d) == []     # not sent: nobody woke the DMA
        assert delta(s0, d.stats())["tbus_resume"] == 1
        assert reap_all(d, 1) == [9] and take_all(d) == [fr]
        ds = delta(s0, d.stats())
        assert ds["tbus_resume"] == 1 and ds["tx_frames"] == 1 and ds.get("tx_errors", 0) == 0, ds
        assert ds.get("resets", 0) == 0
    finally:
        d.close()
    closed_baseline()


def _main():
    g = globals()
    names = [n for n in g if n.startswith("test_")]
    failed = 0
    for n in names:
        try:
            g[n]()
            print("PASS", n)
        except Exception as e:
            failed += 1
            print("FAIL %s: %r" % (n, e))
            sys.print_exception(e)
    print("%d failed of %d" % (failed, len(names)))


if __name__ == "__main__":
    _main()
