#!/usr/bin/env python3
"""Coverage-guided in-process fuzzing of the stack's RX path (CPython, atheris).

One input drives a whole Stack on a memif through many frames, the clock
advanced by the input (host_tests/unit/fuzz_inproc.py has the format and
the oracles; docs/fuzz.md the workflow):

    tools/fuzz_atheris.py seeds DIR             # write the seed inputs (deterministic)
    tools/fuzz_atheris.py run [-t SECONDS] [-n RUNS] [--corpus DIR] [-- libFuzzer args]
    tools/fuzz_atheris.py replay FILE...        # run inputs; exit 1 on the first failure
    tools/fuzz_atheris.py cover [DIR...]        # line coverage of the RX path over a
                                                # replay of the corpus, and the lines never reached
    tools/fuzz_atheris.py minimize DIR... [--out DIR]   # the fewest inputs that reach the same
                                                # lines (greedy set cover): the committed corpus

`run` starts from host_tests/fuzz_corpus/ (the committed corpus) and grows
build/fuzz/atheris/corpus; a crash is saved as build/fuzz/atheris/crash-<sha1>
(the input that failed): turn it into a regression test in
host_tests/unit/test_fuzz_regress.py and, once fixed, add it to the corpus.
Needs requirements-fuzz.txt (atheris, coverage).
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
UNIT = os.path.join(ROOT, "host_tests", "unit")
CORPUS = os.path.join(ROOT, "host_tests", "fuzz_corpus")
WORK = os.path.join(ROOT, "build", "fuzz", "atheris")
for p in (ROOT, UNIT):
    if p not in sys.path:
        sys.path.insert(0, p)

# The RX path: what a received frame runs through (coverage is reported for these).
RX_FILES = ("stack/netif.py", "stack/arp.py", "stack/ipv4.py", "stack/reasm.py", "stack/icmp.py",
            "stack/udp.py", "stack/tcp.py", "stack/core.py", "stack/pbuf.py", "stack/wire.py",
            "stack/seq.py", "stack/checksum.py", "stack/services.py")


# ---------------------------------------------------------------- seeds

def seeds():
    """{name: input}: valid conversations, one per area of the stack."""
    import struct

    import frames
    from fuzz_inproc import record
    from frames import ETH_ARP, ETH_IP, PROTO_ICMP, PROTO_TCP, PROTO_UDP
    from support import PEER_IP, PEER_MAC, US_IP, US_MAC

    def e(payload, etype=ETH_IP, dst=US_MAC):
        return frames.eth(dst, PEER_MAC, etype, payload)

    def ip(proto, payload, **kw):
        return frames.ipv4(PEER_IP, US_IP, proto, payload, **kw)

    def seg(dport, seq, ack, flags, data=b"", win=65535, options=b"", sport=40000, urg=0):
        flags = flags.replace("A", ".")     # packetdrill letters (frames.tcp_flags)
        return e(ip(PROTO_TCP, frames.tcp(sport, dport, seq, ack, flags, win, data, options,
                                          PEER_IP, US_IP, urg=urg)))

    def conv(dport, steps, sport=40000, iss=1000, syn_opts=b"", clock=1):
        """SYN, ACK, then (data, flags, ack offset, clock, seq offset) steps;
        our SND.NXT advances with the data. ack offsets are from the
        stack's SND.NXT (the fix bit)."""
        out = record(seg(dport, iss, 0, "S", options=syn_opts, sport=sport), clock)
        out += record(seg(dport, iss + 1, 0, "A", sport=sport), clock)
        nxt = iss + 1
        for st in steps:
            data, flags, ack, dt, off = (tuple(st) + (b"", "PA", 0, clock, 0)[len(st):])
            out += record(seg(dport, nxt + off, ack, flags, data, sport=sport), dt)
            if off == 0:
                nxt += len(data) + (1 if "F" in flags else 0)
        return out

    s = {}
    arp_req = e(frames.arp(1, PEER_MAC, PEER_IP, frames.ZERO_MAC, US_IP), ETH_ARP, frames.BCAST_MAC)
    s["arp_request"] = record(arp_req, 0)
    s["arp_reply_gratuitous"] = record(e(frames.arp(2, PEER_MAC, PEER_IP, US_MAC, US_IP), ETH_ARP), 1000)
    s["ping"] = record(e(ip(PROTO_ICMP, frames.icmp_echo(1, 1, b"ping"))), 1)
    s["ping_options"] = record(e(ip(PROTO_ICMP, frames.icmp_echo(2, 1, b"rr"),
                                    options=b"\x07\x07\x04" + bytes(4) + b"\x01")), 1)
    big = ip(PROTO_ICMP, frames.icmp_echo(3, 1, frames.pattern(3000)), ident=77)
    s["ping_fragmented"] = b"".join(record(e(f), 1) for f in frames.fragment(big, 1480, 1480))
    s["frag_overlap"] = b"".join(record(e(f), 5) for f in frames.fragment(big, 800, 800)[::-1]) + \
        b"".join(record(e(f), 5) for f in frames.fragment(big, 1200, 1200))
    s["frag_timeout"] = record(e(frames.fragment(big, 1480)[0]), 3000) + record(arp_req, 3000)
    s["udp_echo"] = record(e(ip(PROTO_UDP, frames.udp(40000, 7, b"hello", PEER_IP, US_IP))), 1)
    s["udp_closed"] = record(e(ip(PROTO_UDP, frames.udp(40000, 33434, b"x" * 30, PEER_IP, US_IP))), 1)
    s["icmp_unreach_in"] = record(e(ip(PROTO_ICMP, frames.icmp(3, 3, bytes(4), ip(
        PROTO_UDP, frames.udp(7, 40000, b"q", US_IP, PEER_IP))[:28]))), 1)
    s["tcp_echo"] = conv(7, [(b"hello",), (b"", "A", 0, 100), (b"", "FA", 0, 100), (b"", "A", 0, 1000)])
    s["tcp_echo_options"] = conv(7, [(b"a" * 100,), (b"b" * 1400,), (b"", "A", 0, 100)],
                                 syn_opts=b"\x02\x04\x05\xb4\x01\x03\x03\x07\x04\x02\x08\x0a"
                                 + struct.pack("!II", 1, 0) + b"\x00\x00")
    s["tcp_ooseq_sack"] = conv(7, [(b"x" * 100, "PA", 0, 1, 200), (b"y" * 100, "PA", 0, 1, 400),
                                   (b"w" * 200,), (b"z" * 100, "PA", 0, 1, 0), (b"", "A", 0, 100)],
                               syn_opts=b"\x02\x04\x05\xb4\x04\x02\x01\x01")
    s["tcp_discard_zero_window"] = conv(9, [(b"d" * 1000,), (b"", "A", 0, 1000)])
    s["tcp_source_zero_window"] = record(seg(19, 5000, 0, "S"), 1) + record(seg(19, 5001, 0, "A", win=0), 1) + \
        record(seg(19, 5001, 0, "A", win=0), 3000) + record(seg(19, 5001, 0, "A", win=0), 10000) + \
        record(seg(19, 5001, 0, "A", win=1000), 100) + record(seg(19, 5001, 0, "R"), 1)
    s["tcp_urgent"] = conv(7, [(b"u" * 10, "PAU", 0, 1), (b"", "A", 0, 100)])
    s["tcp_rst_in_window"] = conv(7, [(b"", "R", 0, 1, 100), (b"", "S", 0, 1, 5), (b"hi",),
                                      (b"", "R", 0, 1)])
    s["tcp_qotd_time_wait"] = conv(17, [(b"", "A", 0, 100), (b"", "FA", 0, 10), (b"", "S", 0, 100, 100000)])
    s["tcp_retransmit_timeout"] = conv(7, [(b"r" * 500, "PA", 0, 3000), (b"", "A", 0, 10000),
                                           (b"", "A", 0, 60000)])
    s["tcp_syn_to_closed"] = record(seg(33434, 1, 0, "S"), 1) + record(seg(7, 1, 0, "SF"), 1)
    # the stack as sender: source (19) sends 3 segments; the peer's duplicate
    # ACKs carry SACK blocks (edges relative to SND.NXT, like the ACK)
    M = 1 << 32

    def sack(*edges):
        o = b"\x01\x01" + bytes([5, 2 + 4 * len(edges)])
        return o + b"".join(struct.pack("!I", e % M) for e in edges)
    s["tcp_source_sack"] = (
        record(seg(19, 1000, 0, "S", options=b"\x02\x04\x05\xb4\x04\x02\x01\x01"), 1)
        + record(seg(19, 1001, 0, "A"), 1)
        + record(seg(19, 1001, -4380 % M, "A", options=sack(-2920, -1460)), 1)
        + record(seg(19, 1001, -5840 % M, "A", options=sack(-4380, -2920)), 1)
        + record(seg(19, 1001, -5840 % M, "A", options=sack(-4380, -1460)), 1)
        + record(seg(19, 1001, -5840 % M, "A", options=sack(-4380, -1460, -8760, -7300)), 100)
        + record(seg(19, 1001, 0, "A"), 100) + record(seg(19, 1001, 0, "R"), 1))
    # the active open: the harness's client (port 50000) to the peer's 7007
    from stack.services import _pattern
    data = bytes(_pattern(200))
    s["tcp_client_echo"] = (
        record(seg(50000, 9000, 0, "SA", options=b"\x02\x04\x05\xb4", sport=7007), 1)
        + record(seg(50000, 9001, 0, "A", sport=7007), 1)
        + record(seg(50000, 9001, 0, "PA", data, sport=7007), 1)
        + record(seg(50000, 9201, 0, "FA", sport=7007), 1)
        + record(seg(50000, 9202, 0, "A", sport=7007), 3000))
    return s


