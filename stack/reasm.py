# IPv4 reassembly (RFC 791, with RFC 5722's rule carried over to IPv4: a
# fragment that overlaps held bytes with *different* data discards the whole
# datagram). Fragments stay in their RX blocks, charged to the REASM holder
# (its quota bounds what a flood can take); the finished datagram is the
# first fragment's block with the others chained behind it: no copy.
#
# Datagram records are made once (REASM_MAX_DATAGRAMS of them) and reused, so
# a fragment allocates nothing. When a new datagram needs a record or blocks
# and there are none, the oldest incomplete datagram is evicted (counted), so
# a flood of fragments that never complete cannot shut a later datagram out.
from array import array

from micropython import const

from . import config, pbuf
from .checksum import inet
from .pool import pool
from .wire import be16, put16, same, ticks_add, ticks_diff

MF = const(0x2000)
OFFMASK = const(0x1FFF)


class _Dgram:
    """One datagram under reassembly: its key (src, dst, id, proto), its
    fragments sorted by offset as parallel arrays, and what is known of it."""

    def __init__(self, nfrag):
        self.used = False
        self.key = bytearray(8)             # source and destination address
        self.ident = 0
        self.proto = 0
        self.born = 0                       # arrival order, for eviction
        self.deadline = 0                   # ticks
        self.n = 0                          # fragments held
        self.start = array("i", [0] * nfrag)
        self.end = array("i", [0] * nfrag)
        self.frag = [None] * nfrag
        self.total = -1                     # payload length once the last fragment came
        self.first = 0                      # header length of the offset-0 fragment, once held


