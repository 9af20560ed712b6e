# Named drop and event counters: one flat namespace, one JSON object.
# Every drop the stack makes moves exactly one of these. The schema (names and
# meanings) is this table; docs/counters.md is generated from it and a test
# keeps the two in step. Values are plain ints in one dict, so a hot-path
# increment is a dict update (no allocation).

SCHEMA = (
    # Ethernet
    ("eth_rx", "frames taken from the driver"),
    ("eth_truncated", "drop: frame shorter than the Ethernet header"),
    ("eth_other_dst", "drop: destination MAC is neither ours, broadcast nor multicast"),
    ("eth_unknown_type", "drop: EtherType we do not handle"),
    ("eth_own_src", "drop: frame with our own MAC as source (loop)"),
    # ARP
    ("arp_truncated", "drop: ARP packet shorter than 28 bytes"),
    ("arp_bad_format", "drop: hardware/protocol type or address lengths not Ethernet/IPv4"),
    ("arp_bad_op", "drop: ARP operation neither request nor reply"),
    ("arp_bad_sender", "drop: sender address martian, ours or broadcast"),
    ("arp_not_for_us", "ARP request for another target (sender not cached)"),
    ("arp_unsolicited", "drop: reply we did not ask for (no cache entry made)"),
    ("arp_request_rx", "ARP requests for our address"),
    ("arp_reply_rx", "ARP replies that resolved a pending entry or refreshed one"),
    ("arp_request_tx", "ARP requests sent (at most one per second per destination)"),
    ("arp_reply_tx", "ARP replies sent"),
    ("arp_gratuitous_tx", "gratuitous ARP announcements sent"),
    ("arp_queue_full", "drop: per-destination pending queue full"),
    ("arp_gave_up", "drop: a pending packet freed when resolution gave up"),
    ("arp_cache_full", "drop: no cache slot could be had for a new destination"),
    ("arp_expired", "cache entries aged out"),
    ("arp_tx_no_buffer", "drop: no block for an ARP request or reply"),
    ("arp_release_no_quota", "drop: a parked datagram could not move to the TX quota when its address resolved"),
    # IPv4
    ("ipv4_rx", "IPv4 datagrams delivered up (after reassembly)"),
    ("ipv4_truncated", "drop: shorter than a minimal IPv4 header"),
    ("ipv4_bad_version", "drop: version field is not 4"),
    ("ipv4_bad_ihl", "drop: IHL below 5 or beyond the packet"),
    ("ipv4_bad_length", "drop: total length below the header or beyond the frame"),
    ("ipv4_bad_checksum", "drop: header checksum wrong"),
    ("ipv4_bad_options", "drop: option with zero, one-byte or overlong length"),
    ("ipv4_martian_src", "drop: source in 0/8, 127/8, 224/4 or 240/4, a broadcast address, or ours"),
    ("ipv4_martian_dst", "drop: destination is 0/8, 127/8 or class E"),
    ("ipv4_not_for_us", "drop: unicast to another host (a host never forwards)"),
    ("ipv4_unknown_proto", "drop: protocol we do not speak (protocol unreachable sent for unicast)"),
    ("ipv4_tx", "IPv4 datagrams handed to the driver (a fragmented one with its last fragment; one parked for ARP when it leaves the queue)"),
    ("ipv4_frag_tx", "fragments handed to the driver"),
    ("ipv4_tx_no_buffer", "drop: no block for an outgoing header or fragment"),
    ("ipv4_tx_too_big", "drop: datagram over 65535 bytes or DF set above MTU"),
    ("ipv4_no_route", "drop: destination not on-link and no gateway"),
    # Reassembly
    ("reasm_ok", "datagrams reassembled"),
    ("reasm_fragments", "fragments taken into reassembly"),
    ("reasm_overlap", "drop: overlap with different data discarded the whole datagram"),
    ("reasm_duplicate", "drop: fragment that repeats bytes already held, identically"),
    ("reasm_too_big", "drop: fragment reaching past 65535 bytes"),
    ("reasm_bad_length", "drop: non-last fragment whose length is not a multiple of 8, or data past the end"),
    ("reasm_no_buffer", "drop: reassembly block quota or pool exhausted"),
    ("reasm_evicted", "incomplete datagrams discarded (oldest first) to make room for a new one"),
    ("reasm_timeout", "datagrams discarded when the reassembly timer ran out"),
    # ICMP
    ("icmp_truncated", "drop: ICMP message shorter than its header"),
    ("icmp_bad_checksum", "drop: ICMP checksum wrong"),
    ("icmp_echo_rx", "echo requests received"),
    ("icmp_echo_tx", "echo replies handed to the driver"),
    ("icmp_echo_bcast", "drop: echo request to broadcast or multicast (not answered)"),
    ("icmp_error_rx", "ICMP errors received"),
    ("icmp_error_ignored", "redirect or source quench received: not acted on (one route; RFC 6633)"),
    ("icmp_error_bad_quote", "drop: ICMP error whose quoted IP header and 8 bytes are truncated or malformed"),
    ("icmp_error_not_ours", "drop: ICMP error quoting a datagram whose source is not our address"),
    ("icmp_error_unhandled", "drop: ICMP error about a protocol with no error handler"),
    ("icmp_unreach_tx", "destination unreachable handed to the driver"),
    ("icmp_err_suppressed", "ICMP error not sent: about broadcast/multicast, non-initial fragment or an ICMP error"),
    ("icmp_rate_limited", "ICMP error not sent: rate limit"),
    ("icmp_other", "drop: ICMP type we do not act on"),
    # UDP
    ("udp_rx", "UDP datagrams delivered to a socket"),
    ("udp_truncated", "drop: shorter than the UDP header"),
    ("udp_bad_length", "drop: UDP length below 8 or beyond the IP payload (a shorter one is accepted, the rest ignored)"),
    ("udp_bad_checksum", "drop: UDP checksum wrong"),
    ("udp_no_port", "drop: no socket on the port (port unreachable sent for unicast)"),
    ("udp_queue_full", "drop: socket receive queue at its quota"),
    ("udp_tx", "UDP datagrams handed to the driver"),
    ("udp_tx_eagain", "sendto answered EAGAIN: the TX ring was full (nothing taken; the sender retries)"),
    ("udp_err_rx", "ICMP errors delivered to the UDP port that sent the quoted datagram"),
    ("udp_err_no_port", "drop: ICMP error about a UDP port nobody has bound"),
    # TCP
    ("tcp_rx", "TCP segments received with a valid header and checksum"),
    ("tcp_tx", "TCP segments handed to the driver"),
    ("tcp_rx_bytes", "in-order payload bytes delivered to applications"),
    ("tcp_truncated", "drop: shorter than the TCP header"),
    ("tcp_bad_offset", "drop: data offset below 20 or beyond the segment"),
    ("tcp_bad_checksum", "drop: TCP checksum wrong"),
    ("tcp_bad_options", "options with a bad length (0, 1, past the header): read no further"),
    ("tcp_not_unicast", "drop: TCP to a broadcast or multicast address"),
    ("tcp_no_pcb", "segments for no connection or listener (answered with RST unless a RST)"),
    ("tcp_rst_rx", "resets received that were in the window"),
    ("tcp_timewait_rst_ignored", "resets received in TIME_WAIT, ignored (RFC 1337): the 2 MSL run out"),
    ("tcp_rst_tx", "resets sent"),
    ("tcp_backlog_full", "drop: SYN to a listener whose SYN queue is full (SYN flood bound)"),
    ("tcp_no_pcb_room", "drop: SYN while the connection table is full of live connections"),
    ("tcp_accepted", "passive opens completed"),
    ("tcp_active_open", "connect() calls that sent a SYN"),
    ("tcp_connected", "active opens completed"),
    ("tcp_closed", "connections closed gracefully (last ACK received)"),
    ("tcp_timeout", "connections dropped after their retransmissions ran out"),
    ("tcp_timewait_expired", "TIME_WAIT connections freed after 2 MSL"),
    ("tcp_timewait_recycled", "TIME_WAIT connections freed early for a new one (table full)"),
    ("tcp_timewait_reopened", "TIME_WAIT connections reopened by a new SYN (RFC 1122 4.2.2.13)"),
    ("tcp_out_of_window", "drop: segment outside the receive window (answered with an ACK)"),
    ("tcp_challenge_ack", "challenge ACKs for an in-window RST or a SYN (RFC 5961)"),
    ("tcp_challenge_ack_limited", "challenge ACKs not sent: over TCP_CHALLENGE_ACK_PER_S (RFC 5961 7)"),
    ("tcp_ack_unsent", "drop: ACK for data not yet sent (answered with an ACK)"),
    ("tcp_dup_ack", "duplicate ACKs received"),
    ("tcp_fast_retransmit", "fast retransmits (third duplicate ACK)"),
    ("tcp_rto", "retransmission timeouts"),
    ("tcp_retransmit", "segments sent again"),
    ("tcp_sack_retransmit", "holes the peer's SACK blocks showed, sent again during recovery (RFC 6675)"),
    ("tcp_window_probe", "zero-window probes sent"),
    ("tcp_keepalive_probe", "keepalive probes sent"),
    ("tcp_paws", "drop: segment older than the last timestamp (PAWS, RFC 7323; answered with an ACK)"),
    ("tcp_ooseq", "segments held in the out-of-order queue"),
    ("tcp_ooseq_overlap", "drop: out-of-order segment overlapping one already held"),
    ("tcp_ooseq_full", "drop: out-of-order queue full"),
    ("tcp_ooseq_expired", "drop: out-of-order segments freed TCP_OOSEQ_TIMEOUT_RTOS RTOs after the peer fell silent"),
    ("tcp_drop_no_buffer", "drop: no block quota or pbuf for received data (not acknowledged)"),
    ("tcp_tx_no_buffer", "segments not sent: no header block or pbuf (retransmission recovers)"),
    ("tcp_write_eagain", "write() answered EAGAIN: the send queue is full"),
    ("tcp_write_no_quota", "write() answered EAGAIN: TCP's block quota is used up"),
    # Netif / TX
    ("tx_ring_full", "drop: driver TX ring full (ENOBUFS) for a datagram with no retry"),
    ("tx_no_header", "drop: no header block for the Ethernet header"),
    ("tx_no_quota", "drop: the frame's blocks could not be charged to TX (quota or RX reserve)"),
    ("tx_no_buffer", "drop: no block to linearise a chain longer than the driver's gather table"),
    ("tx_linearised", "frames whose chain tail was copied into one block (counted as copied bytes)"),
    ("tx_bad_cookie", "completions the driver reported for no frame we hold (driver bug)"),
    ("rx_no_pbuf", "drop: a received block found no free pbuf object"),
    ("rx_budget_exhausted", "polls that stopped at the RX budget with frames left"),
)

