# IPv4 reassembly (RFC 791, with RFC 5722's rule carried over to IPv4: a
# fragment that overlaps held bytes with *different* data discards the whole
# datagram). Fragments stay in their RX blocks, charged to the REASM holder
# (its quota bounds what a flood can take); the finished datagram is the
# first fragment's block with the others chained behind it: no copy.
from micropython import const

from . import config, pbuf
from .checksum import inet
from .pool import pool
from .wire import be16, put16, same

MF = const(0x2000)
OFFMASK = const(0x1FFF)

# datagram record fields
D_KEY = const(0)       # (src+dst bytes, id, proto)
D_DEADLINE = const(1)
D_FRAGS = const(2)     # sorted list of [start, end, pbuf]
D_TOTAL = const(3)     # payload length once the last fragment came, else -1
D_FIRST = const(4)     # header length of the offset-0 fragment, 0 until it came


class Reasm:
    def __init__(self, stack):
        self.st = stack
        self.ctr = stack.ctr
        self.dgrams = []

    def input(self, p, hl, tl, frag):
        """Take one fragment (p starts at its IP header). Returns the whole
        datagram as a chain (IP header first) when this fragment completed it,
        else None. Always consumes p."""
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
        if (more and (n & 7 or n == 0)):
            ctr["reasm_bad_length"] += 1
            pbuf.free(p)
            return None
        key = (bytes(b[o + 12:o + 20]), be16(b, o + 4), b[o + 9])
        d = None
        for x in self.dgrams:
            if x[D_KEY] == key:
                d = x
                break
        if d is None:
            if len(self.dgrams) >= config.REASM_MAX_DATAGRAMS:
                ctr["reasm_too_many"] += 1
                pbuf.free(p)
                return None
            d = [key, self.st.now + config.REASM_TIMEOUT_MS, [], -1, 0]
            self.dgrams.append(d)
        total = d[D_TOTAL]
        if (not more and total >= 0 and end != total) or (total >= 0 and end > total) \
                or (not more and any(f[1] > end for f in d[D_FRAGS])):
            # two different ends, or data past the end: the datagram is bad
            ctr["reasm_bad_length"] += 1
            pbuf.free(p)
            self._drop(d)
            return None
        # compare with what is held: identical overlap is trimmed, different
        # overlap discards the datagram
        frags = d[D_FRAGS]
        data_off = o + hl
        covered = 0
        for f in frags:
            s2 = f[0]
            e2 = f[1]
            lo = start if start > s2 else s2
            hi = end if end < e2 else e2
            if lo >= hi:
                continue
            q = f[2]
            qd = q.off + (d[D_FIRST] if s2 == 0 else 0)   # the first one carries its IP header
            if not same(b, data_off + lo - start, q.buf, qd + lo - s2, hi - lo):
                ctr["reasm_overlap"] += 1
                pbuf.free(p)
                self._drop(d)
                return None
            covered += hi - lo
        if covered == n and n > 0 and not (start == 0 and d[D_FIRST] == 0):
            ctr["reasm_duplicate"] += 1
            pbuf.free(p)
            return None
        if not pbuf.charge(p, pool.H_REASM):
            ctr["reasm_no_buffer"] += 1
            pbuf.free(p)
            if not frags and d[D_TOTAL] < 0:
                self.dgrams.remove(d)   # an empty record would hold a slot until it timed out
            return None
        ctr["reasm_fragments"] += 1
        # drop held fragments the new one covers whole; trim it against the rest
        keep = []
        for f in frags:
            if f[0] >= start and f[1] <= end and not (f[0] == 0 and start != 0):
                pbuf.free(f[2])
                continue
            keep.append(f)
        frags = keep
        s = start
        e = end
        for f in frags:
            if f[0] < s < f[1]:
                s = f[1]
            if f[0] < e < f[1]:
                e = f[0]
        if start == 0:
            d[D_FIRST] = hl
            # the first fragment keeps its IP header in front of its data
            pbuf.header(p, -(s - start))
            p.len = hl + (e - s) if s == 0 else e - s
        else:
            pbuf.header(p, -(hl + s - start))
            p.len = e - s
        p.tot = p.len
        if e > s or start == 0:
            frags.append([s, e, p])
            frags.sort(key=lambda f: f[0])
        else:
            pbuf.free(p)
        d[D_FRAGS] = frags
        if not more:
            d[D_TOTAL] = end
        return self._complete(d)

    def _complete(self, d):
        total = d[D_TOTAL]
        if total < 0 or not d[D_FIRST]:
            return None
        at = 0
        for f in d[D_FRAGS]:
            if f[0] > at:
                return None
            if f[1] > at:
                at = f[1]
        if at < total:
            return None
        if d[D_FIRST] + total > 65535:
            # each fragment fitted with its own header, not with the first's
            self.ctr["reasm_too_big"] += 1
            self._drop(d)
            return None
        self.dgrams.remove(d)
        frags = d[D_FRAGS]
        head = frags[0][2]
        for f in frags[1:]:
            pbuf.cat(head, f[2])
        hl = d[D_FIRST]
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
        for f in d[D_FRAGS]:
            pbuf.free(f[2])
        d[D_FRAGS] = []
        if d in self.dgrams:
            self.dgrams.remove(d)

    def tick(self, now):
        """Discard datagrams whose timer ran out; the first fragment, if held,
        earns the sender an ICMP time exceeded (RFC 792, RFC 1122 3.2.1.4)."""
        for d in list(self.dgrams):
            if now >= d[D_DEADLINE]:
                self.ctr["reasm_timeout"] += 1
                frags = d[D_FRAGS]
                if frags and frags[0][0] == 0 and d[D_FIRST]:
                    self.st.icmp.time_exceeded_reasm(frags[0][2])
                self._drop(d)
        return len(self.dgrams) > 0

    def flush(self):
        for d in list(self.dgrams):
            self._drop(d)

