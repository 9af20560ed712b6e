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
        self.rx_out = array("i", [0] * (3 * config.RX_BATCH_FRAMES))
        self.reap_out = array("i", [0] * config.TX_REAP_MAX)
        self.gather = [0] * (3 * config.GATHER_MAX_ENTRIES)

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
                self.input(pbuf.rx(out[j], out[j + 1]), out[j + 2])
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
            h = pbuf.alloc(pool.H_TX, ETH_HLEN, 0)
            if h is None:
                self.ctr["ipv4_tx_no_buffer"] += 1
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
        """Hand a complete frame to the driver; the driver takes its own
        references, so the caller still frees its own."""
        g = self.gather
        n = pbuf.gather(p, g)
        if n < 0:
            self.ctr["ipv4_tx_no_buffer"] += 1
            return False
        drv = self.drv
        err = drv.tx(n, g, 0)
        if err == ENOBUFS:
            # The ring is full: let the MAC finish what it can and try once
            # more (a fragmented reply fills a ring within one poll).
            self.reap()
            err = drv.tx(n, g, 0)
        for k in range(n):           # drop our references to the pieces
            g[3 * k] = 0
        if err == ENOBUFS:
            self.ctr["tx_ring_full"] += 1
            return False
        return True

    def reap(self):
        """Let the driver finish what is queued and return completed frames'
        resources. Bounded: at most a few table-fulls per poll."""
        out = self.reap_out
        total = 0
        for _ in range(4):
            m = self.drv.tx_reap(out)
            total += m
            if m < len(out):
                break
        return total

