# TCP (stack/tcp.py) through packetdrill-style scripts on the virtual clock
# (host_tests/unit/tcpscript.py): every segment the stack sends is checked
# field by field at the exact ms it leaves, so RTO, persist, delayed ACK and
# TIME_WAIT are tested exactly and fast. Runs on both lanes; every script
# ends with the stack shut down and the pool back at baseline.
import frames
from support import PEER_IP, US_IP
from tcpscript import Script, run, stream, tcp_rig

from stack import pbuf

# a passive open on 8080 from the peer's 40000, ESTABLISHED, no data yet
OPEN = """
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460>
0.000 > S. 0:0(0) ack 1 win 23360 <mss 1460>
0.010 < . 1:1(0) ack 1 win 65535
0.010 app state ESTABLISHED
0.010 app tcp_counters tcp_accepted=1
"""

# ---- opening -----------------------------------------------------------------------


def test_passive_open_mss_both_ways():
    run(OPEN + """
0.020 app write 3000
0.020 > . 1:1461(1460) ack 1 win 23360
0.020 > . 1461:2921(1460) ack 1
0.025 app quiet                  // Nagle: the 80-byte tail waits for the ACK
0.030 < . 1:1(0) ack 2921 win 65535
0.030 > P. 2921:3001(80) ack 1
0.040 < . 1:1(0) ack 3001 win 65535
0.040 app tcp_counters
""")


def test_passive_open_peer_mss_caps_segments():
    run("""
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 536>
0.000 > S. 0:0(0) ack 1 <mss 1460>
0.010 < . 1:1(0) ack 1 win 65535
0.020 app write 1200
0.020 > . 1:537(536) ack 1
0.020 > . 537:1073(536) ack 1
0.030 < . 1:1(0) ack 1073 win 65535
0.030 > P. 1073:1201(128) ack 1
""")


def test_passive_open_no_mss_option_means_536():
    run("""
0.000 app listen
0.000 < S 0:0(0) win 65535
0.000 > S. 0:0(0) ack 1 <mss 1460>
0.010 < . 1:1(0) ack 1 win 65535
0.020 app write 600
0.020 > . 1:537(536) ack 1
0.030 < . 1:1(0) ack 537 win 65535
0.030 > P. 537:601(64) ack 1
""")


def test_active_open_ephemeral_port():
    def port_ok(sc):
        lport = sc.flow.lport
        assert 49152 <= lport <= 65535, lport
        assert sc.flow.pcb.local_port == lport
        assert sc.flow.connected == 1
    run(("""
0.000 app connect
0.000 > S 0:0(0) win 23360 <mss 1460, sackOK, TS val 0 ecr 0, nop, wscale 0>
0.050 < S. 0:0(0) ack 1 win 65535 <mss 1000>
0.050 > . 1:1(0) ack 1 win 23360
0.050 app state ESTABLISHED
0.050 app tcp_counters tcp_active_open=1 tcp_connected=1
""", port_ok, """
0.060 app write 2500
0.060 > . 1:1001(1000) ack 1
0.060 > . 1001:2001(1000) ack 1
0.070 < . 1:1(0) ack 2001 win 65535
0.070 > P. 2001:2501(500) ack 1
"""))


def test_syn_retransmitted_then_gives_up():
    # SYN retransmissions back off from TCP_RTO_INITIAL_MS; after
    # TCP_SYN_RETRIES the connect fails with ETIMEDOUT (no RST: nothing to reset)
    run("""
0.000 app connect
0.000 > S 0:0(0) <mss 1460, sackOK, TS val 0 ecr 0, nop, wscale 0>
0.200 > S 0:0(0) <mss 1460, sackOK, TS val 200 ecr 0, nop, wscale 0>
0.600 > S 0:0(0) <mss 1460, sackOK, TS val 600 ecr 0, nop, wscale 0>
1.400 > S 0:0(0) <mss 1460, sackOK, TS val 1400 ecr 0, nop, wscale 0>
2.999 app state SYN_SENT
3.000 app err ETIMEDOUT
3.000 app pcbs 0
3.000 app tcp_counters tcp_active_open=1 tcp_rto=3 tcp_retransmit=3 tcp_timeout=1
3.000 app baseline
""", TCP_RTO_INITIAL_MS=200, TCP_RTO_MIN_MS=100, TCP_SYN_RETRIES=3)


def test_synack_retransmitted_and_embryo_dropped():
    # our SYN-ACK is lost: sent again on RTO; after TCP_SYN_RETRIES the
    # half-open connection is forgotten silently (no err_cb, no RST)
    run("""
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460>
0.000 > S. 0:0(0) ack 1 <mss 1460>
0.200 > S. 0:0(0) ack 1 <mss 1460>
0.600 > S. 0:0(0) ack 1 <mss 1460>
1.399 app pcbs 1
1.400 app pcbs 0
1.400 app tcp_counters tcp_rto=2 tcp_retransmit=2 tcp_timeout=1
""", TCP_RTO_INITIAL_MS=200, TCP_RTO_MIN_MS=100, TCP_SYN_RETRIES=2)


# ---- data in -----------------------------------------------------------------------

