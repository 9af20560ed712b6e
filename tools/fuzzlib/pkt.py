"""Frames as bytes: addresses, the Internet checksum, builders for every
header the fuzzer speaks, and the checks applied to every frame the stack
sends (tools/fuzz's wire oracle).

Frames are built byte by byte (fast: a million frames take seconds, where
building each one as a scapy packet would take minutes); scapy reads and
writes the pcaps and builds the option-rich templates.
"""
import struct
import sys

M32 = 0xFFFFFFFF
ETH_IP = 0x0800
ETH_ARP = 0x0806
PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
MF = 0x2000
DF = 0x4000

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

BCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
MAX_FRAME = 1514            # Ethernet II without FCS (the TAP MTU 1500)

_LITTLE = sys.byteorder == "little"


def mac(s):
    if isinstance(s, (bytes, bytearray)):
        return bytes(s)
    return bytes(int(x, 16) for x in s.split(":"))


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def ip4(a):
    if isinstance(a, (bytes, bytearray)):
        return bytes(a)
    return bytes(int(x) for x in a.split("."))


def ip_str(b):
    return ".".join(str(x) for x in b)


def _fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def csum(data):
    """RFC 1071 checksum of data: the value to put in the field."""
    if len(data) & 1:
        data = bytes(data) + b"\x00"
    s = _fold(sum(memoryview(data).cast("H")))
    if _LITTLE:
        s = ((s & 0xFF) << 8) | (s >> 8)
    return ~s & 0xFFFF


def csum_ok(data):
    """True when data (checksum field included) sums to 0xFFFF (byte order
    does not matter for that test)."""
    if len(data) & 1:
        data = bytes(data) + b"\x00"
    return _fold(sum(memoryview(data).cast("H"))) == 0xFFFF


# ---------------------------------------------------------------- builders

def eth(dst, src, etype, payload):
    return mac(dst) + mac(src) + struct.pack("!H", etype) + bytes(payload)


def ipv4(src, dst, proto, payload, ttl=64, ident=0x1234, flags_frag=0, options=b"", tos=0,
         tl=None, ihl=None):
    hl = 20 + len(options)
    if ihl is None:
        ihl = hl // 4
    if tl is None:
        tl = hl + len(payload)
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl & 15), tos, tl & 0xFFFF, ident & 0xFFFF,
                              flags_frag & 0xFFFF, ttl, proto, 0, ip4(src), ip4(dst)) + bytes(options))
    struct.pack_into("!H", h, 10, csum(bytes(h[:max(20, min(len(h), (ihl & 15) * 4))])))
    return bytes(h) + bytes(payload)


def icmp(typ, code, rest=b"\x00" * 4, data=b""):
    m = bytearray(struct.pack("!BBH", typ & 0xFF, code & 0xFF, 0) + bytes(rest) + bytes(data))
    struct.pack_into("!H", m, 2, csum(bytes(m)))
    return bytes(m)


def pseudo(src, dst, proto, n):
    return ip4(src) + ip4(dst) + struct.pack("!BBH", 0, proto, n & 0xFFFF)


def udp(src, dst, sport, dport, data, ulen=None):
    n = 8 + len(data)
    seg = bytearray(struct.pack("!HHHH", sport & 0xFFFF, dport & 0xFFFF,
                                (n if ulen is None else ulen) & 0xFFFF, 0) + bytes(data))
    c = csum(pseudo(src, dst, PROTO_UDP, n) + bytes(seg)) or 0xFFFF
    struct.pack_into("!H", seg, 6, c)
    return bytes(seg)


def tcp(src, dst, sport, dport, seq, ack, flags, win=65535, data=b"", options=b"", urg=0,
        doff=None):
    hl = 20 + len(options)
    if doff is None:
        doff = (hl + 3) // 4
        options = bytes(options) + b"\x00" * (doff * 4 - hl)
    seg = bytearray(struct.pack("!HHIIBBHHH", sport & 0xFFFF, dport & 0xFFFF, seq & M32, ack & M32,
                                (doff & 15) << 4, flags & 0xFF, win & 0xFFFF, 0, urg & 0xFFFF)
                    + bytes(options) + bytes(data))
    struct.pack_into("!H", seg, 16, csum(pseudo(src, dst, PROTO_TCP, len(seg)) + bytes(seg)))
    return bytes(seg)


def arp(op, sha, spa, tha, tpa, htype=1, ptype=0x0800, hlen=6, plen=4):
    return struct.pack("!HHBBH6s4s6s4s", htype, ptype, hlen, plen, op,
                       mac(sha), ip4(spa), mac(tha), ip4(tpa))


