# ARP (RFC 826) for one Ethernet interface, as a host:
# - a bounded cache with ageing; entries are made only for a sender that asked
#   us something or answered a request of ours (never by an unsolicited reply);
# - per destination, a bounded queue of packets waiting for resolution, at
#   most one request per ARP_REQUEST_INTERVAL_MS, and after ARP_MAX_REQUESTS
#   unanswered requests the entry is given up and its queue freed;
# - a gratuitous announcement when the interface comes up.
from micropython import const

from . import config, pbuf
from .ipv4 import count_tx
from .pool import pool
from .wire import (BCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ZERO_MAC, be16, copy_field, put16,
                   put_bytes, same, ticks_add, ticks_diff)

ARP_LEN = const(28)
OP_REQUEST = const(1)
OP_REPLY = const(2)

# cache entry fields (a small list per destination)
E_IP = const(0)       # bytes(4): the address (the dict key holds only its low 29 bits)
E_MAC = const(1)      # bytes(6), or None while pending
E_EXPIRES = const(2)  # ticks: resolved entries age out then
E_LAST_REQ = const(3) # ticks: when we last asked
E_NREQ = const(4)     # requests sent since it went pending
E_QUEUE = const(5)    # waiting IPv4 datagrams: pbuf, TX tag, pbuf, TX tag, ...


def _key(hi, lo):
    """The cache key of address hi:lo: its low 29 bits, a small int on every
    port. Two addresses that differ only in their top 3 bits share a key;
    the stored address (E_IP) tells them apart."""
    return ((hi & 0x1FFF) << 16) | lo


