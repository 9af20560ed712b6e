# TCP options and the paths the first scripts (test_tcp_script.py) left out,
# as packetdrill-style scripts on the virtual clock (host_tests/unit/tcpscript.py):
# window scaling and timestamps with PAWS (RFC 7323), SACK blocks (RFC 2018),
# keepalive (RFC 1122 4.2.3.6), a full TX ring, H_TCP's quota, a full
# out-of-order queue, RFC 5961's "ACK too old" and the challenge ACK limit
# (RFC 5961 7). Option values (TS val/ecr, SACK edges) are absolute numbers:
# the peer's ISN is 0 unless a script sets it, so its edges read as offsets.
from tcpscript import M32, run

from stack import pbuf

# TCP_WND_BYTES that needs a shift of 2 (200000 >> 2 = 50000 fits 16 bits)
BIG_WND = 200000
BIG_BLOCKS = 140    # 140 blocks of 1460 bytes cover it: the byte window is what shows


# ---- window scaling (RFC 7323 section 2) --------------------------------------------

def test_wscale_passive_both_directions_shifted():
    # SYN and SYN-ACK windows are never scaled (2.2); afterwards the peer's
    # window field << 7 bounds what we send, ours is our window >> 2
    run("""
0.000 app listen
0.000 < S 0:0(0) win 1000 <mss 1460, nop, wscale 7>
0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460, nop, wscale 2>
0.010 < . 1:1(0) ack 1 win 10                   // 10 << 7 = 1280 bytes
0.010 app state ESTABLISHED
0.020 app write 3000
0.020 > . 1:1281(1280) ack 1 win 50000          // exactly the scaled window
0.030 < . 1:1(0) ack 1281 win 12                // 1536: one full segment, the rest waits (SWS)
0.030 > . 1281:2741(1460) ack 1 win 50000
0.040 < P. 1:1001(1000) ack 2741 win 12
0.040 > P. 2741:3001(260) ack 1001 win 49750    // (200000 - 1000) >> 2
0.090 < . 1001:1001(0) ack 3001 win 12
0.090 app tcp_counters tcp_accepted=1
""", TCP_WND_BYTES=BIG_WND, TCP_WND_BLOCKS=BIG_BLOCKS, TCP_DELACK_MS=40)


def test_wscale_not_offered_neither_side_scales():
    # a SYN without wscale: no shift either way (2.2); our window field is
    # capped at 65535, the peer's taken as it is
    run("""
0.000 app listen
0.000 < S 0:0(0) win 1000 <mss 1460>
0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
0.010 < . 1:1(0) ack 1 win 1000
0.020 app write 3000
0.020 > . 1:1001(1000) ack 1 win 65535
0.030 < . 1:1(0) ack 1001 win 2000
0.030 > . 1001:2461(1460) ack 1 win 65535      // Nagle keeps the tail
0.040 < . 1:1(0) ack 2461 win 1000
0.040 > P. 2461:3001(540) ack 1 win 65535
""", TCP_WND_BYTES=BIG_WND, TCP_WND_BLOCKS=BIG_BLOCKS)


def test_wscale_active_open_synack_window_unscaled():
    # our SYN offers our shift; the SYN-ACK's window is taken unscaled, the
    # next ones shifted by the SYN-ACK's wscale
    run("""
0.000 app connect
0.000 > S 0:0(0) win 65535 <mss 1460, sackOK, TS val 0 ecr 0, nop, wscale 2>
0.010 < S. 0:0(0) ack 1 win 1000 <mss 1460, nop, wscale 3>
0.010 > . 1:1(0) ack 1 win 50000 <>
0.020 app write 3000
0.020 > . 1:1001(1000) ack 1 win 50000 <>       // 1000: the SYN-ACK's window as it is
0.030 < . 1:1(0) ack 1001 win 250               // 250 << 3 = 2000
0.030 > . 1001:2461(1460) ack 1 win 50000
0.040 < . 1:1(0) ack 2461 win 68                // 68 << 3 = 544
0.040 > P. 2461:3001(540) ack 1 win 50000
""", TCP_WND_BYTES=BIG_WND, TCP_WND_BLOCKS=BIG_BLOCKS)


