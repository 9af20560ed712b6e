"""The fuzzer's side of the link: one reused L2 socket to send (scapy's
conf.L2socket, opened once), one raw AF_PACKET socket to capture what the
stack sends, an ARP responder for the fuzz peers and the probe, the wire
oracle applied to every captured frame, and the record of every frame sent
since the last good oracle (what a failure's pcap holds).
"""
import socket
import struct
import threading
import time

from . import pkt

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


class Wire:
    def __init__(self, iface, net, enter=None):
        """iface: the host side of the stack's TAP; enter: a context manager
        factory that puts this thread in the stack's namespace (or None)."""
        from scapy.all import conf
        self.iface = iface
        self.net = net
        ctx = enter() if enter else _null()
        with ctx:
            self.l2 = conf.L2socket(iface=iface)
            cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            cap.bind((iface, 0))
        cap.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        cap.settimeout(0.05)
        self.cap = cap
        self._send = self.l2.outs.send if hasattr(self.l2, "outs") else self.l2.send
        self.lock = threading.Lock()
        self.frames = []            # (monotonic, bytes) the stack sent, bounded
        self.max_frames = 100000
        self.base = 0               # index of frames[0] in the stream of all captured frames
        self.bad = []               # (reason, frame) from the wire oracle
        self.record = []            # (time.time(), bytes) sent since the last good oracle
        self.sent = 0
        self.captured = 0
        self.arp_answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture, daemon=True)
        self._thread.start()

    # -- sending
    def send(self, frame):
        frame = bytes(frame)
        with self.lock:
            self.record.append((time.time(), frame))
            self.sent += 1
        try:
            self._send(frame)
        except OSError:
            # runts below the link's minimum, or a full queue: not sent
            # (kept in the record anyway: a replay sends it the same way)
            pass

    def send_many(self, frames):
        with self.lock:
            now = time.time()
            self.record.extend((now, bytes(f)) for f in frames)
            self.sent += len(frames)
        send = self._send
        for f in frames:
            try:
                send(f)
            except OSError:
                pass

    def take_record(self):
        with self.lock:
            r, self.record = self.record, []
        return r

    # -- capture
    def _capture(self):
        net = self.net
        smac, sip = net.stack_mac, net.stack_ip
        while not self._stop.is_set():
            try:
                data, addr = self.cap.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            self.captured += 1
            why = pkt.check_sent(data, smac, sip)
            if why:
                with self.lock:
                    if len(self.bad) < 100:
                        self.bad.append((why, data))
            # the stack asks for a fuzz peer or the probe: answer
            if len(data) >= 42 and data[12:14] == b"\x08\x06" and data[20:22] == b"\x00\x01":
                tpa = data[38:42]
                m = net.peer_mac(tpa)
                if m is not None:
                    self.arp_answered += 1
                    self.send(pkt.eth(smac, m, pkt.ETH_ARP, pkt.arp(2, m, tpa, smac, sip)))
            with self.lock:
                self.frames.append((time.monotonic(), data))
                if len(self.frames) > self.max_frames:
                    drop = len(self.frames) // 2
                    del self.frames[:drop]
                    self.base += drop

    def mark(self):
        with self.lock:
            return self.base + len(self.frames)

    def since(self, mark):
        """(new mark, frames captured since mark)."""
        with self.lock:
            i = max(0, mark - self.base)
            out = [f for _, f in self.frames[i:]]
            return self.base + len(self.frames), out

    def take_bad(self):
        with self.lock:
            b, self.bad = self.bad, []
        return b

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.cap.close()
        self.l2.close()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def ping_frame(net, ident, seq, data=b"zcstack fuzz probe"):
    return pkt.eth(net.stack_mac, net.probe_mac, pkt.ETH_IP,
                   pkt.ipv4(net.probe_ip, net.stack_ip, pkt.PROTO_ICMP,
                            pkt.icmp(8, 0, struct.pack("!HH", ident, seq), data), ident=seq))


def is_echo_reply(frame, net, ident, seq):
    return (len(frame) >= 42 and frame[:6] == net.probe_mac and frame[12:14] == b"\x08\x00"
            and frame[23] == pkt.PROTO_ICMP and frame[30:34] == net.probe_ip
            and frame[14 + (frame[14] & 15) * 4] == 0
            and frame[14 + (frame[14] & 15) * 4 + 4:14 + (frame[14] & 15) * 4 + 8]
            == struct.pack("!HH", ident, seq))


def arp_announce(net, ip, hwaddr):
    """An ARP request from (ip, hwaddr) for the stack: the stack caches it."""
    return pkt.eth(pkt.BCAST_MAC, hwaddr, pkt.ETH_ARP,
                   pkt.arp(1, hwaddr, ip, pkt.ZERO_MAC, net.stack_ip))