class Arp:
    def __init__(self, stack):
        self.st = stack
        self.ctr = stack.ctr
        self.cache = {}
        # destinations whose entry went away less than a request interval
        # after we asked: key -> when (a new entry waits out the interval)
        self.asked = {}
        self._dst_mac = bytearray(6)

    # --- input ----------------------------------------------------------------
    def input(self, p, bcast):
        ctr = self.ctr
        st = self.st
        b = p.buf
        o = p.off
        if p.tot < ARP_LEN or p.len < ARP_LEN:
            ctr["arp_truncated"] += 1
            pbuf.free(p)
            return
        if be16(b, o) != 1 or be16(b, o + 2) != ETHERTYPE_IPV4 or b[o + 4] != 6 or b[o + 5] != 4:
            ctr["arp_bad_format"] += 1
            pbuf.free(p)
            return
        op = be16(b, o + 6)
        if op != OP_REQUEST and op != OP_REPLY:
            ctr["arp_bad_op"] += 1
            pbuf.free(p)
            return
        sh = be16(b, o + 14)
        sl = be16(b, o + 16)
        me_h = st.ip_hi
        me_l = st.ip_lo
        spa = sh or sl
        if b[o + 8] & 1 or (sh == me_h and sl == me_l) or (spa and st.ip.martian16(sh, sl)):
            # group MAC as sender, someone claiming our address, or a martian
            ctr["arp_bad_sender"] += 1
            pbuf.free(p)
            return
        now = st.now
        e = self._find(sh, sl, b, o + 14) if spa else None
        if e is not None:
            # RFC 826 merge: a known sender refreshes its entry.
            self._resolve(e, b, o + 8, now)
        if op == OP_REQUEST:
            if be16(b, o + 24) != me_h or be16(b, o + 26) != me_l or not (me_h or me_l):
                ctr["arp_not_for_us"] += 1
                pbuf.free(p)
                return
            ctr["arp_request_rx"] += 1
            if e is None and spa:
                e = self._entry(bytes(b[o + 14:o + 18]), now)
                if e is not None:
                    self._resolve(e, b, o + 8, now)
            self._reply(p)      # answers from the request's own block
            return
        # a reply
        if e is None:
            ctr["arp_unsolicited"] += 1
        else:
            ctr["arp_reply_rx"] += 1
        pbuf.free(p)

    def _resolve(self, e, b, o, now):
        mac = e[E_MAC]
        if mac is None or not same(mac, 0, b, o, 6):
            e[E_MAC] = bytes(b[o:o + 6])
        e[E_EXPIRES] = ticks_add(now, config.ARP_ENTRY_TTL_MS)
        e[E_NREQ] = 0
        q = e[E_QUEUE]
        if q:
            e[E_QUEUE] = []
            ctr = self.ctr
            out = self.st.netif.output
            for i in range(0, len(q), 2):
                d = q[i]
                # leaving the ARP queue: its quota is for parked packets only
                if not pbuf.charge(d, pool.H_TX):
                    ctr["arp_release_no_quota"] += 1
                    pbuf.free(d)
                    continue
                if out(d, e[E_MAC], ETHERTYPE_IPV4):
                    count_tx(ctr, q[i + 1])

    def _reply(self, p):
        """Turn the request in p into our reply, in place when we own the block."""
        st = self.st
        p = pbuf.writable_or_clone(p, ARP_LEN, pool.H_TX)
        if p is None:
            self.ctr["arp_tx_no_buffer"] += 1
            return
        b = p.buf
        o = p.off
        pbuf.trim(p, ARP_LEN)
        # target := sender, sender := us
        for i in range(10):
            b[o + 18 + i] = b[o + 8 + i]
        put16(b, o + 6, OP_REPLY)
        put_bytes(b, o + 8, st.netif.mac)
        copy_field(b, o + 14, st.ip_addr, 0, 4)
        dst = self._dst_mac
        copy_field(dst, 0, b, o + 18, 6)
        if st.netif.output(p, dst, ETHERTYPE_ARP):
            self.ctr["arp_reply_tx"] += 1

    # --- cache ------------------------------------------------------------------
    def _find(self, hi, lo, a, o):
        """The entry of the address hi:lo (also at a[o:o+4]), or None."""
        e = self.cache.get(_key(hi, lo))
        if e is None or not same(e[E_IP], 0, a, o, 4):
            return None
        return e

    def _entry(self, ip, now):
        """A new pending entry for ip (bytes(4)), or None when there is no room."""
        c = self.cache
        k = _key(be16(ip, 0), ip[2] << 8 | ip[3])
        old = c.get(k)
        if old is not None:
            # the same low 29 bits, another address: the newcomer takes the slot
            del c[k]
            self._give_up(old)
        if len(c) >= config.ARP_CACHE_ENTRIES:
            # evict the resolved entry closest to expiry; pending ones stay
            victim = None
            for vk in c:
                v = c[vk]
                if v[E_MAC] is not None and (victim is None or
                                             ticks_diff(v[E_EXPIRES], c[victim][E_EXPIRES]) < 0):
                    victim = vk
            if victim is None or not self._remember(victim, c[victim], now):
                return None
            c[victim][E_MAC] = None
            del c[victim]
        last = self.asked.pop(k, None)
        if last is None:
            last = ticks_add(now, -config.ARP_REQUEST_INTERVAL_MS)
        e = [ip, None, 0, last, 0, []]
        c[k] = e
        return e

    def _remember(self, k, e, now):
        """Entry e (key k) leaves the cache: keep when we last asked for it if
        that was within the request interval. False when there is no room."""
        interval = config.ARP_REQUEST_INTERVAL_MS
        if ticks_diff(now, e[E_LAST_REQ]) >= interval:
            return True
        a = self.asked
        if len(a) >= config.ARP_CACHE_ENTRIES:
            self._prune_asked(now)
            if len(a) >= config.ARP_CACHE_ENTRIES:
                return False
        a[k] = e[E_LAST_REQ]
        return True

    def _prune_asked(self, now):
        a = self.asked
        interval = config.ARP_REQUEST_INTERVAL_MS
        for k in list(a):
            d = ticks_diff(now, a[k])
            if d >= interval or d < 0:
                del a[k]

    def _give_up(self, e):
        e[E_MAC] = None     # gone from the cache: whoever kept the entry (TCP) sees it
        q = e[E_QUEUE]
        e[E_QUEUE] = []
        for i in range(0, len(q), 2):
            self.ctr["arp_gave_up"] += 1
            pbuf.free(q[i])

    def entry(self, ip):
        """The cache entry for ip ("a.b.c.d" or a 4-byte buffer), or None."""
        if isinstance(ip, str):
            from .wire import ip_parse
            ip = ip_parse(ip)
        return self._find(be16(ip, 0), be16(ip, 2), ip, 0)

    def remove(self, ip):
        """Forget ip (its parked datagrams are given up). True if it was cached."""
        e = self.entry(ip)
        if e is None:
            return False
        del self.cache[_key(be16(e[E_IP], 0), be16(e[E_IP], 2))]
        self._give_up(e)
        return True

    def lookup(self, ip):
        """The MAC cached for ip, or None (also while it is being resolved)."""
        e = self.entry(ip)
        return None if e is None else e[E_MAC]

    def output(self, p, nexthop, tag=0):
        """Send IPv4 datagram p to the on-link nexthop (a 4-byte buffer),
        resolving it first. Consumes the caller's reference. True when sent
        or parked for resolution, False when dropped. `tag` (ipv4.TX_*) says
        which counters move when the datagram reaches the driver; one that
        is given up moves arp_gave_up instead."""
        hi = be16(nexthop, 0)
        lo = be16(nexthop, 2)
        e = self._find(hi, lo, nexthop, 0)
        if e is not None and e[E_MAC] is not None:
            if self.st.netif.output(p, e[E_MAC], ETHERTYPE_IPV4):
                count_tx(self.ctr, tag)
                return True
            return False
        now = self.st.now
        ctr = self.ctr
        if e is None:
            e = self._entry(bytes(nexthop), now)
            if e is None:
                ctr["arp_cache_full"] += 1
                pbuf.free(p)
                return False
        q = e[E_QUEUE]
        queued = False
        if len(q) >= 2 * config.ARP_QUEUE_PER_DEST or not pbuf.charge(p, pool.H_ARPQ):
            ctr["arp_queue_full"] += 1
            pbuf.free(p)
        else:
            q.append(p)
            q.append(tag)
            queued = True
        if ticks_diff(now, e[E_LAST_REQ]) >= config.ARP_REQUEST_INTERVAL_MS:
            self._request(e, now)
        return queued

    def _request(self, e, now):
        e[E_LAST_REQ] = now
        e[E_NREQ] += 1
        if self.send(OP_REQUEST, e[E_IP], ZERO_MAC, BCAST_MAC):
            self.ctr["arp_request_tx"] += 1

    def send(self, op, tpa, tha, dst_mac, spa=None):
        """An ARP packet (addresses: 4-byte buffers; spa None: ours)."""
        st = self.st
        p = pbuf.hdr(pool.H_TX, ARP_LEN)
        if p is None:
            self.ctr["arp_tx_no_buffer"] += 1
            return False
        b = p.buf
        o = p.off
        put16(b, o, 1)
        put16(b, o + 2, ETHERTYPE_IPV4)
        b[o + 4] = 6
        b[o + 5] = 4
        put16(b, o + 6, op)
        put_bytes(b, o + 8, st.netif.mac)
        copy_field(b, o + 14, st.ip_addr if spa is None else spa, 0, 4)
        put_bytes(b, o + 18, tha)
        copy_field(b, o + 24, tpa, 0, 4)
        return st.netif.output(p, dst_mac, ETHERTYPE_ARP)

    def announce(self):
        """Gratuitous ARP: a request for our own address (RFC 5227 2.4)."""
        if self.send(OP_REQUEST, self.st.ip_addr, ZERO_MAC, BCAST_MAC):
            self.ctr["arp_gratuitous_tx"] += 1

    # --- timer ------------------------------------------------------------------
    def tick(self, now):
        """Age entries and retry or give up pending ones. Returns True while
        anything is pending (the caller keeps its timer running)."""
        c = self.cache
        dead = None
        pending = False
        interval = config.ARP_REQUEST_INTERVAL_MS
        for k in c:
            e = c[k]
            if e[E_MAC] is None:
                if ticks_diff(now, e[E_LAST_REQ]) >= interval:
                    if e[E_NREQ] >= config.ARP_MAX_REQUESTS:
                        dead = (dead or []) + [k]
                        continue
                    self._request(e, now)
                pending = True
            elif ticks_diff(now, e[E_EXPIRES]) >= 0:
                dead = (dead or []) + [k]
                self.ctr["arp_expired"] += 1
        if dead:
            for k in dead:
                e = c.pop(k)
                self._remember(k, e, now)
                self._give_up(e)
        if self.asked:
            # a remembered request older than the interval no longer matters
            # (and must go before its age could wrap on the ticks circle)
            self._prune_asked(now)
        return pending

    def flush(self):
        """Drop every entry and free every queued packet (shutdown)."""
        for k in self.cache:
            self.cache[k][E_MAC] = None
            q = self.cache[k][E_QUEUE]
            for i in range(0, len(q), 2):
                pbuf.free(q[i])
        self.cache = {}
        self.asked = {}
