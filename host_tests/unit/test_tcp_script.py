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