def test_wscale_active_open_synack_without_it():
    # the SYN-ACK declines: our window goes unscaled (capped), the peer's too
    run("""
0.000 app connect
0.000 > S 0:0(0) win 65535 <mss 1460, sackOK, TS val 0 ecr 0, nop, wscale 2>
0.010 < S. 0:0(0) ack 1 win 1000 <mss 1460>
0.010 > . 1:1(0) ack 1 win 65535 <>
0.020 app write 3000
0.020 > . 1:1001(1000) ack 1 win 65535
0.030 < . 1:1(0) ack 1001 win 250               // 250 bytes, unscaled
0.030 > . 1001:1251(250) ack 1 win 65535
""", TCP_WND_BYTES=BIG_WND, TCP_WND_BLOCKS=BIG_BLOCKS)


def test_wscale_over_14_taken_as_14_and_ack_too_old():
    # shift 15 is taken as 14 (2.3): a window field of 1 is 16384 bytes,
    # which is MAX.SND.WND, so an ACK 16384 below SND.UNA is still
    # acceptable (ignored) and one 16385 below is too old (RFC 5961 5.2):
    # answered with a challenge ACK and dropped
    run("""
0.000 app listen
0.000 < S 0:0(0) win 1 <mss 1460, nop, wscale 15>
0.000 > S. 0:0(0) ack 1 <mss 1460, nop, wscale 0>
0.010 < . 1:1(0) ack 1 win 1
0.010 app tcp_counters tcp_accepted=1
0.020 < . 1:1(0) ack -16383 win 1               // SND.UNA - 16384
0.020 app tcp_counters
0.030 < . 1:1(0) ack -16384 win 1               // SND.UNA - 16385
0.030 > . 1:1(0) ack 1
0.030 app tcp_counters tcp_challenge_ack=1
0.040 app state ESTABLISHED
""")


# ---- timestamps and PAWS (RFC 7323 sections 3, 4, 5) ---------------------------------

TS_OPEN = """
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460, sackOK, TS val 1000 ecr 0, nop, wscale 7>
0.000 > S. 0:0(0) ack 1 win 23360 <mss 1460, sackOK, TS val 0 ecr 1000, nop, wscale 0>
0.010 < . 1:1(0) ack 1 win 100 <nop, nop, TS val 1010 ecr 0>
0.010 app tcp_counters tcp_accepted=1
"""


def test_ts_every_segment_echoes_ts_recent():
    # TSval is our ms clock; TSecr the peer's TSval of the last segment at
    # (or before) the ACK we last sent (5.3 R3): an out-of-order segment's
    # is not taken, the one that fills the hole is
    run(TS_OPEN + """
0.020 app write 100
0.020 > P. 1:101(100) ack 1 win 23360 <nop, nop, TS val 20 ecr 1010>
0.030 < P. 1:101(100) ack 101 win 100 <nop, nop, TS val 1030 ecr 20>
0.070 > . 101:101(0) ack 101 <nop, nop, TS val 70 ecr 1030>
0.080 < . 201:301(100) ack 101 win 100 <nop, nop, TS val 1080 ecr 70>
0.080 > . 101:101(0) ack 101 <nop, nop, TS val 80 ecr 1030, nop, nop, sack 201:301>
0.090 < . 101:201(100) ack 101 win 100 <nop, nop, TS val 1090 ecr 70>
0.090 > . 101:101(0) ack 301 <nop, nop, TS val 90 ecr 1090>
0.090 app received 300
0.100 app close
0.100 > F. 101:101(0) ack 301 <nop, nop, TS val 100 ecr 1090>
0.110 < F. 301:301(0) ack 102 win 100 <nop, nop, TS val 1110 ecr 100>
0.110 > . 102:102(0) ack 302 <nop, nop, TS val 110 ecr 1110>
0.110 app state TIME_WAIT
""", autorecv=True)


