# TCP options and the paths the first scripts (test_tcp_script.py) left out,
# as packetdrill-style scripts on the virtual clock (host_tests/unit/tcpscript.py):
# window scaling and timestamps with PAWS (RFC 7323), SACK blocks (RFC 2018),
# keepalive (RFC 1122 4.2.3.6), a full TX ring, H_TCP's quota, a full
# out-of-order queue, RFC 5961's "ACK too old" and the challenge ACK limit
# (RFC 5961 7). Option values (TS val/ecr, SACK edges) are absolute numbers:
# the peer's ISN is 0 unless a script sets it, so its edges read as offsets.
from tcpscript import M32, run

# TCP_WND_BYTES that needs a shift of 2 (200000 >> 2 = 50000 fits 16 bits)
BIG_WND = 200000


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
""", TCP_WND_BYTES=BIG_WND, TCP_DELACK_MS=40)


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
""", TCP_WND_BYTES=BIG_WND)


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
""", TCP_WND_BYTES=BIG_WND)


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
""", TCP_WND_BYTES=BIG_WND)


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
