# ARP (RFC 826) for one Ethernet interface, as a host:
# - a bounded cache with ageing; entries are made only for a sender that asked
#   us something or answered a request of ours (never by an unsolicited reply);
# - per destination, a bounded queue of packets waiting for resolution, at
#   most one request per ARP_REQUEST_INTERVAL_MS, and after ARP_MAX_REQUESTS
#   unanswered requests the entry is given up and its queue freed;
# - a gratuitous announcement when the interface comes up.
from micropython import const

from . import config, pbuf
from .pool import pool
from .wire import (BCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ZERO_MAC, be16, be32, put16, put32,
                   put_bytes, same)

ARP_LEN = const(28)
OP_REQUEST = const(1)
OP_REPLY = const(2)

# cache entry fields (a small list per destination)
E_MAC = const(0)      # bytes(6), or None while pending
E_EXPIRES = const(1)  # ms: resolved entries age out then
E_LAST_REQ = const(2) # ms: when we last asked
E_NREQ = const(3)     # requests sent since it went pending
E_QUEUE = const(4)    # pbufs (IPv4 datagrams) waiting


class Arp:
    def __init__(self, stack):
        self.st = stack
        self.ctr = stack.ctr
        self.cache = {}
        # destinations whose entry went away less than a request interval
        # after we asked: ip -> when (a new entry waits out the interval)
        self.asked = {}

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
        spa = be32(b, o + 14)
        tpa = be32(b, o + 24)
        me = st.ip_addr
        if b[o + 8] & 1 or spa == me or (spa != 0 and st.ip.martian_src(spa)):
            # group MAC as sender, someone claiming our address, or a martian
            ctr["arp_bad_sender"] += 1
            pbuf.free(p)
            return
        now = st.now
        e = self.cache.get(spa) if spa else None
        if e is not None:
            # RFC 826 merge: a known sender refreshes its entry.
            self._resolve(e, b, o + 8, now)
        if op == OP_REQUEST:
            if tpa != me or me == 0:
                ctr["arp_not_for_us"] += 1
                pbuf.free(p)
                return
            ctr["arp_request_rx"] += 1
            if e is None and spa:
                e = self._entry(spa, now)
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
        e[E_EXPIRES] = now + config.ARP_ENTRY_TTL_MS
        e[E_NREQ] = 0
        q = e[E_QUEUE]
        if q:
            e[E_QUEUE] = []
            out = self.st.netif.output
            for d in q:
                # leaving the ARP queue: its quota is for parked packets only
                pbuf.charge(d, pool.H_TX)
                out(d, e[E_MAC], ETHERTYPE_IPV4)

    def _reply(self, p):
        """Turn the request in p into our reply, in place when we own the block."""
        st = self.st
        if not pbuf.writable(p) or p.len < ARP_LEN:
            q = pbuf.alloc(pool.H_TX, ARP_LEN, 14)
            if q is None:
                self.ctr["ipv4_tx_no_buffer"] += 1
                pbuf.free(p)
                return
            for i in range(ARP_LEN):   # header fields, not payload
                q.buf[q.off + i] = p.buf[p.off + i]
            pbuf.free(p)
            p = q
        b = p.buf
        o = p.off
        pbuf.trim(p, ARP_LEN)
        # target := sender, sender := us
        for i in range(10):
            b[o + 18 + i] = b[o + 8 + i]
        put16(b, o + 6, OP_REPLY)
        put_bytes(b, o + 8, st.netif.mac)
        put32(b, o + 14, st.ip_addr)
        dst = bytes(b[o + 18:o + 24])
        if st.netif.output(p, dst, ETHERTYPE_ARP):
            self.ctr["arp_reply_tx"] += 1

    # --- cache ------------------------------------------------------------------
    def _entry(self, ip, now):
        c = self.cache
        if len(c) >= config.ARP_CACHE_ENTRIES:
            # evict the resolved entry closest to expiry; pending ones stay
            victim = None
            for k in c:
                v = c[k]
                if v[E_MAC] is not None and (victim is None or v[E_EXPIRES] < c[victim][E_EXPIRES]):
                    victim = k
            if victim is None or not self._remember(victim, c[victim], now):
                return None
            del c[victim]
        last = self.asked.pop(ip, now - config.ARP_REQUEST_INTERVAL_MS)
        e = [None, 0, last, 0, []]
        c[ip] = e
        return e

    def _remember(self, ip, e, now):
        """Entry e leaves the cache: keep when we last asked for ip if that was
        within the request interval. False when there is no room for it."""
        interval = config.ARP_REQUEST_INTERVAL_MS
        if now - e[E_LAST_REQ] >= interval:
            return True
        a = self.asked
        if len(a) >= config.ARP_CACHE_ENTRIES:
            for k in list(a):
                if now - a[k] >= interval:
                    del a[k]
            if len(a) >= config.ARP_CACHE_ENTRIES:
                return False
        a[ip] = e[E_LAST_REQ]
        return True

    def lookup(self, ip):
        e = self.cache.get(ip)
        return None if e is None else e[E_MAC]

    def output(self, p, nexthop):
        """Send IPv4 datagram p to the on-link nexthop, resolving it first.
        Consumes the caller's reference. True when sent or parked for
        resolution (a later give-up counts as arp_gave_up), False when dropped."""
        e = self.cache.get(nexthop)
        if e is not None and e[E_MAC] is not None:
            return self.st.netif.output(p, e[E_MAC], ETHERTYPE_IPV4)
        now = self.st.now
        ctr = self.ctr
        if e is None:
            e = self._entry(nexthop, now)
            if e is None:
                ctr["arp_cache_full"] += 1
                pbuf.free(p)
                return False
        q = e[E_QUEUE]
        queued = False
        if len(q) >= config.ARP_QUEUE_PER_DEST or not pbuf.charge(p, pool.H_ARPQ):
            ctr["arp_queue_full"] += 1
            pbuf.free(p)
        else:
            q.append(p)
            queued = True
        if now - e[E_LAST_REQ] >= config.ARP_REQUEST_INTERVAL_MS:
            self._request(nexthop, e, now)
        return queued

    def _request(self, ip, e, now):
        e[E_LAST_REQ] = now
        e[E_NREQ] += 1
        if self.send(OP_REQUEST, ip, ZERO_MAC, BCAST_MAC):
            self.ctr["arp_request_tx"] += 1

    def send(self, op, tpa, tha, dst_mac, spa=-1):
        st = self.st
        p = pbuf.alloc(pool.H_TX, ARP_LEN, 14)
        if p is None:
            self.ctr["ipv4_tx_no_buffer"] += 1
            return False
        b = p.buf
        o = p.off
        put16(b, o, 1)
        put16(b, o + 2, ETHERTYPE_IPV4)
        b[o + 4] = 6
        b[o + 5] = 4
        put16(b, o + 6, op)
        put_bytes(b, o + 8, st.netif.mac)
        put32(b, o + 14, st.ip_addr if spa < 0 else spa)
        put_bytes(b, o + 18, tha)
        put32(b, o + 24, tpa)
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
        for ip in c:
            e = c[ip]
            if e[E_MAC] is None:
                if now - e[E_LAST_REQ] >= config.ARP_REQUEST_INTERVAL_MS:
                    if e[E_NREQ] >= config.ARP_MAX_REQUESTS:
                        dead = (dead or []) + [ip]
                        continue
                    self._request(ip, e, now)
                pending = True
            elif now >= e[E_EXPIRES]:
                dead = (dead or []) + [ip]
                self.ctr["arp_expired"] += 1
        if dead:
            for ip in dead:
                e = c.pop(ip)
                self._remember(ip, e, now)
                for d in e[E_QUEUE]:
                    self.ctr["arp_gave_up"] += 1
                    pbuf.free(d)
        return pending

    def flush(self):
        """Drop every entry and free every queued packet (shutdown)."""
        for ip in self.cache:
            for d in self.cache[ip][E_QUEUE]:
                pbuf.free(d)
        self.cache = {}
        self.asked = {}