def test_ts_delayed_ack_echoes_the_earliest_segment():
    # RFC 7323 4.3 (A) and 5.3 R3: one ACK for two segments echoes the TSval
    # of the first (SEG.SEQ <= Last.ACK.sent), so the peer's RTT sample
    # includes our ACK delay
    run(TS_OPEN + """
0.100 < . 1:1461(1460) ack 1 win 100 <nop, nop, TS val 1100 ecr 0>
0.110 < . 1461:2921(1460) ack 1 win 100 <nop, nop, TS val 1110 ecr 0>
0.110 > . 1:1(0) ack 2921 <nop, nop, TS val 110 ecr 1100>
0.200 < . 2921:4381(1460) ack 1 win 100 <nop, nop, TS val 1200 ecr 110>
0.240 > . 1:1(0) ack 4381 <nop, nop, TS val 240 ecr 1200>
""", autorecv=True, TCP_DELACK_MS=40)


def test_paws_old_tsval_acked_and_dropped_rst_exempt():
    # 5.3 R1: TSval older than TS.Recent: an ACK, the data dropped (even at
    # RCV.NXT); TSval equal to TS.Recent is fine; a RST is exempt
    run(TS_OPEN + """
0.100 < P. 1:101(100) ack 1 win 100 <nop, nop, TS val 1009 ecr 0>
0.100 > . 1:1(0) ack 1 <nop, nop, TS val 100 ecr 1010>
0.100 app received 0
0.100 app tcp_counters tcp_paws=1
0.200 < P. 1:101(100) ack 1 win 100 <nop, nop, TS val 1010 ecr 0>
0.240 > . 1:1(0) ack 101 <nop, nop, TS val 240 ecr 1010>
0.240 app received 100
0.250 < F. 101:101(0) ack 1 win 100 <nop, nop, TS val 900 ecr 0>    // an old FIN: dropped too
0.250 > . 1:1(0) ack 101 <nop, nop, TS val 250 ecr 1010>
0.250 app state ESTABLISHED
0.250 app tcp_counters tcp_paws=1
0.300 < R. 101:101(0) ack 1 win 0 <nop, nop, TS val 5 ecr 0>
0.300 app err ECONNRESET
0.300 app tcp_counters tcp_rst_rx=1
0.300 app pcbs 0
""", autorecv=True)


def test_ts_peer_tsval_across_2_32():
    # the peer's clock wraps: 0x10 is newer than 0xFFFFFFF0, 0xFFFFFFF8 older than 0x10
    run("""
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460, nop, nop, TS val 4294967280 ecr 0>
0.000 > S. 0:0(0) ack 1 <mss 1460, nop, nop, TS val 0 ecr 4294967280>
0.010 < . 1:1(0) ack 1 win 65535 <nop, nop, TS val 4294967290 ecr 0>
0.100 < P. 1:101(100) ack 1 win 65535 <nop, nop, TS val 16 ecr 10>
0.140 > . 1:1(0) ack 101 <nop, nop, TS val 140 ecr 16>
0.200 < P. 101:201(100) ack 1 win 65535 <nop, nop, TS val 4294967288 ecr 10>
0.200 > . 1:1(0) ack 101 <nop, nop, TS val 200 ecr 16>
0.200 app received 100
0.200 app tcp_counters tcp_accepted=1 tcp_paws=1
""", autorecv=True)


def test_ts_our_clock_across_the_2_30_wrap():
    # the stack's ticks wrap at 2^30; TSval must keep growing mod 2^32
    # (5.4: monotone), or the peer's PAWS throws our segments away
    from support import NEAR_WRAP
    t0 = NEAR_WRAP
    run("""
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460, nop, nop, TS val 7 ecr 0>
0.000 > S. 0:0(0) ack 1 <mss 1460, nop, nop, TS val %d ecr 7>
0.010 < . 1:1(0) ack 1 win 65535 <nop, nop, TS val 8 ecr %d>
0.500 app write 10
0.500 > P. 1:11(10) ack 1 <nop, nop, TS val %d ecr 8>
1.500 > P. 1:11(10) ack 1 <nop, nop, TS val %d ecr 8>      // after the wrap
1.510 < . 1:1(0) ack 11 win 65535 <nop, nop, TS val 9 ecr %d>
2.000 app write 10
2.000 > P. 11:21(10) ack 1 <nop, nop, TS val %d ecr 9>
""" % (t0, t0, t0 + 500, t0 + 1500, t0 + 1500, t0 + 2000), now=NEAR_WRAP)


