# Every size, timeout and limit of the stack, with its unit in the name and a
# one-line reason. `tools/run.py --set NAME=VALUE` overrides any of them
# (tests shorten timeouts that way); code reads them as `config.NAME` at the
# time it needs them, so an override made before Stack() takes effect.

# --- pool: per-holder block quotas (the C pool enforces them) ----------------
POOL_RESERVE_RX_BLOCKS = 16     # blocks only RX refill may take: ping keeps working in a flood
QUOTA_REASM_BLOCKS = 24         # a fragment flood cannot take more than this
QUOTA_ARPQ_BLOCKS = 8           # packets parked for ARP, over all destinations
QUOTA_UDP_BLOCKS = 32           # all UDP receive queues together
QUOTA_TCP_BLOCKS = 64
QUOTA_TX_BLOCKS = 48            # frame blocks built for transmission (replies, copies)
QUOTA_TX_HDR_BLOCKS = 192       # header blocks (of 256) for frames being sent: the rest
                                # stays for those parked in queues (ARP, TCP)
QUOTA_APP_BLOCKS = 32
PBUF_OBJECTS = 512              # pbuf objects, made once: more than blocks, so a stale
                                # handle meets a freed object, never a new owner's pbuf

# --- netif / drivers ----------------------------------------------------------
RX_BUDGET_FRAMES = 32           # frames per poll (NAPI-style): an RX storm cannot starve timers
RX_BATCH_FRAMES = 8             # frames per driver call; keep <= POOL_RESERVE_RX_BLOCKS so
                                # a batch's refills always find blocks in the reserve
TX_REAP_MAX = 32                # completions taken per poll
TAP_RX_RING = 16
TAP_TX_RING = 32
MTU_BYTES = 1500
GATHER_MAX_ENTRIES = 16         # gather entries per frame (at most the driver's MAX_SEG);
                                # a longer chain has its tail copied into one block (counted)
TX_INFLIGHT_FRAMES = 64         # frames the netif holds until the driver reaps them
POLL_IDLE_MAX_MS = 1000         # longest sleep when no timer is due

# --- ARP ----------------------------------------------------------------------
ARP_CACHE_ENTRIES = 16
ARP_ENTRY_TTL_MS = 300000       # 5 min, as lwIP's ARP_MAXAGE
ARP_REQUEST_INTERVAL_MS = 1000  # at most one request per second per destination
ARP_MAX_REQUESTS = 3            # then give up and free the pending queue
ARP_QUEUE_PER_DEST = 4          # packets parked per unresolved destination

# --- IPv4 ---------------------------------------------------------------------
IP_DEFAULT_TTL = 64
REASM_TIMEOUT_MS = 15000        # RFC 1122 suggests 60-120 s; lwIP uses 15 s
REASM_MAX_DATAGRAMS = 4         # datagrams under reassembly at once
REASM_MAX_BYTES = 65535

# --- ICMP ---------------------------------------------------------------------
ICMP_ERR_RATE_PER_S = 10        # token bucket for ICMP errors (RFC 1812 4.3.2.8 spirit)
ICMP_ERR_BURST = 10
ICMP_ERR_QUOTE_MAX_BYTES = 548  # header + as much as fits in 576 (RFC 1812)

# --- TCP ----------------------------------------------------------------------
TCP_MSS = 1460                  # our MSS (MTU - 40); the peer's caps what we send
TCP_WND_BYTES = 16 * 1460       # receive window per connection, in bytes...
TCP_WND_BLOCKS = 16             # ...and in blocks: a 1-byte segment holds a whole block, so
                                # the window shrinks by an MSS for each block still held
