# packetdrill-style TCP scripts on the virtual clock, for both lanes.
#
# A script drives a whole Stack on a memif (support.Rig) as the peer and as
# the application, one line at a time:
#
#     0.000 < S 0:0(0) win 65535 <mss 1460>              the peer sends
#     0.000 > S. 0:0(0) ack 1 win 23360 <mss 1460>       the stack must have sent this, at this time
#     +0.1 < . 1:1001(1000) ack 1                         + : relative to the line before
#     +0.04 > . 1:1(0) ack 1001
#     0.300 app write 2000                                the application
#     1.000 app quiet                                     nothing sent up to now
#     flow 40001 isn 0xFFFFFF00                           (no time) another connection
#
# Time is in seconds, exact to the ms: the clock moves only through Rig.poll,
# stepping from timer tick to timer tick (Stack.next_tick), so every frame the
# stack sends carries the time it left. A `>` line takes the oldest frame not
# yet matched: it must have left at exactly the line's time; any other line
# first requires that no frame is left unmatched (so "nothing sent until t"
# is just a line at t, e.g. `app quiet`).
#
# Segments: FLAGS START:END(LEN) [ack N] [win N] [urg N] [csum bad] [<options>]
#   FLAGS as packetdrill (S F R P U and "." for ACK). Sequence numbers are
#   relative to each side's ISN: the peer's is the flow's `isn` (0 unless
#   set), the stack's is learnt from its first segment of the flow (its SYN).
#   In a `>` line every field named is checked (flags, seq and length always;
#   ack, win, urg, options when given); the payload is checked against what
#   `app write` queued. In a `<` line the payload is a fixed pattern of the
#   peer's stream (byte i of the stream is stream_byte(i)), so overlapping and
#   repeated segments carry the same bytes, and what reaches recv_cb is
#   checked against it. Options: <mss N, nop, eol, sackOK, wscale N,
#   TS val N ecr N, sack A:B C:D, raw 02 00 ...> (raw: hex bytes as they are).
#
# App verbs (on the current flow): listen [backlog N], connect, write N,
#   close, shutdown, abort, recved N|all, autorecv on|off, nagle
#   on|off, keepalive on|off, state NAME, err ERRNO-NAME|none, eof, received N, pcbs N,
#   counters name=delta ... (the named counters moved by exactly that since
#   the last `counters`/`tcp_counters` line), tcp_counters name=delta ... (as
#   counters, and no other tcp_* counter moved; tcp_rx/tcp_tx/tcp_rx_bytes
#   are checked only when named), baseline (pool at baseline now), quiet.
# Python callables in the script list run with the Script as argument.
#
# Failures raise AssertionError naming the line and what the stack sent.
import frames
from support import PEER_IP, PEER_MAC, US_IP, US_MAC, Rig

from stack import pbuf

PEER_PORT = 40000
LISTEN_PORT = 8080
M32 = 0xFFFFFFFF
ERRNO = {"ECONNRESET": 104, "ECONNABORTED": 103, "ETIMEDOUT": 110, "ECONNREFUSED": 111}
ERRNAME = {104: "ECONNRESET", 103: "ECONNABORTED", 110: "ETIMEDOUT", 111: "ECONNREFUSED"}


def stream_byte(i):
    return (i * 7 + (i >> 8) + 1) & 0xFF


def stream(off, n):
    """n bytes of the peer's (and the application's) pattern stream from offset off."""
    b = bytearray(n)
    for k in range(n):
        i = off + k
        b[k] = (i * 7 + (i >> 8) + 1) & 0xFF
    return bytes(b)


def chain_bytes(p):
    """The bytes of a pbuf chain, read by the test (not through the stack's
    copy helper, so pbuf.copied() stays what the stack did)."""
    out = b""
    while p is not None:
        out += bytes(p.buf[p.off:p.off + p.len])
        p = p.next
    return out


def tcp_rig(**settings):
    """A Rig for TCP scripts: 10 ms timer ticks (exact delayed ACK and RTO
    times), an ARP entry that outlives any script, the peer's MAC learnt."""
    s = {"TIMER_TICK_MS": 10, "ARP_ENTRY_TTL_MS": 0x3FFFFFF}
    for k in settings:
        if k != "now":
            s[k] = settings[k]
    r = Rig(now=settings.get("now", 0), **s)
    r.learn()
    return r