def test_ts_not_offered_not_sent():
    # a SYN without TS: none in the SYN-ACK, none afterwards (3.2); an
    # active open whose SYN-ACK has none: none afterwards either
    run("""
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460, sackOK>
0.000 > S. 0:0(0) ack 1 <mss 1460, nop, nop, sackOK>
0.010 < . 1:1(0) ack 1 win 65535 <nop, nop, TS val 5 ecr 0>   // a TS now means nothing
0.020 app write 10
0.020 > P. 1:11(10) ack 1 <>
0.030 < P. 1:11(10) ack 11 win 65535
0.070 > . 11:11(0) ack 11 <>
flow 40001
0.100 app connect
0.100 > S 0:0(0) <mss 1460, sackOK, TS val 100 ecr 0, nop, wscale 0>
0.110 < S. 0:0(0) ack 1 win 65535 <mss 1460, sackOK>
0.110 > . 1:1(0) ack 1 <>
0.120 app write 10
0.120 > P. 1:11(10) ack 1 <>
""")


# ---- SACK (RFC 2018) -------------------------------------------------------------------

SACK_OPEN = """
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460, sackOK>
0.000 > S. 0:0(0) ack 1 <mss 1460, nop, nop, sackOK>
0.010 < . 1:1(0) ack 1 win 65535
"""


def test_sack_blocks_contiguous_newest_first_at_most_4():
    # RFC 2018 4: each block a contiguous run of what we hold (adjacent
    # segments are one block), the first the block of the segment that
    # triggered the ACK, then the most recently reported ones; 4 at most
    # without timestamps
    run(SACK_OPEN + """
0.100 < . 1461:2921(1460) ack 1 win 65535
0.100 > . 1:1(0) ack 1 <nop, nop, sack 1461:2921>
0.110 < . 4381:5841(1460) ack 1 win 65535
0.110 > . 1:1(0) ack 1 <nop, nop, sack 4381:5841 1461:2921>
0.120 < . 2921:4381(1460) ack 1 win 65535       // joins both: one block
0.120 > . 1:1(0) ack 1 <nop, nop, sack 1461:5841>
0.130 < . 8761:10221(1460) ack 1 win 65535
0.130 > . 1:1(0) ack 1 <nop, nop, sack 8761:10221 1461:5841>
0.140 < . 7301:8761(1460) ack 1 win 65535       // grows a block at its left edge
0.140 > . 1:1(0) ack 1 <nop, nop, sack 7301:10221 1461:5841>
0.150 < . 13141:14601(1460) ack 1 win 65535
0.150 > . 1:1(0) ack 1 <nop, nop, sack 13141:14601 7301:10221 1461:5841>
0.160 < . 11681:12681(1000) ack 1 win 65535    // below the newest: still first
0.160 > . 1:1(0) ack 1 <nop, nop, sack 11681:12681 13141:14601 7301:10221 1461:5841>
0.170 < . 16061:17521(1460) ack 1 win 65535    // five blocks: the oldest reported is left out
0.170 > . 1:1(0) ack 1 <nop, nop, sack 16061:17521 11681:12681 13141:14601 7301:10221>
0.180 < . 1:1461(1460) ack 1 win 65535          // the hole at RCV.NXT filled: what is left
0.180 > . 1:1(0) ack 5841 <nop, nop, sack 16061:17521 11681:12681 13141:14601 7301:10221>
0.180 app received 5840
0.180 app tcp_counters tcp_accepted=1 tcp_ooseq=8
""", autorecv=True)