TCP_SND_QUEUE_BYTES = 32 * 1460 # bytes queued to send per connection (referenced, not copied)
TCP_RTO_INITIAL_MS = 1000       # RFC 6298 2.1
TCP_RTO_MIN_MS = 1000           # RFC 6298 2.4 (tests lower it: lossy runs take minutes otherwise)
TCP_RTO_MAX_MS = 60000
TCP_MAX_RETRIES = 12            # retransmissions of one segment before the connection is dropped
TCP_SYN_RETRIES = 5
TCP_MSL_MS = 30000              # TIME_WAIT lasts 2 MSL
TCP_DELACK_MS = 40              # delayed ACK (at most every second full segment waits)
TCP_MAX_PCBS = 200              # connections (not listeners) at once; TIME_WAIT ones are recycled first
TCP_BACKLOG_MAX = 16            # SYN_RCVD connections per listener: a SYN flood stops there
TCP_OOSEQ_MAX = 16              # out-of-order segments held per connection (a window's worth)
TCP_OOSEQ_TIMEOUT_RTOS = 6      # ...freed this many RTOs after the peer's last segment (a peer gone
                                # silent holds no blocks for good; as lwIP's TCP_OOSEQ_TIMEOUT)
TCP_WINDOW_SCALING = 1          # RFC 7323 options, offered and accepted (0: never)
TCP_TIMESTAMPS = 1
TCP_SACK = 1                    # RFC 2018: SACK-permitted, and SACK blocks for what we hold
TCP_KEEPIDLE_MS = 7200000       # keepalive (per connection, off unless asked): 2 h of silence,
TCP_KEEPINTVL_MS = 75000        # then a probe every 75 s,
TCP_KEEPCNT = 9                 # and this many unanswered probes end it (RFC 1122 4.2.3.6)
TCP_CHALLENGE_ACK_PER_S = 10    # challenge ACKs per connection per second, a burst of as many
                                # (RFC 5961 7; 1..1000, 0: no limit)

# --- UDP ----------------------------------------------------------------------
UDP_QUEUE_DATAGRAMS = 8         # per socket receive queue
UDP_ECHO_PORT = 7


def override(name, value):
    """Set one tunable by name (for tools/run.py --set); unknown names are errors."""
    g = globals()
    if name not in g or not name.isupper():
        raise KeyError("unknown setting: " + name)
    g[name] = type(g[name])(value)

# --- timers -------------------------------------------------------------------
TIMER_TICK_MS = 100             # ARP and reassembly timers run at this granularity

# --- impairment layer (stack/impair.py) ----------------------------------------
# All rates and delays zero: the layer is not inserted at all. Rates are
# percentages (floats allowed: 0.5 = one frame in 200; grain 0.01 %), drawn
# from a seeded xorshift32 per direction, so one seed replays one run.
IMPAIR_SEED = 1                 # any int; the same seed and knobs give the same impairments
IMPAIR_RX_LOSS_PCT = 0.0        # frames from the wire dropped before the stack sees them
IMPAIR_TX_LOSS_PCT = 0.0        # frames the stack sent that never reach the wire (still completed)
IMPAIR_RX_DUP_PCT = 0.0         # frames delivered twice (the copy takes a second block)
IMPAIR_TX_DUP_PCT = 0.0         # frames put on the wire twice (same references)
IMPAIR_RX_REORDER_PCT = 0.0     # frames held back until 1..IMPAIR_REORDER_GAP later ones passed
IMPAIR_TX_REORDER_PCT = 0.0
IMPAIR_RX_CORRUPT_PCT = 0.0     # one byte past the Ethernet header flipped: checksums catch it
IMPAIR_TX_CORRUPT_PCT = 0.0     # (TX: in a counted copy, never in a block others reference)
IMPAIR_RX_DELAY_MS = 0          # every frame waits this long (FIFO: jitter never reorders)
IMPAIR_TX_DELAY_MS = 0
IMPAIR_RX_JITTER_MS = 0         # plus a uniform 0..jitter ms
IMPAIR_TX_JITTER_MS = 0
IMPAIR_REORDER_GAP = 3          # a reordered frame lets 1..this many frames overtake it
IMPAIR_REORDER_MS = 50          # ... or goes on after this long, whichever comes first
IMPAIR_HOLD_FRAMES = 32         # RX frames the delay line holds (blocks, as H_RX); beyond: tail drop