def cmd_seeds(o):
    os.makedirs(o.dir, exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(o.dir, "seed-" + name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds()), o.dir))
    return 0


# ---------------------------------------------------------------- fuzzing

def cmd_run(o, rest):
    import atheris
    with atheris.instrument_imports(include=["stack"]):
        import stack.arp, stack.core, stack.icmp, stack.ipv4, stack.netif, stack.reasm  # noqa: F401
        import stack.services, stack.tcp, stack.udp, stack.pbuf, stack.wire, stack.seq  # noqa: F401
        import stack.checksum, stack.memif  # noqa: F401
    import fuzz_inproc

    settings = _settings(o)

    def one(data):
        fuzz_inproc.run(data, quiet_ms=o.quiet_ms, settings=settings)

    corpus = o.corpus or os.path.join(WORK, "corpus")
    os.makedirs(corpus, exist_ok=True)
    args = [sys.argv[0], corpus, CORPUS, "-artifact_prefix=" + WORK + "/", "-max_len=%d" % o.max_len,
            "-timeout=20", "-rss_limit_mb=4096"]
    if o.runs is not None:
        args.append("-runs=%d" % o.runs)
    if o.time is not None:
        args.append("-max_total_time=%d" % o.time)
    atheris.Setup(args + rest, one)
    atheris.Fuzz()