def test_sack_at_most_3_with_timestamps_and_on_every_ack():
    # with timestamps 3 blocks fit; an ACK of in-order data and a
    # challenge ACK carry them too
    run(TS_OPEN + """
0.100 < . 1461:2921(1460) ack 1 win 100 <nop, nop, TS val 1100 ecr 0>
0.100 > . 1:1(0) ack 1 <nop, nop, TS val 100 ecr 1010, nop, nop, sack 1461:2921>
0.110 < . 4381:5841(1460) ack 1 win 100 <nop, nop, TS val 1110 ecr 0>
0.110 > . 1:1(0) ack 1 <nop, nop, TS val 110 ecr 1010, nop, nop, sack 4381:5841 1461:2921>
0.120 < . 7301:8761(1460) ack 1 win 100 <nop, nop, TS val 1120 ecr 0>
0.120 > . 1:1(0) ack 1 <nop, nop, TS val 120 ecr 1010, nop, nop, sack 7301:8761 4381:5841 1461:2921>
0.130 < . 10221:11681(1460) ack 1 win 100 <nop, nop, TS val 1130 ecr 0>
0.130 > . 1:1(0) ack 1 <nop, nop, TS val 130 ecr 1010, nop, nop, sack 10221:11681 7301:8761 4381:5841>
0.200 < . 1:101(100) ack 1 win 100 <nop, nop, TS val 1200 ecr 0>
// at once: a gap is left (RFC 5681 4.2)
0.200 > . 1:1(0) ack 101 <nop, nop, TS val 200 ecr 1200, nop, nop, sack 10221:11681 7301:8761 4381:5841>
0.300 < S 101:101(0) win 100 <nop, nop, TS val 1300 ecr 0>
// TS.Recent from the SYN: R3 comes before the SYN check (RFC 7323 appendix D)
0.300 > . 1:1(0) ack 101 <nop, nop, TS val 300 ecr 1300, nop, nop, sack 10221:11681 7301:8761 4381:5841>
0.300 app tcp_counters tcp_ooseq=4 tcp_challenge_ack=1
""", TCP_DELACK_MS=40)


def test_sack_window_update_carries_blocks():
    run(SACK_OPEN + """
0.100 < . 1:1461(1460) ack 1 win 65535
0.100 < . 2921:4381(1460) ack 1 win 65535
0.100 > . 1:1(0) ack 1461 win 21900 <nop, nop, sack 2921:4381>
0.200 app recved all
0.200 > . 1:1(0) ack 1461 win 23360 <nop, nop, sack 2921:4381>
""")


def test_sack_edges_across_2_32():
    # the peer's ISN 0xFFFFFF00: a held block whose right edge wrapped
    isn = 0xFFFFFF00
    run(SACK_OPEN + """
0.100 < . 1:101(100) ack 1 win 65535
0.100 < . 201:401(200) ack 1 win 65535
0.100 > . 1:1(0) ack 101 <nop, nop, sack %d:%d>
0.110 < . 501:601(100) ack 1 win 65535
0.110 > . 1:1(0) ack 101 <nop, nop, sack %d:%d %d:%d>
""" % ((isn + 201) & M32, (isn + 401) & M32, (isn + 501) & M32, (isn + 601) & M32,
       (isn + 201) & M32, (isn + 401) & M32), isn=isn)


def test_no_sack_when_not_permitted():
    # the SYN had no SACK-permitted: out-of-order data is held, never SACKed
    run("""
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460, nop, nop, TS val 1 ecr 0>
0.000 > S. 0:0(0) ack 1 <mss 1460, nop, nop, TS val 0 ecr 1>
0.010 < . 1:1(0) ack 1 win 65535 <nop, nop, TS val 2 ecr 0>
0.100 < . 1461:2921(1460) ack 1 win 65535 <nop, nop, TS val 3 ecr 0>
0.100 > . 1:1(0) ack 1 <nop, nop, TS val 100 ecr 2>
0.200 < . 1:1461(1460) ack 1 win 65535 <nop, nop, TS val 4 ecr 0>
0.200 > . 1:1(0) ack 2921 <nop, nop, TS val 200 ecr 4>
0.200 app received 2920
""")


# ---- keepalive (RFC 9293 3.8.4, RFC 1122 4.2.3.6) -------------------------------------

