# The network interface: one driver (any MAC, same contract), Ethernet in and
# out, the per-poll RX budget and TX completion reaping.
from array import array

from micropython import const

from . import config, pbuf
from .pool import pool
from .wire import ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, be16, put16, put_bytes, same

ENOBUFS = const(105)


class Netif:
    def __init__(self, stack, drv, mac):
        self.st = stack
        self.ctr = stack.ctr
        self.drv = drv
        self.mac = bytes(mac)
        if len(self.mac) != 6:
            raise ValueError("a MAC address is 6 bytes")
        self.mtu = config.MTU_BYTES
        # a MAC that inserts TCP/UDP/ICMP checksums on transmit (CIC on the
        # STM32 ETH) may be left the TCP checksum of unfragmented segments
        self.tx_csum = getattr(drv, "TX_CSUM", False) is True
        self.rx_out = array("i", [0] * (3 * config.RX_BATCH_FRAMES))
        self.reap_out = array("i", [0] * config.TX_REAP_MAX)
        seg = getattr(drv, "MAX_SEG", config.GATHER_MAX_ENTRIES)
        if seg > config.GATHER_MAX_ENTRIES:
            seg = config.GATHER_MAX_ENTRIES
        self.gather = [0] * (3 * seg)
        # frames in the driver's TX ring: slot -> chain held until reaped
        # (the frame's cookie is slot + 1; 0 is never used)
        n = config.TX_INFLIGHT_FRAMES
        self.tx_held = [None] * n
        self.tx_extra = [None] * n
        self.tx_slots = array("h", range(n))   # free slots, a stack of tx_nfree
        self.tx_nfree = n
        # frames the driver's ring holds (it is empty now): back-pressure asks
        # a sender for at most this many free slots at once
        self.tx_cap = min(drv.tx_room(), n)

    # --- RX -----------------------------------------------------------------
    def poll_rx(self, budget):
        """Take up to `budget` frames from the driver and run each through
        the stack, in batches of RX_BATCH_FRAMES: a batch is handed up (and
        its descriptors refilled) only after the previous one was processed
        and its blocks kept or freed, so a batch never needs more refill
        blocks than the RX reserve holds. Returns how many were taken."""
        if budget > config.RX_BUDGET_FRAMES:
            budget = config.RX_BUDGET_FRAMES
        batch = config.RX_BATCH_FRAMES
        out = self.rx_out
        total = 0
        while total < budget:
            want = budget - total
            if want > batch:
                want = batch
            n = self.drv.rx_poll(want, out)
            for k in range(n):
                j = 3 * k
                p = pbuf.rx(out[j], out[j + 1])
                if p is None:
                    self.ctr["rx_no_pbuf"] += 1
                else:
                    self.input(p, out[j + 2])
            total += n
            if n < want:
                break
        return total

    def input(self, p, flags):
        ctr = self.ctr
        ctr["eth_rx"] += 1
        if p.len < ETH_HLEN:
            ctr["eth_truncated"] += 1
            pbuf.free(p)
            return
        b = p.buf
        o = p.off
        mac = self.mac
        bcast = 0
        if not same(b, o, mac, 0, 6):   # a byte compare: no 32-bit int per frame
            if b[o] & 1:            # group address: broadcast or multicast
                bcast = 1
            else:
                ctr["eth_other_dst"] += 1
                pbuf.free(p)
                return
        if same(b, o + 6, mac, 0, 6):
            ctr["eth_own_src"] += 1
            pbuf.free(p)
            return
        etype = be16(b, o + 12)
        pbuf.header(p, -ETH_HLEN)
        if etype == ETHERTYPE_IPV4:
            self.st.ip.input(p, bcast, flags)
        elif etype == ETHERTYPE_ARP:
            self.st.arp.input(p, bcast)
        else:
            ctr["eth_unknown_type"] += 1
            pbuf.free(p)

    # --- TX -----------------------------------------------------------------
    def output(self, p, dst_mac, etype):
        """Send chain p (starting at the L3 header) to dst_mac. Consumes the
        caller's reference to p whatever happens. True when queued."""
        if not pbuf.header(p, ETH_HLEN):
            h = pbuf.hdr(pool.H_TX, ETH_HLEN)
            if h is None:
                self.ctr["tx_no_header"] += 1
                pbuf.free(p)
                return False
            p = pbuf.cat(h, p)
        b = p.buf
        o = p.off
        put_bytes(b, o, dst_mac)
        put_bytes(b, o + 6, self.mac)
        put16(b, o + 12, etype)
        ok = self.send_frame(p)
        pbuf.free(p)
        return ok

    def send_frame(self, p):
        """Hand a complete frame to the driver. The netif keeps a reference
        to the chain until the driver reports the frame done (tx_reap), so
        everything the frame points at stays alive and unwritable until then,
        and is charged to H_TX meanwhile (quota-checked). The caller still
        frees its own reference. False (counted) when refused."""
        ctr = self.ctr
        if not self.tx_nfree:
            self.reap()
            if not self.tx_nfree:
                ctr["tx_ring_full"] += 1
                return False
        # blocks that came in on the input path are kept by the TX ring now;
        # those a queue keeps (TCP's send queue, say) stay that keeper's
        if not pbuf.charge(p, pool.H_TX, pool.H_RX):
            ctr["tx_no_quota"] += 1
            return False
        g = self.gather
        n = pbuf.gather(p, g)
        extra = None
        if n < 0:
            extra = self._linearise(p, g)
            if extra is None:
                return False
            n = len(g) // 3
        self.tx_nfree -= 1
        slot = self.tx_slots[self.tx_nfree]
        drv = self.drv
        err = drv.tx(n, g, slot + 1)
        if err == ENOBUFS:
            # The ring is full: let the MAC finish what it can and try once
            # more (a fragmented reply fills a ring within one poll).
            self.reap()
            err = drv.tx(n, g, slot + 1)
        for k in range(n):           # drop our references to the pieces
            g[3 * k] = 0
        if err:
            self.tx_slots[self.tx_nfree] = slot
            self.tx_nfree += 1
            if extra is not None:
                pbuf.free(extra)
            ctr["tx_ring_full"] += 1
            return False
        pbuf.pref(p)
        self.tx_held[slot] = p
        self.tx_extra[slot] = extra
        return True

    def _linearise(self, p, g):
        """The chain has more pieces than the driver takes per frame: name
        the first (entries - 1) pieces as they are and copy the rest into one
        fresh block (counted copy, tx_linearised). Returns that block's pbuf
        (held until the frame is reaped), or None (counted)."""
        cap = len(g) // 3
        n = 0
        at = 0
        q = p
        while n < cap - 1:
            if q.len:
                j = 3 * n
                g[j] = q.blk if q.blk >= 0 else q.buf
                g[j + 1] = q.off
                g[j + 2] = q.len
                n += 1
                at += q.len
            q = q.next
        rest = p.tot - at
        e = pbuf.alloc(pool.H_TX, rest, 0)
        if e is None:
            for k in range(n):
                g[3 * k] = 0
            self.ctr["tx_no_buffer"] += 1
            return None
        pbuf.copy_out(p, at, e.buf, e.off, rest)
        j = 3 * n
        g[j] = e.blk
        g[j + 1] = e.off
        g[j + 2] = rest
        self.ctr["tx_linearised"] += 1
        return e

    def tx_room(self):
        """Frames the driver would take now (after reaping what it finished)."""
        r = self.drv.tx_room()
        if r == 0:
            self.reap()
            r = self.drv.tx_room()
        f = self.tx_nfree
        return r if r < f else f

    def reap(self):
        """Let the driver finish what is queued and release what finished
        frames held (their owners learn through pbuf `done` callbacks).
        Bounded: at most a few table-fulls per poll."""
        out = self.reap_out
        held = self.tx_held
        extra = self.tx_extra
        total = 0
        for _ in range(4):
            m = self.drv.tx_reap(out)
            for k in range(m):
                s = out[k] - 1
                if 0 <= s < len(held) and held[s] is not None:
                    p = held[s]
                    held[s] = None
                    e = extra[s]
                    if e is not None:
                        extra[s] = None
                        pbuf.free(e)
                    self.tx_slots[self.tx_nfree] = s
                    self.tx_nfree += 1
                    pbuf.free(p)
                else:
                    self.ctr["tx_bad_cookie"] += 1
            total += m
            if m < len(out):
                break
        return total

    def release_tx(self):
        """Shutdown: drop what in-flight frames held (after the driver closed)."""
        held = self.tx_held
        for s in range(len(held)):
            if held[s] is not None:
                pbuf.free(held[s])
                held[s] = None
                if self.tx_extra[s] is not None:
                    pbuf.free(self.tx_extra[s])
                    self.tx_extra[s] = None
                self.tx_slots[self.tx_nfree] = s
                self.tx_nfree += 1