class Flow:
    """One connection as the peer sees it."""

    def __init__(self, sc, rport, isn, lport):
        self.sc = sc
        self.rport = rport
        self.isn = isn & M32            # the peer's ISN
        self.lport = lport              # the stack's port (None: learnt from its first segment)
        self.our_isn = None             # the stack's ISN, learnt
        self.pcb = None
        self.written = bytearray()      # what the application queued (the stream sent)
        self.write_off = 0
        self.received = 0               # bytes recv_cb got
        self.unrecved = 0               # bytes not given back with recved()
        self.eof = 0                    # recv_cb(None) calls
        self.errs = []                  # errnos err_cb got, not yet asserted
        self.sent_acked = 0             # bytes sent_cb reported
        self.connected = 0
        self.autorecv = False


def _ms(tok):
    """"0.100" -> 100 (ms), without float rounding surprises."""
    neg = tok.startswith("-")
    if neg:
        tok = tok[1:]
    if "." in tok:
        a, b = tok.split(".")
        b = (b + "000")[:3]
        v = int(a or "0") * 1000 + int(b)
    else:
        v = int(tok) * 1000
    return -v if neg else v


def _num(tok):
    return int(tok, 16) if tok.startswith("0x") else int(tok)


def _parse_opts(text):
    """"mss 1460, nop, sackOK" -> option tuples (frames.tcp_options form)."""
    out = []
    for part in text.split(","):
        w = part.split()
        if not w:
            continue
        k = w[0]
        if k == "mss":
            out.append(("mss", _num(w[1])))
        elif k == "nop":
            out.append(("nop",))
        elif k == "eol":
            out.append(("eol",))
        elif k == "sackOK":
            out.append(("sackok",))
        elif k == "wscale":
            out.append(("wscale", _num(w[1])))
        elif k == "TS":
            assert w[1] == "val" and w[3] == "ecr", part
            out.append(("ts", _num(w[2]), _num(w[4])))
        elif k == "sack":
            blocks = []
            for x in w[1:]:
                a, b = x.split(":")
                blocks.append((_num(a), _num(b)))
            out.append(("sack", blocks))
        elif k == "raw":
            out.append(("raw", bytes([int(x, 16) for x in w[1:]])))
        else:
            raise ValueError("unknown option %r" % part)
    return out


def parse_segment(text):
    """"S. 0:0(0) ack 1 win 100 <mss 1460>" -> dict of the fields named."""
    opts = None
    i = text.find("<")
    if i >= 0:
        j = text.rfind(">")
        opts = _parse_opts(text[i + 1:j])
        text = text[:i] + " " + text[j + 1:]
    w = text.split()
    d = {"flags": frames.tcp_flags(w[0]), "opts": opts}
    se = w[1]
    a, rest = se.split(":")
    b, ln = rest.split("(")
    d["start"] = _num(a)
    d["end"] = _num(b)
    d["len"] = _num(ln[:-1])
    assert d["end"] - d["start"] == d["len"], "inconsistent START:END(LEN) in %r" % se
    k = 2
    while k < len(w):
        key = w[k]
        if key in ("ack", "win", "urg"):
            d[key] = _num(w[k + 1])
            k += 2
        elif key == "csum":
            d["csum"] = w[k + 1]
            k += 2
        else:
            raise ValueError("unknown segment field %r" % key)
    return d