OPEN = """
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460>
0.000 > S. 0:0(0) ack 1 <mss 1460>
0.010 < . 1:1(0) ack 1 win 65535
0.010 app tcp_counters tcp_accepted=1
"""
KA = {"TCP_KEEPIDLE_MS": 1000, "TCP_KEEPINTVL_MS": 200, "TCP_KEEPCNT": 3}


def test_keepalive_probes_answered_then_unanswered_times_out():
    # probes carry SND.NXT - 1 and no data; an answer (any acceptable
    # segment) restarts the idle time; TCP_KEEPCNT unanswered: RST, ETIMEDOUT
    run(OPEN + """
0.100 app keepalive on
1.100 > . 0:0(0) ack 1                          // TCP_KEEPIDLE_MS of silence
1.150 < . 1:1(0) ack 1 win 65535                // the answer
2.150 > . 0:0(0) ack 1
2.350 > . 0:0(0) ack 1                          // TCP_KEEPINTVL_MS apart
2.360 < P. 1:11(10) ack 1 win 65535             // data answers too
2.400 > . 1:1(0) ack 11
3.360 > . 0:0(0) ack 11
3.560 > . 0:0(0) ack 11
3.760 > . 0:0(0) ack 11
3.959 app state ESTABLISHED
3.960 > R. 1:1(0) ack 11
3.960 app err ETIMEDOUT
3.960 app pcbs 0
3.960 app tcp_counters tcp_keepalive_probe=6 tcp_timeout=1 tcp_rst_tx=1
""", autorecv=True, **KA)


def test_keepalive_off_by_default_and_after_off():
    # never a probe unless asked; turned off, none; turned on again, the
    # idle time counts from then (not from an old deadline)
    run(OPEN + """
9.000 app tcp_counters
9.000 app keepalive on
10.000 > . 0:0(0) ack 1
10.010 app keepalive off
30.000 app state ESTABLISHED
30.000 app keepalive on                         // on again: the idle time starts now
31.000 > . 0:0(0) ack 1
31.000 app tcp_counters tcp_keepalive_probe=2
""", **KA)


def test_keepalive_with_timestamps():
    # the probe is an ordinary segment of the connection: it carries the
    # timestamp option too, and the answer's TSval is taken
    run(TS_OPEN + """
0.010 app keepalive on
1.010 > . 0:0(0) ack 1 <nop, nop, TS val 1010 ecr 1010>
1.020 < . 1:1(0) ack 1 win 100 <nop, nop, TS val 2020 ecr 1010>
2.020 > . 0:0(0) ack 1 <nop, nop, TS val 2020 ecr 2020>
""", **KA)


# ---- RFC 5961 section 7: challenge ACKs are rate limited -------------------------------

def test_challenge_acks_limited_and_refilled():
    # TCP_CHALLENGE_ACK_PER_S = 10, a burst of 10: twelve in-window RSTs at
    # once get ten ACKs; 100 ms later one more token; after a second the
    # bucket is full again. The connection lives throughout.
    burst = "0.100 < R. 101:101(0) ack 1 win 0\n0.100 > . 1:1(0) ack 1\n" * 10
    run(OPEN + burst + """
0.100 < R. 101:101(0) ack 1 win 0
0.100 < S 1:1(0) win 65535 <mss 1460>           // a SYN spends the same budget
0.100 app tcp_counters tcp_rst_rx=11 tcp_challenge_ack=10 tcp_challenge_ack_limited=2
0.199 < R. 101:101(0) ack 1 win 0               // 99 ms: not a token yet
0.200 < R. 101:101(0) ack 1 win 0
0.200 > . 1:1(0) ack 1
0.200 < R. 101:101(0) ack 1 win 0
0.200 app tcp_counters tcp_rst_rx=3 tcp_challenge_ack=1 tcp_challenge_ack_limited=2
""" + burst.replace("0.100", "1.300") + """
1.300 < R. 101:101(0) ack 1 win 0
1.300 app tcp_counters tcp_rst_rx=11 tcp_challenge_ack=10 tcp_challenge_ack_limited=1
1.400 app state ESTABLISHED
1.500 < P. 1:101(100) ack 1 win 65535
1.540 > . 1:1(0) ack 101
""")


