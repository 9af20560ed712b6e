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
0.000 > S 0:0(0) win 23360 <mss 1460>
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
0.000 > S 0:0(0) <mss 1460>
0.200 > S 0:0(0) <mss 1460>
0.600 > S 0:0(0) <mss 1460>
1.400 > S 0:0(0) <mss 1460>
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
0.000 > S 0:0(0) <mss 1460>
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
0.000 > S 0:0(0) <mss 1460>
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
