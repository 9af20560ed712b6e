# The synchronous core: poll(now_ms) takes what the driver has (within a
# budget), runs due timers, lets the driver finish transmissions and returns
# the next deadline. Time only ever comes in through poll()'s argument, so
# timeouts are tested and fuzzed without sleeping.
from . import config, counters, pbuf
from .arp import Arp
from .icmp import Icmp
from .ipv4 import Ipv4
from .netif import Netif
from .pool import at_baseline, pool
from .udp import Udp
from .wire import ip_parse


def apply_pool_limits():
    """Push config's quotas and RX reserve into the pool."""
    pool.set_reserve(config.POOL_RESERVE_RX_BLOCKS)
    pool.set_quota(pool.H_REASM, config.QUOTA_REASM_BLOCKS)
    pool.set_quota(pool.H_ARPQ, config.QUOTA_ARPQ_BLOCKS)
    pool.set_quota(pool.H_UDP, config.QUOTA_UDP_BLOCKS)
    pool.set_quota(pool.H_TCP, config.QUOTA_TCP_BLOCKS)
    pool.set_quota(pool.H_TX, config.QUOTA_TX_BLOCKS)
    pool.set_quota(pool.H_APP, config.QUOTA_APP_BLOCKS)


class Stack:
    def __init__(self, drv, mac, ip, prefix=24, gw=None, now_ms=0):
        apply_pool_limits()
        self.ctr = counters.new()
        self.now = now_ms
        self.ip_addr = ip_parse(ip) if isinstance(ip, str) else ip
        if not 0 <= prefix <= 32:
            raise ValueError("bad prefix length")
        self.mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
        self.gw = (ip_parse(gw) if isinstance(gw, str) else gw) or 0
        self.netif = Netif(self, drv, mac)
        self.ip = Ipv4(self)
        self.arp = Arp(self)
        self.icmp = Icmp(self)
        self.udp = Udp(self)
        self.tcp = None
        self.drv_stats = None   # the driver's last counters, once it is closed
        self.next_tick = now_ms + config.TIMER_TICK_MS

    def up(self):
        """The interface came up: announce ourselves (gratuitous ARP)."""
        self.arp.announce()
        self.netif.reap()

    def poll(self, now_ms):
        """One round of work. Returns the time (ms, same clock) by which
        poll() wants to run again; `now_ms` itself when frames were left."""
        self.now = now_ms
        budget = config.RX_BUDGET_FRAMES
        n = self.netif.poll_rx(budget)
        if now_ms >= self.next_tick:
            self.timers(now_ms)
        self.netif.reap()
        if n >= budget:
            self.ctr["rx_budget_exhausted"] += 1
            return now_ms
        return self.next_tick

    def timers(self, now_ms):
        self.now = now_ms
        ip = self.ip
        ip.cast = 0
        ip.l2bcast = 0
        self.arp.tick(now_ms)
        ip.reasm.tick(now_ms)
        self.next_tick = now_ms + config.TIMER_TICK_MS

    def snapshot(self):
        """Counters, pool levels, driver counters and the copy tally: the
        JSON object SIGUSR1 prints (allocates; not for the hot path)."""
        return {
            "counters": dict(self.ctr),
            "pool": pool.stats(),
            "baseline": at_baseline(),
            "driver": self.drv_stats if self.drv_stats is not None else self.netif.drv.stats(),
            "copied": pbuf.copied(),
        }

    def shutdown(self):
        """Free everything the stack holds and close the driver."""
        self.arp.flush()
        self.ip.reasm.flush()
        self.udp.flush()
        self.netif.reap()
        self.drv_stats = self.netif.drv.stats()
        self.netif.drv.close()
        self.netif.release_tx()