# ---- the paths the first scripts left out ----------------------------------------------

def _stall(sc):
    # the MAC finishes nothing: frames handed over stay in the 2-slot ring
    sc.r.drv.tx_reap = lambda out: 0


def _unstall(sc):
    assert sc.r.drv.pending_tx() == 2, sc.r.drv.pending_tx()
    assert sc.flow.pcb.blocked
    del sc.r.drv.tx_reap
    # one Stack.poll between timer ticks: it reaps the two, the stopped
    # output goes on, and what that sends must leave in this poll too (a
    # TAP writes frames at reap: left in the ring they wait for a later poll)
    sc.r.st.poll(sc.r.now())
    assert sc.r.drv.pending_tx() == 0, sc.r.drv.pending_tx()
    assert not sc.flow.pcb.blocked


def test_full_tx_ring_stops_output_next_reap_resumes_it():
    run((OPEN + "0.100 app nagle off", _stall, """
0.100 app write 4380
0.155 app quiet                                 // two segments in the ring, the third waits
""", _unstall, """
0.155 > . 1:1461(1460) ack 1                    // a poll between timer ticks reaps them
0.155 > . 1461:2921(1460) ack 1
0.155 > P. 2921:4381(1460) ack 1                // and the third goes out in the same poll
0.160 < . 1:1(0) ack 4381 win 65535
0.160 app tcp_counters
0.160 app baseline
"""), tx_ring=2)


def _hold(sc):
    # the application keeps what it receives (H_TCP keeps charging it)
    f = sc.flow
    sc.held = []

    def recv(pcb, p):
        if p is None:
            f.eof += 1
            return
        f.received += p.tot
        sc.held.append(p)
    f.pcb.recv_cb = recv


def _release(sc):
    n = 0
    for p in sc.held:
        n += p.tot
        pbuf.free(p)
    del sc.held[:]
    sc.flow.pcb.recved(n)


def test_h_tcp_quota_full_data_not_acked_then_taken():
    # QUOTA_TCP_BLOCKS = 2: a third segment finds no room: dropped, no ACK
    # (the peer sends it again); once the application frees, it is taken
    run((OPEN, _hold, """
0.100 < . 1:1001(1000) ack 1 win 65535
0.100 < . 1001:2001(1000) ack 1 win 65535
0.100 > . 1:1(0) ack 2001 win 21360
0.110 < . 2001:3001(1000) ack 1 win 65535
0.110 app received 2000
0.110 app tcp_counters tcp_drop_no_buffer=1
0.300 app quiet                                 // not acknowledged, not even later
""", _release, """
0.300 > . 1:1(0) ack 2001 win 23360             // the window update
0.310 < . 2001:3001(1000) ack 1 win 65535       // sent again: taken
0.310 app received 3000
0.350 > . 1:1(0) ack 3001 win 22360
""", _release, """
0.400 app tcp_counters
0.400 app baseline
"""), QUOTA_TCP_BLOCKS=2)


def test_ooseq_full_drops_and_still_acks():
    # TCP_OOSEQ_MAX = 2: a third out-of-order segment is dropped (counted),
    # the duplicate ACK goes out anyway, SACKing what is held
    run(SACK_OPEN + """
0.100 < . 1461:2921(1460) ack 1 win 65535
0.100 > . 1:1(0) ack 1 <nop, nop, sack 1461:2921>
0.110 < . 4381:5841(1460) ack 1 win 65535
0.110 > . 1:1(0) ack 1 <nop, nop, sack 4381:5841 1461:2921>
0.120 < . 7301:8761(1460) ack 1 win 65535
0.120 > . 1:1(0) ack 1 <nop, nop, sack 4381:5841 1461:2921>
0.120 app tcp_counters tcp_accepted=1 tcp_ooseq=2 tcp_ooseq_full=1
0.130 < . 1:1461(1460) ack 1 win 65535
0.130 > . 1:1(0) ack 2921 <nop, nop, sack 4381:5841>
0.140 < . 2921:4381(1460) ack 1 win 65535
0.140 > . 1:1(0) ack 5841 <>
0.140 app received 5840
0.150 < . 7301:8761(1460) ack 1 win 65535       // room again: held
0.150 > . 1:1(0) ack 5841 <nop, nop, sack 7301:8761>
0.150 app tcp_counters tcp_ooseq=1
""", autorecv=True, TCP_OOSEQ_MAX=2)