class Script:
    def __init__(self, r, port=LISTEN_PORT, rport=PEER_PORT, isn=0, autorecv=False):
        self.r = r
        self.st = r.st
        self.tcp = r.st.tcp
        self.port = port
        self.flows = {}
        self.flow = None
        self.use(rport, isn, port)
        self.flow.autorecv = autorecv
        self.t = r.t                    # the time of the last line (ms)
        self.out = []                   # (time, frame bytes) sent, not matched yet
        self.last = None                # the last frame a `>` line matched (parsed)
        self.lineno = 0
        self.line = ""
        self.listener = None
        self.cmark = dict(r.ctr)
        self.copied0 = pbuf.copied()

    # ---- flows ---------------------------------------------------------------
    def use(self, rport, isn=None, lport=None):
        """Make the flow of peer port rport current (created on first use)."""
        f = self.flows.get(rport)
        if f is None:
            f = Flow(self, rport, 0 if isn is None else isn, self.port if lport is None else lport)
            self.flows[rport] = f
        elif isn is not None:
            f.isn = isn & M32
        self.flow = f
        return f

    # ---- failures ------------------------------------------------------------
    def fail(self, msg):
        raise AssertionError("script line %d `%s`: %s" % (self.lineno, self.line.strip(), msg))

    def describe(self, frame, f=None):
        """A sent frame in script syntax, relative to flow f's ISNs."""
        if f is None:
            f = self.flow
        p = frames.parse_frame(frame)
        if "tcp" not in p:
            if "arp" in p:
                return "ARP op %d for %s" % (p["arp"]["op"], p["arp"]["tpa"])
            return "non-TCP frame %r" % (p.get("ip"),)
        t = p["tcp"]
        base = f.our_isn if f.our_isn is not None else t["seq"]
        s = (t["seq"] - base) & M32
        n = len(t["data"])
        txt = "%s %d:%d(%d)" % (t["flagstr"], s, (s + n) & M32, n)
        if t["flags"] & frames.TCP_ACK:
            txt += " ack %d" % ((t["ack"] - f.isn) & M32)
        txt += " win %d" % t["win"]
        if t["urg"]:
            txt += " urg %d" % t["urg"]
        if t["options"]:
            txt += " <%s>" % ", ".join(_opt_str(o) for o in t["options"])
        txt += " [%d->%d]" % (t["sport"], t["dport"])
        return txt

    def pending_text(self):
        return "; ".join("%s at %.3f" % (self.describe(fr), tm / 1000) for tm, fr in self.out)

    # ---- the clock -----------------------------------------------------------
    def _collect(self):
        for fr in self.r.sent():
            self.out.append((self.r.t, fr))

    def advance(self, t):
        """Move the test clock to t (ms), polling at every timer tick on the
        way, recording what was sent when."""
        r = self.r
        if t < r.t:
            self.fail("time goes back (%d ms, clock at %d ms)" % (t, r.t))
        from stack.wire import ticks_diff
        for _ in range(1000000):
            nt = r.t + ticks_diff(self.st.next_tick, r.now())
            if nt > t:
                break
            if nt <= r.t:
                nt = r.t
            r.poll(nt)
            self._collect()
        r.poll(t)
        self._collect()

    def expect_quiet(self):
        if self.out:
            self.fail("unexpected segment(s) sent: " + self.pending_text())

    # ---- the peer ------------------------------------------------------------
    def segment_bytes(self, d, f=None):
        """The frame payload (TCP bytes) of a parsed `<` segment of flow f."""
        if f is None:
            f = self.flow
        seq = (f.isn + d["start"]) & M32
        ack = 0
        if "ack" in d:
            if f.our_isn is None:
                f.our_isn = 0
            ack = (f.our_isn + d["ack"]) & M32
        # the stream offset of the first data byte: after the SYN
        off = d["start"] - 1 if d["start"] > 0 else 0
        data = stream(off, d["len"]) if d["len"] else b""
        csum = True if d.get("csum") != "bad" else "bad"
        lport = f.lport if f.lport is not None else self.port
        return frames.tcp(f.rport, lport, seq, ack, d["flags"], d.get("win", 65535), data,
                          d["opts"] or b"", PEER_IP, US_IP, csum, d.get("urg", 0))

    def inject(self, seg):
        """The peer sends raw TCP bytes (from PEER_IP) now."""
        self.r.ip_in(seg, frames.PROTO_TCP)
        self.r.poll()
        self._collect()

    # ---- matching what was sent ----------------------------------------------
    def expect(self, d, t):
        f = self.flow
        if not self.out:
            self.fail("nothing sent by %.3f" % (t / 1000))
        tm, fr = self.out[0]
        if tm != t:
            self.fail("sent at %.3f, not %.3f: %s" % (tm / 1000, t / 1000, self.pending_text()))
        p = frames.parse_frame(fr)
        if "tcp" not in p:
            self.fail("not a TCP segment: " + self.pending_text())
        ip = p["ip"]
        tc = p["tcp"]
        if not ip["checksum_ok"] or not tc["checksum_ok"]:
            self.fail("bad checksum: " + self.describe(fr))
        if ip["src"] != US_IP or ip["dst"] != PEER_IP or p["eth"]["dst"] != PEER_MAC or \
                p["eth"]["src"] != US_MAC:
            self.fail("addressed wrongly: %s -> %s" % (ip["src"], ip["dst"]))
        if tc["dport"] != f.rport:
            self.fail("to port %d, not the flow's %d: %s" % (tc["dport"], f.rport, self.describe(fr)))
        if f.lport is None:
            f.lport = tc["sport"]
        elif tc["sport"] != f.lport:
            self.fail("from port %d, not %d: %s" % (tc["sport"], f.lport, self.describe(fr)))
        if f.our_isn is None:
            f.our_isn = (tc["seq"] - d["start"]) & M32
        want = "%s" % self.describe(fr)
        errs = []
        if tc["flags"] != d["flags"]:
            errs.append("flags %s, not %s" % (tc["flagstr"], frames.tcp_flag_str(d["flags"])))
        s = (tc["seq"] - f.our_isn) & M32
        if s != d["start"] & M32:
            errs.append("seq %d, not %d" % (s, d["start"]))
        if len(tc["data"]) != d["len"]:
            errs.append("length %d, not %d" % (len(tc["data"]), d["len"]))
        if "ack" in d:
            a = (tc["ack"] - f.isn) & M32
            if a != d["ack"] & M32:
                errs.append("ack %d, not %d" % (a, d["ack"]))
        if "win" in d and tc["win"] != d["win"]:
            errs.append("win %d, not %d" % (tc["win"], d["win"]))
        if "urg" in d and tc["urg"] != d["urg"]:
            errs.append("urg %d, not %d" % (tc["urg"], d["urg"]))
        if d["opts"] is not None and tc["options"] != d["opts"]:
            errs.append("options %r, not %r" % (tc["options"], d["opts"]))
        if d["len"] and not errs:
            off = d["start"] - 1
            want_data = bytes(f.written[off:off + d["len"]])
            if tc["data"] != want_data:
                errs.append("payload differs from what was written at offset %d" % off)
        if errs:
            self.fail("; ".join(errs) + ": sent " + want)
        self.out.pop(0)
        self.last = p
        return p

    # ---- the application -----------------------------------------------------
    def _recv(self, f):
        def recv(pcb, p):
            if p is None:
                f.eof += 1
                return
            n = p.tot
            got = chain_bytes(p)
            want = stream(f.received, n)
            pbuf.free(p)
            if got != want:
                raise AssertionError("recv_cb got bytes %d..%d of the stream wrong" % (
                    f.received, f.received + n))
            f.received += n
            f.unrecved += n
            if f.autorecv:
                f.unrecved = 0
                pcb.recved(n)
        return recv

    def adopt(self, f, pcb):
        """Give pcb the script's callbacks as flow f's connection."""
        f.pcb = pcb
        pcb.recv_cb = self._recv(f)
        pcb.err_cb = lambda pcb, e: f.errs.append(e)

        def sent(pcb, n):
            f.sent_acked += n
        pcb.sent_cb = sent

    def _accept(self, pcb):
        f = self.flows.get(pcb.remote_port)
        if f is None:
            f = Flow(self, pcb.remote_port, 0, pcb.local_port)
            self.flows[pcb.remote_port] = f
        self.adopt(f, pcb)
        return True

    def app(self, w):
        f = self.flow
        v = w[0]
        pcb = f.pcb
        if v == "listen":
            lst = self.tcp.new()
            lst.bind(self.port)
            backlog = 4
            if len(w) > 2 and w[1] == "backlog":
                backlog = int(w[2])
            self.listener = lst.listen(backlog)
            self.listener.accept_cb = self._accept
        elif v == "connect":
            pcb = self.tcp.new()
            self.adopt(f, pcb)
            f.lport = None

            def connected(pcb):
                f.connected += 1
            pcb.connect(PEER_IP, f.rport, connected)
        elif v == "write":
            n = int(w[1])
            data = stream(f.write_off, n)
            p = pbuf.rom(data)
            e = pcb.write(p)
            if e != 0:
                pbuf.free(p)
                self.fail("write returned %d" % e)
            f.written += data
            f.write_off += n
        elif v in ("close", "shutdown"):
            pcb.close()
        elif v == "abort":
            pcb.abort()
        elif v == "recved":
            n = f.unrecved if w[1] == "all" else int(w[1])
            f.unrecved -= n
            pcb.recved(n)
        elif v == "autorecv":
            f.autorecv = w[1] == "on"
        elif v == "nagle":
            pcb.nagle = w[1] == "on"
        elif v == "keepalive":
            pcb.keepalive = w[1] == "on"
        elif v == "state":
            from stack import tcp as T
            want = w[1]
            got = T.STATE_NAMES[pcb.state]
            if got != want:
                self.fail("state %s, not %s" % (got, want))
            if want == "CLOSED" and pcb in self.tcp.active:
                self.fail("a CLOSED pcb is still in the table")
        elif v == "err":
            want = [] if w[1] == "none" else [ERRNO[w[1]]]
            if f.errs != want:
                self.fail("err_cb got %r, not %r" % ([ERRNAME.get(e, e) for e in f.errs], w[1]))
            f.errs = []
        elif v == "eof":
            if f.eof != 1:
                self.fail("recv_cb(None) called %d times, not once" % f.eof)
        elif v == "received":
            if f.received != int(w[1]):
                self.fail("received %d bytes, not %s" % (f.received, w[1]))
        elif v == "pcbs":
            n = len(self.tcp.active)
            if n != int(w[1]):
                self.fail("%d connections in the table, not %s: %r" % (n, w[1], self.tcp.active))
        elif v in ("counters", "tcp_counters"):
            self.check_counters(w[1:], v == "tcp_counters")
        elif v == "baseline":
            if not self.r.quiesced():
                self.fail("pool not at baseline: %r" % (self.r.pool.stats(),))
        elif v == "quiet":
            pass
        else:
            self.fail("unknown app verb %r" % v)

    def check_counters(self, items, exact_tcp=False):
        want = {}
        for it in items:
            k, val = it.split("=")
            want[k] = int(val)
        ctr = self.r.ctr
        got = {}
        for k in ctr:
            dv = ctr[k] - self.cmark.get(k, 0)
            if dv:
                got[k] = dv
        self.cmark = dict(ctr)
        errs = []
        for k in want:
            if got.get(k, 0) != want[k]:
                errs.append("%s moved %d, not %d" % (k, got.get(k, 0), want[k]))
        if exact_tcp:
            for k in got:
                if k.startswith("tcp_") and k not in want and k not in ("tcp_rx", "tcp_tx", "tcp_rx_bytes"):
                    errs.append("%s moved %d, not 0" % (k, got[k]))
        if errs:
            self.fail("; ".join(errs))

    # ---- running -------------------------------------------------------------
    def run(self, *parts):
        """Run script text(s) and callables in order."""
        for part in parts:
            if callable(part):
                part(self)
                continue
            for raw in part.split("\n"):
                self.lineno += 1
                line = raw.split("//")[0].strip()
                if not line:
                    continue
                self.line = line
                self.step(line)
        return self

    def step(self, line):
        w = line.split(None, 1)
        head = w[0]
        if head == "flow":
            a = line.split()
            isn = None
            lport = None
            k = 2
            while k < len(a):
                if a[k] == "isn":
                    isn = _num(a[k + 1])
                elif a[k] == "port":
                    lport = _num(a[k + 1])
                k += 2
            self.use(_num(a[1]), isn, lport)
            return
        if head == "forget":
            self.flow.our_isn = None
            return
        if head[0] == "+":
            t = self.t + _ms(head[1:])
        else:
            t = _ms(head)
        rest = w[1]
        self.advance(t)
        self.t = t
        if rest.startswith(">"):
            self.expect(parse_segment(rest[1:]), t)
            return
        self.expect_quiet()
        if rest.startswith("<"):
            self.inject(self.segment_bytes(parse_segment(rest[1:])))
        elif rest.startswith("app"):
            self.app(rest.split()[1:])
            self.r.poll()
            self._collect()
        else:
            self.fail("neither <, > nor app")

    def done(self):
        """The script's end: nothing sent unmatched, no err_cb unasserted."""
        self.lineno += 1
        self.line = "(end)"
        self.expect_quiet()
        for f in self.flows.values():
            if f.errs:
                self.fail("err_cb on flow %d got %r, never asserted" % (f.rport, f.errs))


def _opt_str(o):
    k = o[0]
    if k == "mss":
        return "mss %d" % o[1]
    if k == "wscale":
        return "wscale %d" % o[1]
    if k == "sackok":
        return "sackOK"
    if k == "ts":
        return "TS val %d ecr %d" % (o[1], o[2])
    if k == "sack":
        return "sack " + " ".join("%d:%d" % b for b in o[1])
    if k in ("nop", "eol"):
        return k
    return "%s %r" % (k, o[1:])


def run(script, port=LISTEN_PORT, rport=PEER_PORT, isn=0, autorecv=False, **settings):
    """Run one script on a fresh tcp_rig; the pool must be at baseline after."""
    with tcp_rig(**settings) as r:
        sc = Script(r, port, rport, isn, autorecv)
        if isinstance(script, str):
            script = (script,)
        sc.run(*script)
        sc.done()
        r.finish()
    return sc