def fix_checksums(frame):
    """The frame with its IPv4 header checksum and (when the datagram is
    whole and unfragmented) its ICMP/UDP/TCP checksum made right again, as
    far as the bytes present allow; anything else as it was."""
    b = bytearray(frame)
    if len(b) < 34 or b[12:14] != b"\x08\x00":
        return bytes(b)
    ihl = (b[14] & 15) * 4
    if ihl < 20 or 14 + ihl > len(b):
        return bytes(b)
    b[24:26] = b"\x00\x00"
    struct.pack_into("!H", b, 24, csum(bytes(b[14:14 + ihl])))
    tl = struct.unpack_from("!H", b, 16)[0]
    ff = struct.unpack_from("!H", b, 20)[0]
    if ff & 0x3FFF or tl > len(b) - 14 or tl < ihl:
        return bytes(b)
    t = 14 + ihl
    proto = b[23]
    end = 14 + tl
    n = end - t
    if proto == PROTO_ICMP and n >= 4:
        b[t + 2:t + 4] = b"\x00\x00"
        struct.pack_into("!H", b, t + 2, csum(bytes(b[t:end])))
    elif proto == PROTO_UDP and n >= 8:
        if b[t + 6:t + 8] != b"\x00\x00":
            b[t + 6:t + 8] = b"\x00\x00"
            struct.pack_into("!H", b, t + 6,
                             csum(pseudo(b[26:30], b[30:34], PROTO_UDP, n) + bytes(b[t:end])) or 0xFFFF)
    elif proto == PROTO_TCP and n >= 20:
        b[t + 16:t + 18] = b"\x00\x00"
        struct.pack_into("!H", b, t + 16, csum(pseudo(b[26:30], b[30:34], PROTO_TCP, n) + bytes(b[t:end])))
    return bytes(b)


# ---------------------------------------------------------------- the wire oracle

def check_sent(frame, stack_mac, stack_ip):
    """What is wrong with a frame the stack sent ('' when nothing): it comes
    from the stack's MAC; an ARP frame names the stack as sender; an IPv4
    datagram comes from the stack's address (or 0.0.0.0 never), has a right
    header checksum, a total length that fits the frame, and a right
    ICMP/UDP/TCP checksum when unfragmented."""
    n = len(frame)
    if n < 14:
        return "runt of %d bytes" % n
    if n > MAX_FRAME:
        return "frame of %d bytes (over %d)" % (n, MAX_FRAME)
    if frame[6:12] != stack_mac:
        return "source MAC %s" % mac_str(frame[6:12])
    et = frame[12:14]
    if et == b"\x08\x06":
        if n < 42:
            return "ARP of %d bytes" % n
        if frame[14:22] != b"\x00\x01\x08\x00\x06\x04\x00\x01" and \
                frame[14:22] != b"\x00\x01\x08\x00\x06\x04\x00\x02":
            return "ARP header %s" % frame[14:22].hex()
        if frame[22:28] != stack_mac or frame[28:32] != stack_ip:
            return "ARP sender %s %s" % (mac_str(frame[22:28]), ip_str(frame[28:32]))
        return ""
    if et != b"\x08\x00":
        return "ethertype %s" % et.hex()
    if n < 34:
        return "IPv4 frame of %d bytes" % n
    if frame[14] >> 4 != 4:
        return "IP version %d" % (frame[14] >> 4)
    ihl = (frame[14] & 15) * 4
    if ihl < 20 or 14 + ihl > n:
        return "IHL %d" % ihl
    if not csum_ok(frame[14:14 + ihl]):
        return "IPv4 header checksum"
    if frame[26:30] != stack_ip:
        return "IPv4 source %s" % ip_str(frame[26:30])
    tl = struct.unpack_from("!H", frame, 16)[0]
    if tl < ihl or 14 + tl > n:
        return "IPv4 total length %d in a %d-byte frame" % (tl, n)
    if 14 + tl != n and n > 60:
        return "IPv4 total length %d, frame %d bytes (trailing bytes)" % (tl, n)
    ff = struct.unpack_from("!H", frame, 20)[0]
    if ff & 0x3FFF:
        return ""
    t = 14 + ihl
    seg = frame[t:14 + tl]
    proto = frame[23]
    if proto == PROTO_ICMP:
        if len(seg) < 8 or not csum_ok(seg):
            return "ICMP checksum/length (%d bytes)" % len(seg)
    elif proto == PROTO_UDP:
        if len(seg) < 8 or struct.unpack_from("!H", seg, 4)[0] != len(seg):
            return "UDP length"
        if seg[6:8] != b"\x00\x00" and not csum_ok(pseudo(frame[26:30], frame[30:34], PROTO_UDP,
                                                          len(seg)) + seg):
            return "UDP checksum"
    elif proto == PROTO_TCP:
        if len(seg) < 20 or (seg[12] >> 4) * 4 < 20 or (seg[12] >> 4) * 4 > len(seg):
            return "TCP header (%d bytes)" % len(seg)
        if not csum_ok(pseudo(frame[26:30], frame[30:34], PROTO_TCP, len(seg)) + seg):
            return "TCP checksum"
    else:
        return "IP protocol %d sent" % proto
    return ""