class Reasm:
    def __init__(self, stack):
        self.st = stack
        self.ctr = stack.ctr
        # a datagram can never hold more fragments than the block quota allows
        nfrag = config.QUOTA_REASM_BLOCKS
        if nfrag < 1:
            nfrag = 1
        self.nfrag = nfrag
        self.dgrams = [_Dgram(nfrag) for _ in range(config.REASM_MAX_DATAGRAMS)]
        self.born = 0

    def active(self):
        """Datagrams under reassembly now."""
        n = 0
        for d in self.dgrams:
            if d.used:
                n += 1
        return n

    def _find(self, b, o):
        ident = be16(b, o + 4)
        proto = b[o + 9]
        for d in self.dgrams:
            if d.used and d.ident == ident and d.proto == proto and same(b, o + 12, d.key, 0, 8):
                return d
        return None

    def _oldest(self, but):
        victim = None
        for d in self.dgrams:
            if d.used and d is not but and (victim is None or ticks_diff(d.born, victim.born) < 0):
                victim = d
        return victim

    def _evict(self, but):
        """Discard the oldest incomplete datagram other than `but`; False when
        there is none."""
        v = self._oldest(but)
        if v is None:
            return False
        self.ctr["reasm_evicted"] += 1
        self._drop(v)
        return True

    def _new(self, b, o):
        d = None
        for x in self.dgrams:
            if not x.used:
                d = x
                break
        if d is None:
            self._evict(None)
            for x in self.dgrams:
                if not x.used:
                    d = x
                    break
        key = d.key
        for i in range(8):
            key[i] = b[o + 12 + i]
        d.ident = be16(b, o + 4)
        d.proto = b[o + 9]
        d.used = True
        self.born = ticks_add(self.born, 1)
        d.born = self.born
        d.deadline = ticks_add(self.st.now, config.REASM_TIMEOUT_MS)
        d.n = 0
        d.total = -1
        d.first = 0
        return d

    def input(self, p, hl, tl, frag):
        """Take one fragment (p starts at its IP header, whose fields the
        caller has validated). Returns the whole datagram as a chain (IP
        header first) when this fragment completed it, else None. Always
        consumes p."""
        ctr = self.ctr
        b = p.buf
        o = p.off
        start = (frag & OFFMASK) << 3
        n = tl - hl
        end = start + n
        more = frag & MF
        if end + hl > 65535:
            ctr["reasm_too_big"] += 1
            pbuf.free(p)
            return None
        if more and (n & 7 or n == 0):
            ctr["reasm_bad_length"] += 1
            pbuf.free(p)
            return None
        d = self._find(b, o)
        fresh = d is None
        if fresh:
            d = self._new(b, o)
        total = d.total
        if (not more and total >= 0 and end != total) or (total >= 0 and end > total) \
                or (not more and d.n and d.end[d.n - 1] > end):
            # two different ends, or data past the end: the datagram is bad
            ctr["reasm_bad_length"] += 1
            pbuf.free(p)
            self._drop(d)
            return None
        # compare with what is held: identical overlap is trimmed, different
        # overlap discards the datagram
        data_off = o + hl
        covered = 0
        starts = d.start
        ends = d.end
        frags = d.frag
        for k in range(d.n):
            s2 = starts[k]
            e2 = ends[k]
            lo = start if start > s2 else s2
            hi = end if end < e2 else e2
            if lo >= hi:
                continue
            q = frags[k]
            qd = q.off + (d.first if s2 == 0 else 0)   # the first one carries its IP header
            if not same(b, data_off + lo - start, q.buf, qd + lo - s2, hi - lo):
                ctr["reasm_overlap"] += 1
                pbuf.free(p)
                self._drop(d)
                return None
            covered += hi - lo
        if covered == n and n > 0 and not (start == 0 and d.first == 0):
            ctr["reasm_duplicate"] += 1
            pbuf.free(p)
            return None
        if not pbuf.charge(p, pool.H_REASM):
            # a new datagram may take the blocks of the oldest other one
            ok = False
            while fresh and self._evict(d):
                if pbuf.charge(p, pool.H_REASM):
                    ok = True
                    break
            if not ok:
                ctr["reasm_no_buffer"] += 1
                pbuf.free(p)
                if d.n == 0 and d.total < 0:
                    self._drop(d)   # an empty record would hold a slot until it timed out
                return None
        # drop held fragments the new one covers whole; trim it against the rest
        k = 0
        while k < d.n:
            if starts[k] >= start and ends[k] <= end and not (starts[k] == 0 and start != 0):
                pbuf.free(frags[k])
                self._remove(d, k)
            else:
                k += 1
        s = start
        e = end
        for k in range(d.n):
            if starts[k] < s < ends[k]:
                s = ends[k]
            if starts[k] < e < ends[k]:
                e = starts[k]
        if (e > s or start == 0) and d.n == self.nfrag:
            ctr["reasm_no_buffer"] += 1     # more pieces than a datagram may hold
            pbuf.free(p)
            self._drop(d)
            return None
        ctr["reasm_fragments"] += 1
        if start == 0:
            d.first = hl
            # the first fragment keeps its IP header in front of its data
            pbuf.header(p, -(s - start))
            p.len = hl + (e - s) if s == 0 else e - s
        else:
            pbuf.header(p, -(hl + s - start))
            p.len = e - s
        p.tot = p.len
        if e > s or start == 0:
            self._insert(d, s, e, p)
        else:
            pbuf.free(p)
        if not more:
            d.total = end
        return self._complete(d)

    def _insert(self, d, s, e, p):
        k = d.n
        starts = d.start
        ends = d.end
        frags = d.frag
        while k > 0 and starts[k - 1] > s:
            starts[k] = starts[k - 1]
            ends[k] = ends[k - 1]
            frags[k] = frags[k - 1]
            k -= 1
        starts[k] = s
        ends[k] = e
        frags[k] = p
        d.n += 1

    def _remove(self, d, k):
        n = d.n - 1
        starts = d.start
        ends = d.end
        frags = d.frag
        while k < n:
            starts[k] = starts[k + 1]
            ends[k] = ends[k + 1]
            frags[k] = frags[k + 1]
            k += 1
        frags[n] = None
        d.n = n

    def _complete(self, d):
        total = d.total
        if total < 0 or not d.first:
            return None
        at = 0
        for k in range(d.n):
            if d.start[k] > at:
                return None
            if d.end[k] > at:
                at = d.end[k]
        if at < total:
            return None
        hl = d.first
        if hl + total > 65535:
            # each fragment fitted with its own header, not with the first's
            self.ctr["reasm_too_big"] += 1
            self._drop(d)
            return None
        frags = d.frag
        head = frags[0]
        for k in range(1, d.n):
            pbuf.cat(head, frags[k])
            frags[k] = None
        frags[0] = None
        d.n = 0
        d.used = False
        # the header is rewritten: the one write guard (a clone if shared)
        head = pbuf.writable_or_clone(head, hl, pool.H_RX)
        if head is None:
            self.ctr["reasm_no_buffer"] += 1
            return None
        b = head.buf
        o = head.off
        put16(b, o + 2, hl + total)
        put16(b, o + 6, 0)
        put16(b, o + 10, 0)
        put16(b, o + 10, inet(b, o, hl))
        # the datagram goes on as input-path blocks
        pbuf.charge(head, pool.H_RX)
        self.ctr["reasm_ok"] += 1
        return head

    def _drop(self, d):
        frags = d.frag
        for k in range(d.n):
            pbuf.free(frags[k])
            frags[k] = None
        d.n = 0
        d.used = False

    def tick(self, now):
        """Discard datagrams whose timer ran out; the first fragment, if held,
        earns the sender an ICMP time exceeded (RFC 792, RFC 1122 3.2.1.4).
        Returns True while datagrams are held."""
        busy = False
        for d in self.dgrams:
            if not d.used:
                continue
            if ticks_diff(now, d.deadline) >= 0:
                self.ctr["reasm_timeout"] += 1
                if d.n and d.start[0] == 0 and d.first:
                    self.st.icmp.time_exceeded_reasm(d.frag[0])
                self._drop(d)
            else:
                busy = True
        return busy

    def flush(self):
        for d in self.dgrams:
            if d.used:
                self._drop(d)