def test_data_in_delayed_ack_exact():
    run(OPEN + """
0.100 < P. 1:1001(1000) ack 1 win 65535
0.139 app received 1000
0.140 > . 1:1(0) ack 1001 win 22360      // TCP_DELACK_MS after it came
0.200 app recved all
0.200 app quiet                          // 1000 bytes back: less than an MSS, no update
0.300 < P. 1001:1101(100) ack 1 win 65535
0.340 > . 1:1(0) ack 1101 win 23260
0.340 app tcp_counters
""", TCP_DELACK_MS=40)


def test_data_in_every_second_segment_acked_at_once():
    run(OPEN + """
0.100 < . 1:1461(1460) ack 1 win 65535
0.100 < . 1461:2921(1460) ack 1 win 65535
0.100 > . 1:1(0) ack 2921 win 20440
0.110 < . 2921:4381(1460) ack 1 win 65535
0.110 < . 4381:5841(1460) ack 1 win 65535
0.110 > . 1:1(0) ack 5841 win 17520
0.120 < . 5841:7301(1460) ack 1 win 65535
0.320 > . 1:1(0) ack 7301 win 16060
0.330 app received 7300
""", TCP_DELACK_MS=200)


def test_window_reopens_when_the_application_reads():
    run(OPEN + """
0.100 < . 1:1461(1460) ack 1 win 65535
0.100 < . 1461:2921(1460) ack 1 win 65535
0.100 > . 1:1(0) ack 2921 win 20440
0.200 app recved 1000
0.200 app quiet                          // grew by less than an MSS: no update
0.300 app recved 1920
0.300 > . 1:1(0) ack 2921 win 23360
""")


def test_out_of_order_held_and_filled_once():
    run(OPEN + """
0.100 < . 1461:2921(1460) ack 1 win 65535
0.100 > . 1:1(0) ack 1 win 23360          // a duplicate ACK at once
0.110 < . 2921:4381(1460) ack 1 win 65535
0.110 > . 1:1(0) ack 1 win 23360
0.115 < . 2921:4381(1460) ack 1 win 65535  // again: overlaps what is held
0.115 > . 1:1(0) ack 1 win 23360
0.116 app received 0
0.120 < . 1:1461(1460) ack 1 win 65535    // fills the hole: all of it goes up, ACK at once
0.120 > . 1:1(0) ack 4381 win 18980
0.120 app received 4380
0.130 < . 1461:2921(1460) ack 1 win 65535  // old data: an ACK, nothing delivered
0.130 > . 1:1(0) ack 4381 win 18980
0.130 app received 4380
0.130 app tcp_counters tcp_ooseq=2 tcp_ooseq_overlap=1 tcp_out_of_window=1
""")


# ---- data out ----------------------------------------------------------------------

def test_nagle_on_holds_a_small_segment_off_sends_it():
    run(OPEN + """
0.100 app write 100
0.100 > P. 1:101(100) ack 1
0.100 app write 100
0.149 app quiet                          // Nagle: one small segment in flight at most
0.150 < . 1:1(0) ack 101 win 65535
0.150 > P. 101:201(100) ack 1
0.200 < . 1:1(0) ack 201 win 65535
0.300 app nagle off
0.300 app write 100
0.300 > P. 201:301(100) ack 1
0.300 app write 100
0.300 > P. 301:401(100) ack 1
0.400 < . 1:1(0) ack 401 win 65535
0.400 app tcp_counters
""")


def test_rto_backoff_exact_and_karn():
    run(OPEN + """
0.100 app write 100
0.100 > P. 1:101(100) ack 1
0.400 > P. 1:101(100) ack 1              // TCP_RTO_INITIAL_MS
1.000 > P. 1:101(100) ack 1              // doubled
2.200 > P. 1:101(100) ack 1              // doubled again
2.300 < . 1:1(0) ack 101 win 65535       // Karn: an ACK of a retransmission is no sample
2.400 app write 100
2.400 > P. 101:201(100) ack 1
4.400 > P. 101:201(100) ack 1            // the backed-off RTO (capped at TCP_RTO_MAX_MS) stays
4.450 < . 1:1(0) ack 201 win 65535
4.500 app write 100
4.500 > P. 201:301(100) ack 1
4.550 < . 1:1(0) ack 301 win 65535       // a clean sample: 50 ms -> RTO 50 + 4 * 25 = 150
4.600 app write 100
4.600 > P. 301:401(100) ack 1
4.750 > P. 301:401(100) ack 1
4.760 < . 1:1(0) ack 401 win 65535
4.760 app tcp_counters tcp_rto=5 tcp_retransmit=5
""", TCP_RTO_INITIAL_MS=300, TCP_RTO_MIN_MS=100, TCP_RTO_MAX_MS=2000)


def test_retries_exhausted_rst_and_etimedout():
    run(OPEN + """
0.100 app write 100
0.100 > P. 1:101(100) ack 1
0.200 > P. 1:101(100) ack 1
0.400 > P. 1:101(100) ack 1
0.800 > P. 1:101(100) ack 1
1.599 app state ESTABLISHED
1.600 > R. 101:101(0) ack 1
1.600 app err ETIMEDOUT
1.600 app pcbs 0
1.600 app tcp_counters tcp_rto=3 tcp_retransmit=3 tcp_timeout=1 tcp_rst_tx=1
1.600 app baseline
""", TCP_RTO_INITIAL_MS=100, TCP_RTO_MIN_MS=100, TCP_MAX_RETRIES=3)


