# Runs ON the firmware: test_firmware.py sends this file through the raw REPL
# once per boot, then calls its functions; each result comes back as one
# "@@<json>" line (_out). Only the frozen stack and the firmware's modules are
# used. Frames travel as hex: the host builds and checks them (frames.py).
import binascii
import gc
import json
import sys

import zcpool
from stack import checksum, pbuf, seq, wire
from stack.core import Stack
from stack.memif import Memif
from stack.pool import at_baseline, pool

US_MAC = b"\x02\x00\x00\x00\x00\x02"


def _out(v):
    print("@@" + json.dumps(v))


def info():
    gc.collect()
    return {"machine": sys.implementation._machine, "platform": sys.platform,
            "same_pool": pool is zcpool,
            "nblocks": pool.NBLOCKS, "hnblocks": pool.HNBLOCKS,
            "block_size": pool.BLOCK_SIZE, "hdr_size": pool.HDR_SIZE,
            "nfree": pool.nfree(), "hnfree": pool.hnfree(), "baseline": at_baseline(),
            "heap_free": gc.mem_free(), "heap_alloc": gc.mem_alloc(),
            "block0": zcpool_addr(0), "hblock0": zcpool_addr(pool.NBLOCKS),
            "sctlr": _sctlr()}


def _sctlr():
    try:
        import zcboard          # VERSATILEPB's board module
    except ImportError:
        return None
    return zcboard.sctlr()


def zcpool_addr(i):
    import uctypes
    return uctypes.addressof(pool.block(i))


def pool_pbufs():
    """The pool and pbufs on the board: allocation, references, header
    blocks, a POOL+header+ROM chain, gather entries, a stale handle,
    exhaustion to the quota/reserve, a double free. Returns what it saw."""
    r = {}
    st0 = pool.stats()
    r["start"] = [pool.nfree(), pool.hnfree(), at_baseline()]
    payload = bytes((i * 7 + 3) & 0xFF for i in range(100))
    hdrb = bytes(range(20))
    tail = b"a ROM tail, by reference"
    c0 = pbuf.copied()
    p = pbuf.alloc(pool.H_APP, 100, 64)
    pbuf.copy_in(p, 0, payload, 0, 100)
    h = pbuf.hdr(pool.H_TX, 20)
    pbuf.copy_in(h, 0, hdrb, 0, 20)
    t = pbuf.rom(tail)
    r["blocks"] = [p.blk, h.blk, t.blk, pool.is_hdr(p.blk), pool.is_hdr(h.blk)]
    r["held"] = [pool.held(pool.H_APP), pool.hheld(pool.H_TX)]
    pbuf.cat(h, p)
    pbuf.cat(h, t)
    r["tot"] = h.tot
    r["clen"] = pbuf.clen(h)
    r["bytes"] = binascii.hexlify(pbuf.to_bytes(h)).decode()
    r["push14"] = pbuf.header(h, 14)
    r["push_too_much"] = pbuf.header(h, pool.HDR_SIZE)
    r["tot_pushed"] = h.tot
    table = [None] * (3 * 4)
    n = pbuf.gather(h, table)
    r["gather"] = [n, table[0], table[1], table[2], table[3], table[4], table[5],
                   table[6] is tail, table[7], table[8]]
    r["copied"] = pbuf.copied() - c0
    r["mid"] = [pool.nfree(), pool.hnfree(), at_baseline()]
    r["freed"] = pbuf.free(h)
    try:
        pbuf.free(h)
        r["stale"] = "no error"
    except ValueError:
        r["stale"] = "ValueError"
    r["after_free"] = [pool.nfree(), pool.hnfree(), at_baseline()]
    # exhaustion: H_APP takes frame blocks until its quota or the RX reserve stops it
    got = []
    while len(got) <= pool.NBLOCKS:
        i = pool.alloc(pool.H_APP)
        if i < 0:
            break
        got.append(i)
    r["exhaust"] = [len(got), st0["quota"][pool.H_APP], st0["reserve"], len(set(got))]
    for i in got:
        pool.free(i)
    hgot = []
    while len(hgot) <= pool.HNBLOCKS:
        i = pool.alloc_hdr(pool.H_APP)
        if i < 0:
            break
        hgot.append(i)
    r["hexhaust"] = [len(hgot), st0["hdr_quota"][pool.H_APP], min(hgot), max(hgot)]
    for i in hgot:
        pool.free(i)
    # a double free is refused (ValueError) and counted, never a silent free
    i = pool.alloc(pool.H_APP)
    f1 = pool.free(i)
    bad0 = pool.stats()["bad_free"]
    try:
        pool.free(i)
        f2 = "no error"
    except ValueError:
        f2 = "ValueError"
    r["double_free"] = [f1, f2, pool.stats()["bad_free"] - bad0, pool.refcnt(i)]
    r["end"] = [pool.nfree(), pool.hnfree(), at_baseline()]
    return r


