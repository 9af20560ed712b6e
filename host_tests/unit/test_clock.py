# The stack's clock is a ticks value in [0, 2^30) that wraps, as ticks_ms()
# on a 32-bit port: a whole stack run across the wrap keeps its timers
# (ARP pacing and give-up, ageing, ICMP rate limit: test_arp, test_icmp_udp)
# and answers as before. Runs on both lanes.
import frames
from support import NEAR_WRAP, PEER_IP, PEER_MAC, US_IP, US_MAC, Rig

from stack import wire

TMAX = 0x3FFFFFFF


def _run(start):
    with Rig(now=start, ARP_ENTRY_TTL_MS=4000) as r:
        r.learn()
        tick = r.config.TIMER_TICK_MS
        replies = 0
        asked = 0
        for k in range(60):                 # 6 s in 100 ms steps
            if k % 5 == 0:
                r.ping_in(seq=k)
            ret = r.poll(k * tick + 1)
            now = r.now()
            assert 0 <= now <= TMAX and 0 <= ret <= TMAX
            # the next deadline is a ticks value at most one timer tick ahead
            assert 0 < wire.ticks_diff(ret, now) <= tick, (k, now, ret)
            for f in r.sent_parsed():
                if "icmp" in f:
                    replies += 1
                elif "arp" in f:
                    asked += 1
                    # the entry aged out (4 s): answer the request
                    r.inject(frames.eth(US_MAC, PEER_MAC, frames.ETH_ARP,
                                        frames.arp(2, PEER_MAC, PEER_IP, US_MAC, US_IP)))
        r.poll(60 * tick + 1)
        replies += sum(1 for f in r.sent_parsed() if "icmp" in f)
        d = r.delta()
        assert replies == 12 and d["icmp_echo_tx"] == 12, (replies, d)
        assert d["arp_expired"] == 1 and asked == 1 and d["arp_request_tx"] == 1, d
        assert "arp_gave_up" not in d
        r.finish()


def test_whole_stack_run():
    _run(0)


def test_whole_stack_run_across_the_clock_wrap():
    _run(NEAR_WRAP)


def test_poll_takes_any_ticks_value_modulo_2_30():
    # a caller that feeds a never-wrapping counter (a 64-bit ticks_ms) still
    # gets deadlines on the 2^30 circle
    with Rig() as r:
        tick = r.config.TIMER_TICK_MS
        assert r.st.poll((1 << 30) + 5) == tick                  # not due yet
        assert r.st.poll((1 << 30) + tick + 50) == 2 * tick + 50  # ran: next one a tick on
        r.finish()