def test_fast_retransmit_and_newreno_partial_ack():
    run("""
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1000>
0.000 > S. 0:0(0) ack 1 <mss 1460>
0.010 < . 1:1(0) ack 1 win 65535
0.100 app write 8000
0.100 > . 1:1001(1000) ack 1             // initial window: 4 segments of 1000
0.100 > . 1001:2001(1000) ack 1
0.100 > . 2001:3001(1000) ack 1
0.100 > . 3001:4001(1000) ack 1
0.200 < . 1:1(0) ack 1001 win 65535      // slow start: two more
0.200 > . 4001:5001(1000) ack 1
0.200 > . 5001:6001(1000) ack 1
0.210 < . 1:1(0) ack 1001 win 65535
0.211 < . 1:1(0) ack 1001 win 65535
0.212 < . 1:1(0) ack 1001 win 65535      // the third duplicate: fast retransmit
0.212 > . 1001:2001(1000) ack 1
0.213 < . 1:1(0) ack 1001 win 65535      // a fourth inflates the window: new data
0.213 > . 6001:7001(1000) ack 1
0.300 < . 1:1(0) ack 3001 win 65535      // partial ACK: the next hole goes at once
0.300 > . 3001:4001(1000) ack 1
0.300 > P. 7001:8001(1000) ack 1
0.400 < . 1:1(0) ack 8001 win 65535      // full ACK: recovery over
0.400 app tcp_counters tcp_accepted=1 tcp_dup_ack=4 tcp_fast_retransmit=1 tcp_retransmit=2
""")


def test_zero_window_persist_probes_back_off():
    run(OPEN + """
0.100 < . 1:1(0) ack 1 win 0
0.200 app write 100
0.200 app quiet
0.400 > . 1:2(1) ack 1                   // first probe after an RTO
0.400 < . 1:1(0) ack 1 win 0
0.800 > . 1:2(1) ack 1
0.800 < . 1:1(0) ack 1 win 0
1.600 > . 1:2(1) ack 1
1.600 < . 1:1(0) ack 1 win 0
3.200 > . 1:2(1) ack 1
3.200 < . 1:1(0) ack 1 win 0
6.400 > . 1:2(1) ack 1
6.400 < . 1:1(0) ack 1 win 0
12.800 > . 1:2(1) ack 1
12.800 < . 1:1(0) ack 1 win 0
12.900 app state ESTABLISHED
13.000 < . 1:1(0) ack 1 win 65535        // the window opens: everything goes
13.000 > P. 1:101(100) ack 1
13.010 < . 1:1(0) ack 101 win 65535
13.010 app tcp_counters tcp_window_probe=6
""", TCP_RTO_INITIAL_MS=200, TCP_RTO_MIN_MS=100, TCP_MAX_RETRIES=3)


def test_zero_window_probe_unanswered_gives_up():
    run(OPEN + """
0.100 < . 1:1(0) ack 1 win 0
0.200 app write 100
0.400 > . 1:2(1) ack 1
0.800 > . 1:2(1) ack 1
1.600 > . 1:2(1) ack 1
3.200 > R. 1:1(0) ack 1
3.200 app err ETIMEDOUT
3.200 app pcbs 0
3.200 app tcp_counters tcp_window_probe=3 tcp_timeout=1 tcp_rst_tx=1
""", TCP_RTO_INITIAL_MS=200, TCP_RTO_MIN_MS=100, TCP_MAX_RETRIES=3)


def test_zero_window_probe_byte_taken_then_window_opens():
    # the peer keeps the probe's byte; the backoff starts over on the next zero window
    run(OPEN + """
0.100 < . 1:1(0) ack 1 win 0
0.200 app write 100
0.400 > . 1:2(1) ack 1
0.400 < . 1:1(0) ack 2 win 0
0.800 > . 2:3(1) ack 1
0.900 < . 1:1(0) ack 2 win 1000
0.900 > P. 2:101(99) ack 1
0.910 < . 1:1(0) ack 101 win 0
1.000 app write 100
1.200 > . 101:102(1) ack 1
1.200 < . 1:1(0) ack 101 win 0
1.600 > . 101:102(1) ack 1
1.700 < . 1:1(0) ack 101 win 65535
1.700 > P. 101:201(100) ack 1
1.710 < . 1:1(0) ack 201 win 65535
1.710 app tcp_counters tcp_window_probe=4
""", TCP_RTO_INITIAL_MS=200, TCP_RTO_MIN_MS=100, TCP_MAX_RETRIES=3)