def _settings(o):
    """--tight and --set NAME=V... as config overrides (ints, else floats)."""
    out = {}
    if getattr(o, "tight", False):
        import fuzz_inproc
        out.update(fuzz_inproc.TIGHT)
    for kv in getattr(o, "set", None) or []:
        k, _, v = kv.partition("=")
        try:
            out[k] = int(v)
        except ValueError:
            out[k] = float(v)
    return out


def _inputs(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(os.path.join(p, n) for n in os.listdir(p)
                          if not n.startswith(".") and os.path.isfile(os.path.join(p, n)))
        else:
            out.append(p)
    return out


def cmd_replay(o):
    import fuzz_inproc
    files = _inputs(o.files)
    settings = _settings(o)
    for i, path in enumerate(files):
        with open(path, "rb") as f:
            data = f.read()
        try:
            fuzz_inproc.run(data, settings=settings)
        except BaseException as e:       # a reproducer: report it, exit 1
            import traceback
            traceback.print_exc()
            print("FAILED %s: %s: %s" % (path, type(e).__name__, e))
            return 1
    print("replayed %d inputs: all passed" % len(files))
    return 0


def cmd_minimize(o):
    """Greedy set cover by line coverage: from the inputs given, the
    fewest (smallest first among equals) that reach every RX-path line any
    of them reaches; written to --out (the committed corpus by default)."""
    import coverage
    import hashlib
    files = [f for f in _inputs(o.dirs) if os.path.getsize(f) <= o.max_size]
    cov = coverage.Coverage(data_file=None, include=[os.path.join(ROOT, f) for f in RX_FILES])
    cov.start()
    import fuzz_inproc
    settings = _settings(o)
    datas = {}
    for i, path in enumerate(files):
        with open(path, "rb") as f:
            data = f.read()
        ctx = "in%d" % i
        cov.switch_context(ctx)
        try:
            fuzz_inproc.run(data, settings=settings)
        except BaseException as e:
            print("skipping %s (fails: %s)" % (path, e))
            continue
        datas[ctx] = data
    cov.stop()
    cd = cov.get_data()
    reach = {}
    for fn in cd.measured_files():
        for line, ctxs in cd.contexts_by_lineno(fn).items():
            for c in ctxs:
                if c in datas:
                    reach.setdefault(c, set()).add((fn, line))
    want = set().union(*reach.values()) if reach else set()
    have = set()
    chosen = []
    left = dict(reach)
    while have != want and left:
        best = max(left, key=lambda c: (len(left[c] - have), -len(datas[c])))
        gain = left.pop(best) - have
        if not gain:
            break
        have |= gain
        chosen.append(best)
    os.makedirs(o.out, exist_ok=True)
    for c in chosen:
        d = datas[c]
        name = "min-" + hashlib.sha1(d).hexdigest()[:16]
        with open(os.path.join(o.out, name), "wb") as f:
            f.write(d)
    print("%d of %d inputs reach all %d lines; %d bytes written to %s"
          % (len(chosen), len(datas), len(want), sum(len(datas[c]) for c in chosen), o.out))
    return 0


def _ranges(lines):
    out = []
    for n in sorted(lines):
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return ["%d" % a if a == b else "%d-%d" % (a, b) for a, b in out]


def cmd_cover(o):
    import coverage
    files = _inputs(o.dirs or [CORPUS])
    cov = coverage.Coverage(data_file=None, include=[os.path.join(ROOT, f) for f in RX_FILES],
                            branch=False)
    cov.start()
    import fuzz_inproc
    settings = _settings(o)
    bad = 0
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        try:
            fuzz_inproc.run(data, settings=settings)
        except BaseException as e:
            bad += 1
            print("input %s fails: %s: %s" % (path, type(e).__name__, e))
    cov.stop()
    import ast
    lines_out = []
    tot_s = tot_m = 0
    report = []
    for rel in RX_FILES:
        path = os.path.join(ROOT, rel)
        _, stmts, _, missing, _ = cov.analysis2(path)
        tot_s += len(stmts)
        tot_m += len(missing)
        pct = 100.0 * (len(stmts) - len(missing)) / len(stmts) if stmts else 100.0
        report.append("%-20s %5d statements %5d never reached  %5.1f%%" % (rel, len(stmts), len(missing), pct))
        # group the missing lines by the function they are in
        tree = ast.parse(open(path).read())
        funcs = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                funcs.append((node.lineno, node.end_lineno, node.name))
        by = {}
        for n in missing:
            name = "(module)"
            best = None
            for a, b, fn in funcs:
                if a <= n <= b and (best is None or a > best):
                    best, name = a, fn
            by.setdefault(name, []).append(n)
        for fn in sorted(by, key=lambda k: by[k][0]):
            lines_out.append("%s %s(): %s" % (rel, fn, ", ".join(_ranges(by[fn]))))
    pct = 100.0 * (tot_s - tot_m) / tot_s
    text = ("line coverage of the RX path over %d inputs (%d failed)\n" % (len(files), bad)
            + "\n".join(report)
            + "\n%-20s %5d statements %5d never reached  %5.1f%%\n" % ("total", tot_s, tot_m, pct)
            + "\nnever reached (file function(): lines):\n" + "\n".join(lines_out) + "\n")
    os.makedirs(WORK, exist_ok=True)
    out = o.out or os.path.join(WORK, "coverage.txt")
    with open(out, "w") as f:
        f.write(text)
    print("\n".join(text.splitlines()[:len(RX_FILES) + 3]))
    print("(never-reached lines by function: %s)" % out)
    return 1 if bad else 0


def main():
    argv = sys.argv[1:]
    rest = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(prog="tools/fuzz_atheris.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("seeds")
    a.add_argument("dir", nargs="?", default=CORPUS)
    a = sub.add_parser("run")
    a.add_argument("-t", "--time", type=int, default=None, help="seconds")
    a.add_argument("-n", "--runs", type=int, default=None)
    a.add_argument("--corpus", default=None)
    a.add_argument("--max-len", type=int, default=8192)
    a.add_argument("--quiet-ms", type=int, default=20000, help="clock run at the end of each input")
    a.add_argument("--set", action="append", default=[], metavar="NAME=V",
                   help="stack/config.py overrides (e.g. tight quotas)")
    a.add_argument("--tight", action="store_true", help="fuzz_inproc.TIGHT: quotas and tables "
                   "small enough to run out (corpus: host_tests/fuzz_corpus/tight)")
    a = sub.add_parser("replay")
    a.add_argument("files", nargs="+")
    a.add_argument("--set", action="append", default=[], metavar="NAME=V")
    a.add_argument("--tight", action="store_true")
    a = sub.add_parser("cover")
    a.add_argument("dirs", nargs="*")
    a.add_argument("--out", default=None)
    a.add_argument("--set", action="append", default=[], metavar="NAME=V")
    a.add_argument("--tight", action="store_true")
    a = sub.add_parser("minimize")
    a.add_argument("dirs", nargs="+")
    a.add_argument("--out", default=CORPUS)
    a.add_argument("--max-size", type=int, default=4096, help="leave out inputs larger than this")
    a.add_argument("--set", action="append", default=[], metavar="NAME=V")
    a.add_argument("--tight", action="store_true")
    o = ap.parse_args(argv)
    if o.cmd == "seeds":
        return cmd_seeds(o)
    if o.cmd == "run":
        return cmd_run(o, rest)
    if o.cmd == "replay":
        return cmd_replay(o)
    if o.cmd == "minimize":
        return cmd_minimize(o)
    return cmd_cover(o)


if __name__ == "__main__":
    sys.exit(main())