def test_active_open_ts_and_sack_taken_up():
    # our SYN offers both; the SYN-ACK takes them up: TS.Recent is its
    # TSval, out-of-order data is SACKed next to the timestamp, and the
    # options come out of the peer's MSS (RFC 6691), never making a
    # segment bigger than it (it went out as IP fragments)
    run("""
0.000 app connect
0.000 > S 0:0(0) win 23360 <mss 1460, sackOK, TS val 0 ecr 0, nop, wscale 0>
0.020 < S. 0:0(0) ack 1 win 1000 <mss 1460, sackOK, TS val 500 ecr 0, nop, wscale 1>
0.020 > . 1:1(0) ack 1 win 23360 <nop, nop, TS val 20 ecr 500>
0.020 app state ESTABLISHED
0.100 < . 101:201(100) ack 1 win 1000 <nop, nop, TS val 600 ecr 20>
0.100 > . 1:1(0) ack 1 <nop, nop, TS val 100 ecr 500, nop, nop, sack 101:201>
0.110 < . 1:101(100) ack 1 win 1000 <nop, nop, TS val 610 ecr 20>
0.110 > . 1:1(0) ack 201 <nop, nop, TS val 110 ecr 610>
0.115 < . 301:401(100) ack 1 win 1000 <nop, nop, TS val 615 ecr 20>
0.115 > . 1:1(0) ack 201 <nop, nop, TS val 115 ecr 610, nop, nop, sack 301:401>
0.120 app write 1500                            // 1000 << 1: one full segment fits
0.120 > . 1:1449(1448) ack 201 <nop, nop, TS val 120 ecr 610>   // 1460 less the TS option; no room for SACK
0.130 < . 201:201(0) ack 1449 win 1000 <nop, nop, TS val 630 ecr 120>
0.130 > P. 1449:1501(52) ack 201 <nop, nop, TS val 130 ecr 630, nop, nop, sack 301:401>
0.130 app tcp_counters tcp_active_open=1 tcp_connected=1 tcp_ooseq=2
""")


def test_options_turned_off_in_config_never_used():
    # TCP_WINDOW_SCALING/TIMESTAMPS/SACK = 0: our SYN offers none of them,
    # and a SYN-ACK carrying them anyway does not switch them on (RFC 7323
    # 1.3: only when both SYNs carry them); a passive SYN offering them all
    # gets a SYN-ACK with the MSS alone
    run("""
0.000 app connect
0.000 > S 0:0(0) win 65535 <mss 1460>
0.010 < S. 0:0(0) ack 1 win 1000 <mss 1460, sackOK, TS val 5 ecr 0, nop, wscale 3>
0.010 > . 1:1(0) ack 1 win 65535 <>
0.020 app write 1200
0.020 > . 1:1001(1000) ack 1 <>                 // 1000, not 1000 << 3
0.030 < . 201:301(100) ack 1001 win 1000 <nop, nop, TS val 6 ecr 0>
0.030 > . 1001:1001(0) ack 1 <>                 // the duplicate ACK carries no SACK
0.030 > P. 1001:1201(200) ack 1 <>
flow 40001
0.100 app listen
0.100 < S 0:0(0) win 65535 <mss 1460, sackOK, TS val 7 ecr 0, nop, wscale 7>
0.100 > S. 0:0(0) ack 1 win 65535 <mss 1460>
""", TCP_WND_BYTES=BIG_WND, TCP_WND_BLOCKS=BIG_BLOCKS, TCP_WINDOW_SCALING=0, TCP_TIMESTAMPS=0, TCP_SACK=0)