def test_window_closes_with_data_in_flight_rto_then_persist():
    run(OPEN + """
0.100 app write 100
0.100 > P. 1:101(100) ack 1
0.150 < . 1:1(0) ack 1 win 0             // lost, and the window shut meanwhile
0.300 app quiet                          // the RTO: nothing may go into a zero window,
0.700 > . 1:2(1) ack 1                   // the persist timer takes over (backed-off RTO)
0.700 < . 1:1(0) ack 1 win 0
1.500 > . 1:2(1) ack 1
1.500 < . 1:1(0) ack 1 win 0
1.600 < . 1:1(0) ack 1 win 65535
1.600 > P. 1:101(100) ack 1
1.610 < . 1:1(0) ack 101 win 65535
1.610 app tcp_counters tcp_rto=1 tcp_retransmit=1 tcp_window_probe=2
""", TCP_RTO_INITIAL_MS=200, TCP_RTO_MIN_MS=100, TCP_MAX_RETRIES=3)


# ---- closing -----------------------------------------------------------------------

def test_active_close_fin_wait_and_time_wait_exactly_2msl():
    run(OPEN + """
0.100 app close
0.100 > F. 1:1(0) ack 1
0.100 app state FIN_WAIT_1
0.110 < . 1:1(0) ack 2 win 65535
0.110 app state FIN_WAIT_2
0.200 < P. 1:101(100) ack 2 win 65535    // half-close: data still comes in
0.200 app received 100
0.240 > . 2:2(0) ack 101
0.300 < F. 101:101(0) ack 2 win 65535
0.300 > . 2:2(0) ack 102
0.300 app state TIME_WAIT
0.300 app eof
0.800 < F. 101:101(0) ack 2 win 65535    // the FIN again (our ACK lost): ACK, 2 MSL restart
0.800 > . 2:2(0) ack 102
2.799 app pcbs 1
2.800 app pcbs 0
2.800 app tcp_counters tcp_out_of_window=1 tcp_timewait_expired=1
2.800 app baseline
""", TCP_MSL_MS=1000, TCP_DELACK_MS=40)


def test_time_wait_ignores_a_reset():
    # RFC 1337 (as lwIP): a RST does not end TIME_WAIT. Seen with Linux as the
    # peer: its tail-loss probe resends the FIN a few ms after it, our ACK of the
    # first FIN closes its socket, our ACK of the probe earns a RST there.
    run(OPEN + """
0.100 app close
0.100 > F. 1:1(0) ack 1
0.110 < F. 1:1(0) ack 2 win 65535
0.110 > . 2:2(0) ack 2
0.110 app state TIME_WAIT
0.200 < F. 1:1(0) ack 2 win 65535      // the peer's probe: the FIN again
0.200 > . 2:2(0) ack 2
0.201 < R 2:2(0) win 0                 // at RCV.NXT: would have closed it
0.201 app state TIME_WAIT
2.199 app pcbs 1
2.200 app pcbs 0
2.200 app tcp_counters tcp_out_of_window=1 tcp_timewait_rst_ignored=1 tcp_timewait_expired=1
2.200 app baseline
""", TCP_MSL_MS=1000)


def test_passive_close_close_wait_last_ack():
    run(OPEN + """
0.100 < F. 1:1(0) ack 1 win 65535
0.100 > . 1:1(0) ack 2
0.100 app state CLOSE_WAIT
0.100 app eof
0.200 app write 100                      // CLOSE_WAIT still sends
0.200 > P. 1:101(100) ack 2
0.210 < . 2:2(0) ack 101 win 65535
0.300 app close
0.300 > F. 101:101(0) ack 2
0.300 app state LAST_ACK
1.300 > F. 101:101(0) ack 2              // no ACK: the FIN goes again after an RTO
1.310 < . 2:2(0) ack 102 win 65535
1.310 app pcbs 0
1.310 app tcp_counters tcp_closed=1 tcp_rto=1 tcp_retransmit=1
1.310 app baseline
""")


def test_close_sends_queued_data_then_fin():
    run(OPEN + """
0.100 app write 100
0.100 > P. 1:101(100) ack 1
0.100 app close
0.100 > F. 101:101(0) ack 1             // the FIN goes right after the data
0.110 < . 1:1(0) ack 102 win 65535
0.120 app state FIN_WAIT_2
0.130 < F. 1:1(0) ack 102 win 65535
0.130 > . 102:102(0) ack 2
0.130 app state TIME_WAIT
""")


def test_simultaneous_close_through_closing():
    run(OPEN + """
0.100 app close
0.100 > F. 1:1(0) ack 1
0.110 < F. 1:1(0) ack 1 win 65535        // the FINs cross
0.110 > . 2:2(0) ack 2
0.110 app state CLOSING
0.120 < . 2:2(0) ack 2 win 65535
0.120 app state TIME_WAIT
0.120 app eof
60.119 app pcbs 1
60.120 app pcbs 0
""")


def test_simultaneous_open():
    # RFC 9293 figure 8: the SYNs cross, each side answers with a SYN-ACK
    run("""
0.000 app connect
0.000 > S 0:0(0) <mss 1460, sackOK, TS val 0 ecr 0, nop, wscale 0>
0.010 < S 0:0(0) win 65535 <mss 1000>
0.010 > S. 0:0(0) ack 1 <mss 1460>
0.010 app state SYN_RCVD
0.020 < S. 0:0(0) ack 1 win 65535 <mss 1000>
0.020 app state ESTABLISHED
0.020 app tcp_counters tcp_active_open=1 tcp_connected=1
0.030 app write 100
0.030 > P. 1:101(100) ack 1
0.040 < . 1:1(0) ack 101 win 65535
""")


