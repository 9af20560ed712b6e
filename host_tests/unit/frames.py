# A tiny frame builder and parser for the protocol unit tests, for both
# lanes (CPython and MicroPython): no scapy, and checksums computed here
# (not by stack.checksum) so the tests do not lean on the code under test.
# Addresses: IPv4 as "a.b.c.d" or 4 bytes, MACs as 6 bytes.
import struct

BCAST_MAC = b"\xff\xff\xff\xff\xff\xff"
ZERO_MAC = b"\x00\x00\x00\x00\x00\x00"
ETH_IP = 0x0800
ETH_ARP = 0x0806
PROTO_ICMP = 1
PROTO_UDP = 17
PROTO_TCP = 6
MF = 0x2000
DF = 0x4000


# ---- addresses and checksums --------------------------------------------------

def ip4(a):
    """4 bytes of an IPv4 address given as "a.b.c.d", 4 bytes or an int."""
    if isinstance(a, int):
        return struct.pack("!I", a & 0xFFFFFFFF)
    if isinstance(a, str):
        parts = a.split(".")
        assert len(parts) == 4, a
        return bytes([int(x) for x in parts])
    assert len(a) == 4, a
    return bytes(a)


def ip_str(b):
    return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])


def ones_sum(data, acc=0):
    """One's-complement sum of data as big-endian 16-bit words, folded."""
    n = len(data)
    if n & 1:
        data = bytes(data) + b"\x00"
        n += 1
    # in slices of 64 words: one tuple of a whole jumbo frame's words is an
    # 8 KiB heap block, which a 32-bit MicroPython heap fragmented by a long
    # fuzz campaign may not have in one piece
    i = 0
    while n - i >= 128:
        acc += sum(struct.unpack_from("!64H", data, i))
        i += 128
    if n > i:
        acc += sum(struct.unpack_from("!%dH" % ((n - i) // 2), data, i))
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


def csum(data, acc=0):
    """The Internet checksum field value for data (RFC 1071)."""
    return ~ones_sum(data, acc) & 0xFFFF


def csum_ok(data, acc=0):
    """True when data (checksum field included) sums to 0xFFFF."""
    return ones_sum(data, acc) == 0xFFFF


def pseudo(src, dst, proto, length):
    return ones_sum(ip4(src) + ip4(dst) + struct.pack("!HH", proto, length))


# ---- builders -----------------------------------------------------------------

def eth(dst, src, etype, payload, pad_to=0):
    """An Ethernet II frame; pad_to=60 pads it the way a real MAC does."""
    f = bytes(dst) + bytes(src) + struct.pack("!H", etype) + bytes(payload)
    if len(f) < pad_to:
        f += bytes(pad_to - len(f))
    return f


def arp(op, sha, spa, tha, tpa, htype=1, ptype=0x0800, hlen=6, plen=4):
    return (struct.pack("!HHBBH", htype, ptype, hlen, plen, op) + bytes(sha) + ip4(spa)
            + bytes(tha) + ip4(tpa))


def ipv4(src, dst, proto, payload, ttl=64, ident=1, flags=0, frag=0, options=b"",
         ihl=None, total_length=None, bad_checksum=False, tos=0, version=4):
    """An IPv4 datagram. frag is the fragment offset in BYTES (a multiple of
    8); flags is MF/DF. ihl (in 32-bit words) and total_length override the
    computed fields; bad_checksum flips the header checksum."""
    options = bytes(options)
    assert len(options) % 4 == 0, "pad the options to 32 bits"
    if ihl is None:
        ihl = 5 + len(options) // 4
    if total_length is None:
        total_length = 20 + len(options) + len(payload)
    h = bytearray(struct.pack("!BBHHHBBH", (version << 4) | (ihl & 15), tos, total_length & 0xFFFF,
                              ident & 0xFFFF, flags | (frag >> 3), ttl, proto, 0))
    h += ip4(src) + ip4(dst) + options
    c = csum(h)
    if bad_checksum:
        c ^= 0x5A5A
    h[10] = c >> 8
    h[11] = c & 0xFF
    return bytes(h) + bytes(payload)


def icmp(typ, code, rest, data=b"", bad_checksum=False):
    """An ICMP message: type, code, the 4 'rest of header' bytes, data."""
    m = bytearray(struct.pack("!BBH", typ, code, 0) + bytes(rest) + bytes(data))
    c = csum(m)
    if bad_checksum:
        c ^= 0x00FF
    m[2] = c >> 8
    m[3] = c & 0xFF
    return bytes(m)


def icmp_echo(ident, seq, data=b"", type=8, bad_checksum=False):
    return icmp(type, 0, struct.pack("!HH", ident, seq), data, bad_checksum)


def udp(sport, dport, data, src, dst, checksum=True, length=None):
    """A UDP datagram. checksum: True (computed), False (zero: none) or
    "bad" (computed, then spoiled). length overrides the length field (the
    checksum is computed with the overridden value)."""
    data = bytes(data)
    ln = 8 + len(data) if length is None else length
    u = bytearray(struct.pack("!HHHH", sport, dport, ln & 0xFFFF, 0) + data)
    if checksum:
        c = csum(u, pseudo(src, dst, PROTO_UDP, ln))
        if c == 0:
            c = 0xFFFF
        if checksum == "bad":
            c = c ^ 0x1111 or 0x1111
        u[6] = c >> 8
        u[7] = c & 0xFF
    return bytes(u)


# TCP flags and option kinds (RFC 9293, 7323, 2018)
TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10
TCP_URG = 0x20
_FLAG_LETTERS = (("S", TCP_SYN), ("F", TCP_FIN), ("R", TCP_RST), ("P", TCP_PSH), ("U", TCP_URG),
                 ("E", 0x40), ("W", 0x80), (".", TCP_ACK))


def tcp_flags(s):
    """packetdrill's flag letters ("S.", "P.", "F.", "R", ...) -> the flag byte."""
    v = 0
    for c in s:
        for letter, bit in _FLAG_LETTERS:
            if c == letter:
                v |= bit
                break
        else:
            raise ValueError("unknown TCP flag letter %r" % c)
    return v


def tcp_flag_str(v):
    """The flag byte -> packetdrill's letters (ACK as a trailing ".")."""
    s = ""
    for letter, bit in _FLAG_LETTERS:
        if v & bit:
            s += letter
    return s


def tcp_options(opts):
    """Option bytes from a list of tuples (or raw bytes, taken as they are):
    ("mss", n), ("wscale", n), ("sackok",), ("ts", val, ecr),
    ("sack", [(left, right), ...]), ("nop",), ("eol",), ("raw", bytes).
    Not padded: tcp() pads to 32 bits with EOL (zero) bytes."""
    if isinstance(opts, (bytes, bytearray)):
        return bytes(opts)
    out = b""
    for o in opts:
        k = o[0]
        if k == "mss":
            out += struct.pack("!BBH", 2, 4, o[1])
        elif k == "wscale":
            out += struct.pack("!BBB", 3, 3, o[1])
        elif k == "sackok":
            out += b"\x04\x02"
        elif k == "ts":
            out += struct.pack("!BBII", 8, 10, o[1] & 0xFFFFFFFF, o[2] & 0xFFFFFFFF)
        elif k == "sack":
            out += struct.pack("!BB", 5, 2 + 8 * len(o[1]))
            for left, right in o[1]:
                out += struct.pack("!II", left & 0xFFFFFFFF, right & 0xFFFFFFFF)
        elif k == "nop":
            out += b"\x01"
        elif k == "eol":
            out += b"\x00"
        elif k == "raw":
            out += bytes(o[1])
        else:
            raise ValueError("unknown TCP option %r" % (k,))
    return out


def tcp(sport, dport, seq, ack, flags, win, data=b"", options=b"", src=None, dst=None,
        checksum=True, urg=0, doff=None):
    """A TCP segment. seq/ack are taken mod 2^32; flags an int or letters
    ("S.", "P."); options as tcp_options() takes them, padded to 32 bits with
    EOL bytes. checksum: True (computed over the pseudo header of src/dst),
    "bad" (computed, then spoiled) or False (left 0). doff (in 32-bit words)
    overrides the data offset (a malformed header)."""
    if isinstance(flags, str):
        flags = tcp_flags(flags)
    o = tcp_options(options)
    if len(o) % 4:
        o += bytes(4 - len(o) % 4)
    if doff is None:
        doff = 5 + len(o) // 4
    data = bytes(data)
    t = bytearray(struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                              (doff & 15) << 4, flags & 0xFF, win & 0xFFFF, 0, urg & 0xFFFF))
    t += o + data
    if checksum:
        c = csum(t, pseudo(src, dst, PROTO_TCP, len(t)))
        if checksum == "bad":
            c ^= 0x2222
        t[16] = c >> 8
        t[17] = c & 0xFF
    return bytes(t)


def parse_tcp_options(b):
    """Option bytes -> list of tuples as tcp_options() takes them; what does
    not parse ends the list as ("bad", rest)."""
    out = []
    i = 0
    n = len(b)
    while i < n:
        k = b[i]
        if k == 0:
            out.append(("eol",))
            if any(b[i + 1:]):
                out.append(("bad", bytes(b[i + 1:])))
            break
        if k == 1:
            out.append(("nop",))
            i += 1
            continue
        if i + 1 >= n or b[i + 1] < 2 or i + b[i + 1] > n:
            out.append(("bad", bytes(b[i:])))
            break
        ln = b[i + 1]
        v = bytes(b[i + 2:i + ln])
        if k == 2 and ln == 4:
            out.append(("mss", struct.unpack("!H", v)[0]))
        elif k == 3 and ln == 3:
            out.append(("wscale", v[0]))
        elif k == 4 and ln == 2:
            out.append(("sackok",))
        elif k == 8 and ln == 10:
            out.append(("ts",) + struct.unpack("!II", v))
        elif k == 5 and (ln - 2) % 8 == 0:
            out.append(("sack", [struct.unpack("!II", v[j:j + 8]) for j in range(0, ln - 2, 8)]))
        else:
            out.append(("raw", bytes(b[i:i + ln])))
        i += ln
    return out


def parse_tcp(b, src=None, dst=None):
    """TCP fields of a segment; with src/dst the checksum is verified
    ('checksum_ok'). 'flags' is the byte, 'flagstr' its letters."""
    assert len(b) >= 20, "short TCP"
    sport, dport, seq, ack, off, fl, win, c, urg = struct.unpack("!HHIIBBHHH", b[0:20])
    hl = (off >> 4) * 4
    assert 20 <= hl <= len(b), "bad TCP data offset %d" % hl
    d = {"sport": sport, "dport": dport, "seq": seq, "ack": ack, "flags": fl,
         "flagstr": tcp_flag_str(fl), "win": win, "checksum": c, "urg": urg, "hl": hl,
         "options": parse_tcp_options(b[20:hl]), "raw_options": bytes(b[20:hl]),
         "data": bytes(b[hl:])}
    if src is not None:
        d["checksum_ok"] = csum_ok(b, pseudo(src, dst, PROTO_TCP, len(b)))
    return d


def fragment(datagram, *sizes):
    """Split IPv4 datagram bytes into fragments carrying `sizes` payload
    bytes each (all but the last a multiple of 8 unless the test wants
    otherwise); the rest goes into a last fragment. Returns datagrams (no
    Ethernet header), in order. Keeps the original ident, TTL and options."""
    hl = (datagram[0] & 15) * 4
    hdr = datagram[:hl]
    payload = datagram[hl:]
    ident = struct.unpack("!H", hdr[4:6])[0]
    out = []
    off = 0
    cuts = list(sizes)
    if sum(cuts) < len(payload):
        cuts.append(len(payload) - sum(cuts))
    for i, n in enumerate(cuts):
        piece = payload[off:off + n]
        last = i == len(cuts) - 1
        out.append(ipv4(hdr[12:16], hdr[16:20], hdr[9], piece, ttl=hdr[8], ident=ident,
                        flags=0 if last else MF, frag=off, options=hdr[20:hl], tos=hdr[1]))
        off += n
    return out


def raw_fragment(src, dst, proto, ident, offset, data, more, ttl=64):
    """One fragment built directly: offset in bytes, data its payload."""
    return ipv4(src, dst, proto, data, ttl=ttl, ident=ident, flags=MF if more else 0, frag=offset)


def pattern(n, seed=0):
    """n bytes of a recognisable pattern."""
    b = bytearray(n)
    for i in range(n):
        b[i] = (i * 7 + seed * 13 + 1) & 0xFF
    return bytes(b)


# ---- parsers (what the stack sent) ---------------------------------------------

def parse_eth(f):
    assert len(f) >= 14, "frame shorter than an Ethernet header"
    return {"dst": bytes(f[0:6]), "src": bytes(f[6:12]),
            "type": struct.unpack("!H", f[12:14])[0], "payload": bytes(f[14:])}


def parse_arp(b):
    assert len(b) >= 28, "short ARP"
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", b[0:8])
    return {"htype": htype, "ptype": ptype, "hlen": hlen, "plen": plen, "op": op,
            "sha": bytes(b[8:14]), "spa": ip_str(b[14:18]),
            "tha": bytes(b[18:24]), "tpa": ip_str(b[24:28]), "len": len(b)}


def parse_ip(b):
    """IPv4 header fields of b; 'payload' is what the total length covers."""
    assert len(b) >= 20, "short IPv4 datagram"
    vihl, tos, tl, ident, fl, ttl, proto, c = struct.unpack("!BBHHHBBH", b[0:12])
    hl = (vihl & 15) * 4
    return {"version": vihl >> 4, "hl": hl, "tos": tos, "tl": tl, "id": ident,
            "df": bool(fl & DF), "mf": bool(fl & MF), "offset": (fl & 0x1FFF) * 8,
            "ttl": ttl, "proto": proto, "checksum": c,
            "checksum_ok": csum_ok(b[:hl]), "src": ip_str(b[12:16]), "dst": ip_str(b[16:20]),
            "options": bytes(b[20:hl]), "header": bytes(b[:hl]), "payload": bytes(b[hl:tl]),
            "extra": len(b) - tl}


def parse_icmp(b):
    assert len(b) >= 8, "short ICMP"
    typ, code, c = struct.unpack("!BBH", b[0:4])
    ident, seq = struct.unpack("!HH", b[4:8])
    return {"type": typ, "code": code, "checksum": c, "checksum_ok": csum_ok(b),
            "id": ident, "seq": seq, "rest": bytes(b[4:8]), "data": bytes(b[8:])}


def parse_udp(b, src=None, dst=None):
    """UDP fields; with src/dst the checksum is verified ('checksum_ok')."""
    assert len(b) >= 8, "short UDP"
    sport, dport, ln, c = struct.unpack("!HHHH", b[0:8])
    d = {"sport": sport, "dport": dport, "len": ln, "checksum": c, "data": bytes(b[8:ln])}
    if src is not None:
        d["checksum_ok"] = c == 0 or csum_ok(b[:ln], pseudo(src, dst, PROTO_UDP, ln))
    return d


def parse_frame(f):
    """Ethernet + (ARP | IPv4 + (ICMP | UDP | TCP)) of one sent frame, as one
    dict with keys 'eth', and 'arp' or 'ip' plus 'icmp'/'udp'/'tcp' where they apply
    (transport only for an unfragmented datagram)."""
    e = parse_eth(f)
    out = {"eth": e}
    if e["type"] == ETH_ARP:
        out["arp"] = parse_arp(e["payload"])
    elif e["type"] == ETH_IP:
        ip = parse_ip(e["payload"])
        out["ip"] = ip
        if not ip["mf"] and ip["offset"] == 0:
            if ip["proto"] == PROTO_ICMP:
                out["icmp"] = parse_icmp(ip["payload"])
            elif ip["proto"] == PROTO_UDP:
                out["udp"] = parse_udp(ip["payload"], ip["src"], ip["dst"])
            elif ip["proto"] == PROTO_TCP:
                out["tcp"] = parse_tcp(ip["payload"], ip["src"], ip["dst"])
    return out


def reassemble(ips):
    """Payload of a datagram from parsed fragments (parse_ip dicts), checking
    that they tile [0, end) exactly and that only the last has MF clear."""
    ips = sorted(ips, key=lambda d: d["offset"])
    at = 0
    for i, d in enumerate(ips):
        assert d["offset"] == at, "fragment at %d, expected %d" % (d["offset"], at)
        assert d["mf"] == (i != len(ips) - 1), "MF wrong on fragment %d" % i
        at += len(d["payload"])
    return b"".join(d["payload"] for d in ips)
