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
    if n:
        acc += sum(struct.unpack("!%dH" % (n // 2), data))
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
    """Ethernet + (ARP | IPv4 + (ICMP | UDP)) of one sent frame, as one dict
    with keys 'eth', and 'arp' or 'ip' plus 'icmp'/'udp' where they apply
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