def test_simultaneous_open_completed_by_an_ack():
    # the peer's SYN-ACK is lost; it ACKs our SYN-ACK instead
    run("""
0.000 app connect
0.000 > S 0:0(0) <mss 1460, sackOK, TS val 0 ecr 0, nop, wscale 0>
0.010 < S 0:0(0) win 65535 <mss 1000>
0.010 > S. 0:0(0) ack 1 <mss 1460>
0.020 < . 1:1(0) ack 1 win 65535
0.020 app state ESTABLISHED
0.020 app tcp_counters tcp_active_open=1 tcp_connected=1
0.030 app write 100
0.030 > P. 1:101(100) ack 1
0.040 < . 1:1(0) ack 101 win 65535
""")


def test_syn_again_in_syn_rcvd_gets_the_syn_ack_again():
    run("""
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460>
0.000 > S. 0:0(0) ack 1 <mss 1460>
0.500 < S 0:0(0) win 65535 <mss 1460>    // our SYN-ACK was lost: the peer's SYN again
0.500 > S. 0:0(0) ack 1 <mss 1460>
0.510 < . 1:1(0) ack 1 win 65535
0.510 app state ESTABLISHED
0.510 app pcbs 1
0.510 app tcp_counters tcp_accepted=1
""")


# ---- resets and RFC 5961 -----------------------------------------------------------

def test_rst_exact_sequence_resets():
    run(OPEN + """
0.100 < R. 1:1(0) ack 1 win 0
0.100 app err ECONNRESET
0.100 app pcbs 0
0.100 app tcp_counters tcp_rst_rx=1
0.100 app baseline
""")


def test_rst_in_window_gets_a_challenge_ack():
    run(OPEN + """
0.100 < R. 101:101(0) ack 1 win 0
0.100 > . 1:1(0) ack 1
0.100 app state ESTABLISHED
0.100 app err none
0.100 app tcp_counters tcp_rst_rx=1 tcp_challenge_ack=1
0.200 < P. 1:101(100) ack 1 win 65535    // still good for data
0.240 > . 1:1(0) ack 101
""")


def test_rst_out_of_window_ignored():
    run(OPEN + """
0.100 < R. 100001:100001(0) ack 1 win 0
0.100 < R 4294967000:4294967000(0) win 0
0.150 app state ESTABLISHED
0.150 app tcp_counters tcp_out_of_window=2
0.200 < P. 1:101(100) ack 1 win 65535
0.240 > . 1:1(0) ack 101
""")


def test_syn_on_established_gets_a_challenge_ack():
    run(OPEN + """
0.100 < S 1000:1000(0) win 65535 <mss 1460>
0.100 > . 1:1(0) ack 1
0.100 app state ESTABLISHED
0.100 app tcp_counters tcp_challenge_ack=1
0.200 < S 0:0(0) win 65535 <mss 1460>    // the old SYN again: outside the window, a challenge ACK too (RFC 5961 4.2)
0.200 > . 1:1(0) ack 1
0.200 app state ESTABLISHED
0.200 app tcp_counters tcp_challenge_ack=1
""")


def test_ack_of_unsent_data_answered_and_dropped():
    run(OPEN + """
0.100 < P. 1:101(100) ack 500 win 65535
0.100 > . 1:1(0) ack 1
0.110 app received 0
0.110 app state ESTABLISHED
0.110 app tcp_counters tcp_ack_unsent=1
0.200 < P. 1:101(100) ack 1 win 65535
0.240 > . 1:1(0) ack 101
0.240 app received 100
""")


def test_segments_to_a_closed_port_get_resets_of_both_forms():
    run("""
flow 41000
0.000 < . 1:1(0) ack 1000 win 65535      // ACK set: <SEQ=SEG.ACK><CTL=RST>
0.000 > R 1000:1000(0) win 0
flow 41001
0.010 < S 0:0(0) win 65535 <mss 1460>    // no ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
0.010 > R. 0:0(0) ack 1 win 0
flow 41002
0.020 < P 1:101(100) win 65535
0.020 > R. 0:0(0) ack 101 win 0
flow 41003
0.030 < F 1:1(0) win 65535
0.030 > R. 0:0(0) ack 2 win 0
flow 41004
0.040 < R. 1:1(0) ack 1 win 0            // never a reset for a reset
0.050 app tcp_counters tcp_no_pcb=5 tcp_rst_tx=4
""")


def test_syn_into_time_wait_reopens():
    # RFC 1122 4.2.2.13: a SYN above the old connection's sequence space
    # reopens it from TIME_WAIT, with a new ISN above the old one
    old = {}

    def note_isn(sc):
        old["isn"] = sc.flow.our_isn
        sc.flow.our_isn = None

    def new_isn_above(sc):
        d = (sc.flow.our_isn - old["isn"] - 2) & 0xFFFFFFFF
        assert 0 < d < 0x80000000, d

    run((OPEN + """
0.100 app close
0.100 > F. 1:1(0) ack 1
0.110 < F. 1:1(0) ack 2 win 65535
0.110 > . 2:2(0) ack 2
0.110 app state TIME_WAIT
0.200 < S 0:0(0) win 65535 <mss 1460>     // an old SYN: only an ACK
0.200 > . 2:2(0) ack 2
""", note_isn, """
0.300 < S 5000:5000(0) win 65535 <mss 1460>
0.300 > S. 0:0(0) ack 5001 <mss 1460>
0.300 app tcp_counters tcp_timewait_reopened=1 tcp_out_of_window=1
""", new_isn_above, """
0.310 < . 5001:5001(0) ack 1 win 65535
0.310 app state ESTABLISHED
0.310 app pcbs 1
0.310 app tcp_counters tcp_accepted=1
"""))