def _lcg(x):
    return (x * 1103515245 + 12345) & 0x3FFFFFFF


def viper_vs_plain(seed, rounds):
    """Every Viper kernel of the stack against its plain twin on the board's
    native emitter: checksum sums, wire byte moves/compares, the 32-bit
    sequence-number helpers (edge values around 0, 2^29, 2^30, 2^31, 2^32).
    Returns the number of comparisons and the first mismatches."""
    bad = []
    checks = 0
    x = seed
    buf = bytearray(1600)
    for i in range(1600):
        x = _lcg(x)
        buf[i] = x >> 22
    for _ in range(rounds):
        x = _lcg(x)
        off = x % 61
        x = _lcg(x)
        n = x % 1520
        x = _lcg(x)
        acc = x & 0xFFFF
        a = checksum.sum_viper(buf, off, n, acc)
        b = checksum.sum_plain(buf, off, n, acc)
        checks += 1
        if a != b and len(bad) < 8:
            bad.append(["sum", off, n, acc, a, b])
    # wire: same / copy_field / put_bytes
    for _ in range(rounds):
        x = _lcg(x)
        n = x % 40
        x = _lcg(x)
        so = x % 100
        d1 = bytearray(160)
        d2 = bytearray(160)
        wire.copy_field_viper(d1, 3, buf, so, n)
        wire.copy_field_plain(d2, 3, buf, so, n)
        s1 = wire.same_viper(d1, 3, buf, so, n)
        s2 = wire.same_plain(d2, 3, buf, so, n)
        d1[3 + n // 2] ^= 1 if n else 0
        s3 = wire.same_viper(d1, 3, buf, so, n)
        s4 = wire.same_plain(d1, 3, buf, so, n)
        src = bytes(buf[so:so + n])
        wire.put_bytes_viper(d1, 100, src)
        wire.put_bytes_plain(d2, 100, src)
        checks += 4
        if (d1[100:100 + n] != d2[100:100 + n] or s1 != s2 or s3 != s4 or not s1) and len(bad) < 8:
            bad.append(["wire", so, n, s1, s2, s3, s4])
    # seq: 32-bit values as 4-byte big-endian buffers
    edges = [0, 1, 2, 0x1FFFFFFF, 0x20000000, 0x3FFFFFFF, 0x40000000, 0x40000001,
             0x7FFFFFFF, 0x80000000, 0x80000001, 0xBFFFFFFF, 0xC0000000, 0xDFFFFFFF,
             0xE0000000, 0xFFFFFFFE, 0xFFFFFFFF]
    vals = [v.to_bytes(4, "big") for v in edges]
    for _ in range(rounds // 4):
        x = _lcg(x)
        y = _lcg(x)
        vals.append(bytes([x >> 22, (x >> 14) & 0xFF, y >> 22, (y >> 6) & 0xFF]))
        x = y
    pairs = [("lt", seq.seq_lt_viper, seq.seq_lt_plain), ("le", seq.seq_le_viper, seq.seq_le_plain),
             ("gt", seq.seq_gt_viper, seq.seq_gt_plain), ("ge", seq.seq_ge_viper, seq.seq_ge_plain),
             ("diff", seq.seq_diff_viper, seq.seq_diff_plain)]
    for a in vals:
        for b in vals:
            for name, fv, fp in pairs:
                rv = fv(a, 0, b, 0)
                rp = fp(a, 0, b, 0)
                checks += 1
                if rv != rp and len(bad) < 8:
                    bad.append(["seq_" + name, binascii.hexlify(a).decode(),
                                binascii.hexlify(b).decode(), rv, rp])
    deltas = [0, 1, -1, 1460, -1460, 65535, 0x1FFFFFFF, -0x1FFFFFFF]
    sizes = [0, 1, 1460, 65535, 1 << 20, 0x3FFFFFFF]
    for a in vals:
        for dl in deltas:
            o1 = bytearray(4)
            o2 = bytearray(4)
            seq.seq_add_viper(o1, 0, a, 0, dl)
            seq.seq_add_plain(o2, 0, a, 0, dl)
            checks += 1
            if o1 != o2 and len(bad) < 8:
                bad.append(["seq_add", binascii.hexlify(a).decode(), dl,
                            binascii.hexlify(o1).decode(), binascii.hexlify(o2).decode()])
        for lft in vals[:9]:
            for sz in sizes:
                rv = seq.seq_in_window_viper(a, 0, lft, 0, sz)
                rp = seq.seq_in_window_plain(a, 0, lft, 0, sz)
                checks += 1
                if rv != rp and len(bad) < 8:
                    bad.append(["seq_in_window", binascii.hexlify(a).decode(),
                                binascii.hexlify(lft).decode(), sz, rv, rp])
            for rgt in vals[::3]:
                rv = seq.seq_between_viper(a, 0, lft, 0, rgt, 0)
                rp = seq.seq_between_plain(a, 0, lft, 0, rgt, 0)
                checks += 1
                if rv != rp and len(bad) < 8:
                    bad.append(["seq_between", binascii.hexlify(a).decode(),
                                binascii.hexlify(lft).decode(), binascii.hexlify(rgt).decode(), rv, rp])
    return {"checks": checks, "bad": bad}


def inet(hexdata, off):
    """The stack's finished Internet checksum of the given bytes (Viper)."""
    b = binascii.unhexlify(hexdata)
    return checksum.inet(b, off, len(b) - off)


class Net:
    """The whole stack on the in-memory driver (stack/memif.py), the clock
    driven by the host: a UDP echo on 7 and TCP echo on 7."""

    def __init__(self, ip="198.51.100.2"):
        from stack import services
        gc.collect()
        h0 = gc.mem_alloc()
        self.drv = Memif(wire_queue=64, tx_ring=32)
        self.st = Stack(self.drv, US_MAC, ip, 24, now_ms=0)
        self.st.udp.bind_echo(7)
        services.echo(self.st.tcp, 7)
        self.t = 0
        gc.collect()
        self.heap = gc.mem_alloc() - h0     # what a Stack with its driver takes

    def io(self, hexframes, dt=1):
        """Put frames on the wire, advance the clock by dt ms, poll until the
        wire is empty; the frames the stack sent and where it stands."""
        for h in hexframes:
            if not self.drv.inject(binascii.unhexlify(h)):
                raise RuntimeError("memif wire queue full")
        self.t += dt
        self.st.poll(self.t)
        for _ in range(64):
            if not self.drv.pending_rx():
                break
            self.st.poll(self.t)
        sent = [binascii.hexlify(f).decode() for f in self.drv.take_sent()]
        return {"sent": sent, "state": self.state()}

    def state(self):
        gc.collect()
        return {"heap_alloc": gc.mem_alloc(), "stack_heap": self.heap,"counters": dict(self.st.ctr), "baseline": at_baseline(),
                "copied": pbuf.copied(), "nfree": pool.nfree(), "hnfree": pool.hnfree(),
                "rxpost": pool.held(pool.H_RXPOST), "tcp": self.st.tcp_summary()}

    def close(self):
        self.st.shutdown()
        return {"nfree": pool.nfree(), "hnfree": pool.hnfree(), "baseline": at_baseline(),
                "driver": self.st.drv_stats}


# ---- the unit modules of host_tests/unit, run on the board ---------------------
# The board has no file system for them: the host sends each source, which
# becomes a module object in sys.modules (support.py and frames.py first, as
# the test modules import them), then runs its tests one by one.
class _Mod:
    def __init__(self, g):
        self._g = g

    def __getattr__(self, k):
        try:
            return self._g[k]
        except KeyError:
            raise AttributeError(k)


def load_module(name, src):
    g = {"__name__": name, "__file__": "host_tests/unit/%s.py" % name}
    exec(src, g)
    sys.modules[name] = _Mod(g)
    gc.collect()
    return name


class _NoSkip(Exception):
    """Stands for support.SkipTest when the module does not use support."""


def run_tests(name, names):
    """Each test of module `name` in order: [test, "ok"|"skip"|"fail", text]."""
    import io
    g = sys.modules[name]._g
    sup = sys.modules.get("support")
    skip = sup._g["SkipTest"] if sup is not None else _NoSkip
    out = []
    for k in names:
        gc.collect()
        try:
            g[k]()
            out.append([k, "ok", ""])
        except skip as e:
            out.append([k, "skip", str(e)])
        except Exception as e:  # noqa: BLE001  (reported to the host)
            s = io.StringIO()
            sys.print_exception(e, s)
            out.append([k, "fail", s.getvalue()])
    del sys.modules[name]
    gc.collect()
    return out


def drivers():
    """The MAC driver modules compiled into this image, as a board build
    sees them (no behavioural model)."""
    out = {}
    for name, cls in (("stm32_eth", "ETH"), ("c6747_emac", "EMAC")):
        try:
            m = __import__(name)
        except ImportError:
            continue
        out[name] = {"max_seg": m.MAX_SEG, "cls": type(getattr(m, cls)) is type,
                     "model": getattr(m, "MODEL", None)}
    return out