NAMES = tuple(n for n, _ in SCHEMA)

# Counters every MAC driver keeps (driver.stats()), shared by all MACs.
DRIVER_SCHEMA = (
    ("rx_frames", "frames received and handed up"),
    ("rx_bytes", "bytes in those frames"),
    ("rx_no_buffer", "drop: no free block to refill the descriptor; frame dropped, descriptor recycled"),
    ("rx_oversize", "drop: frame longer than a block holds"),
    ("rx_errors", "drop: receive errors reported by the MAC (CRC, alignment, overrun)"),
    ("tx_frames", "frames transmitted"),
    ("tx_bytes", "bytes in those frames"),
    ("tx_ring_full", "tx() refused with ENOBUFS: the TX ring was full"),
    ("tx_errors", "frames the MAC failed to send (completed with an error)"),
    ("tx_ref_moved", "drop: a lent mutable buffer moved or changed size before the MAC read it; "
                     "frame not sent, completed"),
)


# Counters the impairment layer (stack/impair.py) adds to its inner driver's
# (they show under "driver" when the layer is inserted).
IMPAIR_SCHEMA = (
    ("impair_rx_lost", "drop: frames from the driver the layer discarded (seeded loss)"),
    ("impair_rx_dup", "frames it delivered twice (the copy in a second block)"),
    ("impair_rx_reordered", "frames it held back that later frames overtook"),
    ("impair_rx_corrupted", "frames with one byte flipped past the Ethernet header"),
    ("impair_rx_delayed", "frames it kept in its delay line"),
    ("impair_rx_short", "impairments not done: holding or duplicating would have eaten the RX "
                        "reserve (the frame went up at once)"),
    ("impair_rx_overflow", "drop: frames that met a full delay line (IMPAIR_HOLD_FRAMES)"),
    ("impair_tx_lost", "drop: frames completed without reaching the driver (seeded loss)"),
    ("impair_tx_dup", "frames handed to the driver twice (same references)"),
    ("impair_tx_reordered", "frames it held back that later frames overtook"),
    ("impair_tx_corrupted", "frames sent as a copy with one byte flipped past the Ethernet header"),
    ("impair_tx_delayed", "frames it kept in its delay line"),
    ("impair_tx_short", "impairments not done: no block for the corrupted copy, or block "
                        "references that would pass 255 (the frame went out intact)"),
    ("impair_copied_bytes", "bytes the layer copied (RX duplicates, TX corrupted copies): the "
                            "wire's doing, not in `copied`"),
)


def new():
    """A fresh counter dict with every name at zero."""
    d = {}
    for n in NAMES:
        d[n] = 0
    return d