# ---- bounds: SYN flood, connection table ----------------------------------------------

def _syn_rcvd(sc):
    from stack.tcp import SYN_RCVD
    return len([p for p in sc.tcp.active if p.state == SYN_RCVD])


def test_syn_flood_stays_within_the_backlog_and_data_keeps_moving():
    with tcp_rig(TCP_RTO_INITIAL_MS=200, TCP_RTO_MIN_MS=100, TCP_SYN_RETRIES=1) as r:
        sc = Script(r)
        sc.run(OPEN.replace("app listen", "app listen backlog 3"))
        t = 100
        for i in range(12):
            sc.use(50000 + i)
            sc.run("%d.%03d < S 0:0(0) win 65535 <mss 1460>" % (t // 1000, t % 1000))
            if i < 3:
                sc.run("+0 > S. 0:0(0) ack 1 <mss 1460>")
            assert _syn_rcvd(sc) == min(i + 1, 3)
            # the established connection moves data meanwhile
            sc.use(40000)
            s = 1 + 100 * i
            sc.run("+0 < P. %d:%d(100) ack 1 win 65535" % (s, s + 100))
            if i & 1:
                sc.run("+0 > . 1:1(0) ack %d" % (s + 100))
            t += 10
        sc.run("""
0.250 app received 1200
0.250 app tcp_counters tcp_backlog_full=9
""")
        # the half-open ones time out (SYN-ACK once more, then forgotten) ...
        for i in range(3):
            sc.use(50000 + i)
            sc.run("%s > S. 0:0(0) ack 1 <mss 1460>" % ("0.%03d" % (300 + 10 * i)))
        sc.run("0.699 app pcbs 4", "0.700 app pcbs 3", "0.720 app pcbs 1")
        assert _syn_rcvd(sc) == 0
        # ... and the listener takes new ones again
        sc.use(50100)
        sc.run("""
0.900 < S 0:0(0) win 65535 <mss 1460>
0.900 > S. 0:0(0) ack 1 <mss 1460>
0.910 < . 1:1(0) ack 1 win 65535
0.910 app state ESTABLISHED
0.910 app pcbs 2
0.910 app tcp_counters tcp_rto=3 tcp_retransmit=3 tcp_timeout=3 tcp_accepted=1
""")
        sc.done()
        r.finish()


def test_table_full_recycles_the_oldest_time_wait():
    with tcp_rig(TCP_MAX_PCBS=2) as r:
        sc = Script(r)
        sc.run(OPEN + """
0.100 app close
0.100 > F. 1:1(0) ack 1
0.110 < F. 1:1(0) ack 2 win 65535
0.110 > . 2:2(0) ack 2
0.110 app state TIME_WAIT
flow 40001
0.200 < S 0:0(0) win 65535 <mss 1460>
0.200 > S. 0:0(0) ack 1 <mss 1460>
0.210 < . 1:1(0) ack 1 win 65535
0.210 app pcbs 2
flow 40002
0.300 < S 0:0(0) win 65535 <mss 1460>    // full: the TIME_WAIT one makes room
0.300 > S. 0:0(0) ack 1 <mss 1460>
0.300 app tcp_counters tcp_accepted=1 tcp_timewait_recycled=1
0.300 app pcbs 2
flow 40003
0.400 < S 0:0(0) win 65535 <mss 1460>    // full of live connections: dropped
0.400 app pcbs 2
0.400 app tcp_counters tcp_no_pcb_room=1
""")
        from support import raises
        e = raises(OSError, r.st.tcp.new().connect, PEER_IP, 9)
        assert e.args[0] == 105             # ENOBUFS
        sc.done()
        r.finish()


# ---- malformed and unusual segments ------------------------------------------------

def test_malformed_options_counted_no_crash_no_leak():
    # MSS option with length 0, 1, past the header, a kind without a length
    # byte: read no further (MSS 536), counted; the connection still opens
    for opts in ("raw 02 00", "raw 02 01", "raw 02 08 05 b4", "nop, nop, nop, raw 02",
                 "raw 02 03 05"):
        run("""
0.000 app listen
0.000 < S 0:0(0) win 65535 <%s>
0.000 > S. 0:0(0) ack 1 <mss 1460>
0.000 app tcp_counters tcp_bad_options=1
0.010 < . 1:1(0) ack 1 win 65535
0.020 app write 600
0.020 > . 1:537(536) ack 1
0.030 < . 1:1(0) ack 537 win 65535
0.030 > P. 537:601(64) ack 1
""" % opts)


def test_bad_checksum_and_bad_offset_dropped_counted():
    with tcp_rig() as r:
        sc = Script(r)
        sc.run(OPEN + """
0.100 < S 0:0(0) win 65535 <mss 1460> csum bad
0.100 < P. 1:101(100) ack 1 win 65535 csum bad
0.100 app tcp_counters tcp_bad_checksum=2
0.100 app received 0
""")
        f = sc.flow
        for doff in (4, 0, 15):
            sc.inject(frames.tcp(f.rport, 8080, f.isn + 1, f.our_isn + 1, "P.", 65535, b"x" * 8,
                                 b"", PEER_IP, US_IP, doff=doff))
        sc.inject(frames.tcp(f.rport, 8080, f.isn + 1, f.our_isn + 1, "P.", 65535, b"", b"",
                             PEER_IP, US_IP)[:16])
        sc.run("""
0.100 app tcp_counters tcp_bad_offset=3 tcp_truncated=1
0.200 < P. 1:101(100) ack 1 win 65535
0.240 > . 1:1(0) ack 101
0.240 app received 100
""")
        sc.done()
        r.finish()


def test_urgent_pointer_data_delivered_in_line():
    run(OPEN + """
0.100 < U. 1:101(100) ack 1 win 65535 urg 50
0.100 app received 100
0.140 > . 1:1(0) ack 101
0.200 < UP. 101:201(100) ack 1 win 65535 urg 1
0.240 > . 1:1(0) ack 201
0.240 app received 200
""")


def test_sequence_numbers_across_the_2_32_wrap():
    # the peer's ISN 0xFFFFFF00: its data crosses 2^32 in the second segment
    run(OPEN + """
0.100 < . 1:1461(1460) ack 1 win 65535
0.100 < . 1461:2921(1460) ack 1 win 65535
0.100 > . 1:1(0) ack 2921
0.110 < . 4381:5841(1460) ack 1 win 65535   // out of order beyond the wrap
0.110 > . 1:1(0) ack 2921
0.120 < . 2921:4381(1460) ack 1 win 65535
0.120 > . 1:1(0) ack 5841
0.120 app received 5840
0.130 app write 3000
0.130 > . 1:1461(1460) ack 5841
0.130 > . 1461:2921(1460) ack 5841
0.140 < . 5841:5841(0) ack 2921 win 65535
0.140 > P. 2921:3001(80) ack 5841
0.150 < F. 5841:5841(0) ack 3001 win 65535
0.150 > . 3001:3001(0) ack 5842
0.150 app state CLOSE_WAIT
""", isn=0xFFFFFF00)


def test_timers_across_the_2_30_clock_wrap():
    # the stack's clock starts 1 s before it wraps: RTO, delayed ACK and
    # TIME_WAIT deadlines fall on the far side
    from support import NEAR_WRAP
    run(OPEN + """
0.900 app write 100
0.900 > P. 1:101(100) ack 1
1.900 > P. 1:101(100) ack 1              // the RTO across the wrap
1.950 < P. 1:101(100) ack 101 win 65535
1.990 > . 101:101(0) ack 101             // the delayed ACK
2.000 app close
2.000 > F. 101:101(0) ack 101
2.010 < F. 101:101(0) ack 102 win 65535
2.010 > . 102:102(0) ack 102
4.009 app pcbs 1
4.010 app pcbs 0
4.010 app tcp_counters tcp_rto=1 tcp_retransmit=1 tcp_timewait_expired=1
""", now=NEAR_WRAP, TCP_MSL_MS=1000)


# ---- zero copy ---------------------------------------------------------------------

def test_zero_copy_receive_hands_up_the_rx_block():
    seen = []

    def take(sc):
        from stack.pool import pool
        pcb = sc.flow.pcb

        def recv(pcb, p):
            if p is None:
                return
            seen.append((p.kind, p.blk, p.next is None, p.tot, p.off))
            assert 0 <= p.blk < pool.NBLOCKS and not pool.is_hdr(p.blk), p.blk
            n = p.tot
            pbuf.free(p)
            pcb.recved(n)
        pcb.recv_cb = recv
        sc.copied0 = pbuf.copied()

    def no_copy(sc):
        assert pbuf.copied() == sc.copied0, pbuf.copied() - sc.copied0
        assert len(seen) == 2, seen
        for kind, blk, single, tot, off in seen:
            assert kind == pbuf.POOL and single and tot == 1000

    run((OPEN, take, """
0.100 < P. 1:1001(1000) ack 1 win 65535
0.100 < P. 1001:2001(1000) ack 1 win 65535
0.100 > . 1:1(0) ack 2001
""", no_copy))


def test_send_by_reference_done_after_ack():
    data = stream(0, 3000)
    done = []

    def write(sc):
        sc.copied0 = pbuf.copied()
        p = pbuf.rom(data, done=lambda obj: done.append(obj))
        assert sc.flow.pcb.write(p) == 0
        sc.flow.written += data

    def not_done(sc):
        assert done == []

    def is_done(sc):
        assert len(done) == 1 and done[0] is data
        assert sc.flow.sent_acked == 3000
        assert pbuf.copied() == sc.copied0

    run((OPEN + "0.100 app nagle off", write, """
0.100 > . 1:1461(1460) ack 1
0.100 > . 1461:2921(1460) ack 1
0.100 > P. 2921:3001(80) ack 1
0.150 < . 1:1(0) ack 2921 win 65535
""", not_done, """
1.150 > P. 2921:3001(80) ack 1           // the tail is lost: sent again from the same bytes
""", not_done, """
1.160 < . 1:1(0) ack 3001 win 65535
""", is_done))


# ---- more edges ------------------------------------------------------------------------

def test_accept_refused_resets():
    def refuse(sc):
        sc.listener.accept_cb = lambda pcb: False
    run(("0.000 app listen", refuse, """
0.000 < S 0:0(0) win 65535 <mss 1460>
0.000 > S. 0:0(0) ack 1 <mss 1460>
0.010 < . 1:1(0) ack 1 win 65535
0.010 > R. 1:1(0) ack 1
0.010 app pcbs 0
0.010 app tcp_counters tcp_accepted=1 tcp_rst_tx=1
"""))


def test_abort_resets_without_err_cb():
    run(OPEN + """
0.100 app write 100
0.100 > P. 1:101(100) ack 1
0.200 app abort
0.200 > R. 101:101(0) ack 1
0.200 app err none
0.200 app pcbs 0
0.200 app baseline
""")


def test_rst_in_syn_sent():
    run("""
0.000 app connect
0.000 > S 0:0(0) <mss 1460, sackOK, TS val 0 ecr 0, nop, wscale 0>
0.010 < R. 0:0(0) ack 5 win 0            // a wrong ACK: ignored
0.010 app state SYN_SENT
0.020 < R. 0:0(0) ack 1 win 0            // acknowledges our SYN: refused
0.020 app err ECONNRESET
0.020 app pcbs 0
0.020 app tcp_counters tcp_active_open=1 tcp_rst_rx=1
""")


def test_data_beyond_the_window_not_taken():
    fill = ""
    for k in range(16):
        fill += "0.100 < . %d:%d(1460) ack 1 win 65535\n" % (1 + 1460 * k, 1461 + 1460 * k)
        if k & 1:           # every second segment: an ACK at once
            fill += "0.100 > . 1:1(0) ack %d win %d\n" % (1461 + 1460 * k, 23360 - 1460 * (k + 1))
    run(OPEN + fill + """
0.100 app received 23360
0.200 < . 23361:23461(100) ack 1 win 65535   // the window is shut: an ACK, nothing taken
0.200 > . 1:1(0) ack 23361 win 0
0.200 app received 23360
0.300 app recved all
0.300 > . 1:1(0) ack 23361 win 23360
0.400 < . 23161:24621(1460) ack 1 win 65535  // overlaps the left edge: the new part taken
0.400 app received 24620
0.440 > . 1:1(0) ack 24621 win 22100
0.440 app tcp_counters tcp_out_of_window=1
""")


def test_engine_reports_what_differs():
    # the engine itself: a wrong expectation fails, naming the line and the segment
    from support import raises
    for bad, words in (("0.000 > S. 0:0(0) ack 2 <mss 1460>", "ack 1, not 2"),
                       ("0.001 > S. 0:0(0) ack 1 <mss 1460>", "sent at 0.000, not 0.001"),
                       ("0.000 > S. 0:0(0) ack 1 win 1000", "win 23360, not 1000"),
                       ("0.000 > S. 0:0(0) ack 1 <mss 536>", "options"),
                       ("0.000 > S 0:0(0)", "flags S., not S"),
                       ("0.000 app quiet", "unexpected segment(s) sent: S. 0:0(0) ack 1")):
        with tcp_rig() as r:
            sc = Script(r)
            e = raises(AssertionError, sc.run, """
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460>
""" + bad)
            assert words in str(e) and bad in str(e), (str(e), words)
            r.finish()
    with tcp_rig() as r:
        sc = Script(r)
        e = raises(AssertionError, sc.run, OPEN + "0.100 < P. 1:101(100) ack 1\n0.150 app quiet")
        assert "unexpected segment(s) sent: . 1:1(0) ack 101" in str(e), str(e)
        r.finish()


def test_fin_with_data_and_ack_piggybacked_on_a_reply():
    run(OPEN + """
0.100 < P. 1:101(100) ack 1 win 65535
0.120 app write 100                      // a reply inside the delayed-ACK time carries the ACK
0.120 > P. 1:101(100) ack 101
0.200 app quiet
0.300 < FP. 101:201(100) ack 101 win 65535
0.300 > . 101:101(0) ack 202
0.300 app state CLOSE_WAIT
0.300 app received 200
0.300 app eof
""")


def test_syn_options_we_do_not_speak_are_not_echoed():
    # a SYN-ACK carries only options the SYN offered (RFC 7323 1.3, 2.2:
    # no window scale or timestamps unless the SYN had them), MSS always
    def only_offered(sc):
        kinds = [o[0] for o in sc.last["tcp"]["options"]]
        assert "mss" in kinds, kinds
        for k in kinds:
            assert k in ("mss", "sackok", "nop", "eol"), kinds
    run(("""
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460, nop, nop, sackOK>
0.000 > S. 0:0(0) ack 1
""", only_offered))
