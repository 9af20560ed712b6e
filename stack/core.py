# The synchronous core: poll(now_ms) takes what the driver has (within a
# budget), runs due timers, lets the driver finish transmissions and returns
# the next deadline. Time only ever comes in through poll()'s argument, so
# timeouts are tested and fuzzed without sleeping. Time is a ticks value in
# [0, 2^30) that wraps (wire.ticks_add/ticks_diff); addresses are bytes(4).
from . import config, counters, pbuf
from .arp import Arp
from .icmp import Icmp
from .ipv4 import Ipv4
from .netif import Netif
from .pool import at_baseline, pool
from .tcp import STATE_NAMES, Tcp
from .udp import Udp
from .wire import TICKS_MAX, be16, ip_addr, ticks_add, ticks_diff


def apply_pool_limits():
    """Push config's quotas and RX reserve into the pool."""
    pool.set_reserve(config.POOL_RESERVE_RX_BLOCKS)
    pool.set_quota(pool.H_REASM, config.QUOTA_REASM_BLOCKS)
    pool.set_quota(pool.H_ARPQ, config.QUOTA_ARPQ_BLOCKS)
    pool.set_quota(pool.H_UDP, config.QUOTA_UDP_BLOCKS)
    pool.set_quota(pool.H_TCP, config.QUOTA_TCP_BLOCKS)
    pool.set_quota(pool.H_TX, config.QUOTA_TX_BLOCKS)
    pool.set_hquota(pool.H_TX, config.QUOTA_TX_HDR_BLOCKS)
    pool.set_quota(pool.H_APP, config.QUOTA_APP_BLOCKS)


class Stack:
    def __init__(self, drv, mac, ip, prefix=24, gw=None, now_ms=0):
        """ip and gw: "a.b.c.d" or a 4-byte buffer (gw None, 0 or "" for none);
        now_ms: the ticks value the clock starts at."""
        ip = ip_addr(ip)
        if not 0 <= prefix <= 32:
            raise ValueError("bad prefix length")
        gw = ip_addr(gw) if gw else None
        apply_pool_limits()
        self.ctr = counters.new()
        self.now = now_ms & TICKS_MAX
        self._set_addr(ip, prefix, gw)
        self.netif = Netif(self, drv, mac)
        self.ip = Ipv4(self)
        self.arp = Arp(self)
        self.icmp = Icmp(self)
        self.udp = Udp(self)
        self.tcp = Tcp(self)
        self.drv_stats = None   # the driver's last counters, once it is closed
        # A driver wrapper that works on the stack's clock (stack/impair.py)
        # gets the time in every poll, and its deadline joins ours.
        self.drv_clock = getattr(drv, "set_now", None)
        self.drv_deadline = getattr(drv, "next_deadline", None)
        if self.drv_clock is not None:
            self.drv_clock(self.now)
        self.next_tick = ticks_add(self.now, config.TIMER_TICK_MS)

    def _set_addr(self, ip, prefix, gw):
        """Our address, netmask, subnet broadcast (bytes(4)) and their 16-bit
        halves, which the per-packet code compares against (small ints on
        every port)."""
        mask = bytearray(4)
        for i in range(4):
            k = prefix - 8 * i
            mask[i] = 0 if k <= 0 else (0xFF if k >= 8 else (0xFF << (8 - k)) & 0xFF)
        self.ip_addr = ip
        self.prefix = prefix
        self.mask = bytes(mask)
        self.bcast = bytes(ip[i] | (~mask[i] & 0xFF) for i in range(4))
        self.gw = gw
        self.ip_hi = be16(ip, 0)
        self.ip_lo = be16(ip, 2)
        self.mask_hi = be16(mask, 0)
        self.mask_lo = be16(mask, 2)
        self.net_hi = self.ip_hi & self.mask_hi
        self.net_lo = self.ip_lo & self.mask_lo
        # a /32 has no subnet broadcast address (only 255.255.255.255)
        self.has_bcast = prefix < 32
        self.bcast_hi = be16(self.bcast, 0)
        self.bcast_lo = be16(self.bcast, 2)

    def up(self):
        """The interface came up: announce ourselves (gratuitous ARP)."""
        self.arp.announce()
        self.netif.reap()

    def poll(self, now_ms):
        """One round of work at ticks time now_ms (ms, wrapping at 2^30; a
        larger value is taken modulo 2^30). Returns the ticks time by which
        poll() wants to run again; `now_ms` itself when frames were left."""
        now_ms &= TICKS_MAX
        self.now = now_ms
        if self.drv_clock is not None:
            self.drv_clock(now_ms)
        budget = config.RX_BUDGET_FRAMES
        n = self.netif.poll_rx(budget)
        if ticks_diff(now_ms, self.next_tick) >= 0:
            self.timers(now_ms)
        self.netif.reap()
        self.tcp.poll()             # output a full TX ring stopped goes on
        if n >= budget:
            self.ctr["rx_budget_exhausted"] += 1
            return now_ms
        if self.drv_deadline is not None:
            t = self.drv_deadline()
            if t is not None and ticks_diff(t, self.next_tick) < 0:
                return t
        return self.next_tick

    def timers(self, now_ms):
        self.now = now_ms
        self.arp.tick(now_ms)
        self.ip.reasm.tick(now_ms)
        self.tcp.tick(now_ms)
        self.next_tick = ticks_add(now_ms, config.TIMER_TICK_MS)

    def snapshot(self):
        """Counters, pool levels, driver counters and the copy tally: the
        JSON object SIGUSR1 prints (allocates; not for the hot path)."""
        return {
            "counters": dict(self.ctr),
            "pool": pool.stats(),
            "baseline": at_baseline(),
            "driver": self.drv_stats if self.drv_stats is not None else self.netif.drv.stats(),
            "copied": pbuf.copied(),
            "tcp": self.tcp_summary(),
        }

    def tcp_summary(self):
        """TCP connections by state (only states that have one) and listeners."""
        states = {}
        for pcb in self.tcp.active:
            k = STATE_NAMES[pcb.state]
            states[k] = states.get(k, 0) + 1
        return {"pcbs": len(self.tcp.active), "listeners": len(self.tcp.listeners),
                "states": states}

    def shutdown(self):
        """Free everything the stack holds and close the driver."""
        self.arp.flush()
        self.ip.reasm.flush()
        self.udp.flush()
        self.tcp.flush()
        self.netif.reap()
        self.drv_stats = self.netif.drv.stats()
        self.netif.drv.close()
        self.netif.release_tx()
