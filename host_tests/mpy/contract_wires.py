# The far side of the cable, one kind per NETIF, for the driver-contract suite
# (host_tests/mpy/test_driver_contract.py). MicroPython only.
#
#   drv, wire = make_driver(rx_ring, tx_ring)
#   wire.send(frame)        one Ethernet frame INTO the driver's RX side
#   wire.recv(timeout_ms)   the next frame the driver transmitted (bytes), or None
#   wire.close()
#
# A NETIF is one factory class registered in NETIFS below; a new MAC (a C
# driver linked with its behavioural model) plugs in by adding one. The
# factory also says:
#   poll_target(drv)  what select.poll registers to wait for RX (the driver
#                     object itself where it answers MP_STREAM_GET_FILENO);
#   CAPS              capabilities beyond the contract, for the few tests that
#                     only some NETIFs can do (see needs() in the suite).
#
# NETIF comes from the environment variable ZC_NETIF (default "tap"). A NETIF
# without a factory, or whose driver is not built in, FAILS (NetifMissing):
# only "this machine cannot open a TAP" (no root, no /dev/net/tun) skips.
import os
import errno
import select
import socket
import struct

HOST_IP = "198.51.100.1"          # the wire side (the kernel, for tap)
PEER_IP = "198.51.100.2"          # the driver under test
HOST_MAC = b"\x02\x00\x00\x00\x00\x01"
PEER_MAC = b"\x02\x00\x00\x00\x00\x02"
HOST_PORT = 40001
PEER_PORT = 40002


class SkipTest(Exception):
    """The runner reports an exception of this name as a skipped test."""


class NetifMissing(Exception):
    """The NETIF under test has no factory or no driver in this build."""


def netif_name():
    return os.getenv("ZC_NETIF") or "tap"


def _sh(cmd):
    rc = os.system(cmd + " >/dev/null 2>&1")
    if rc != 0:
        raise OSError("command failed (%d): %s" % (rc, cmd))


def _write(path, text):
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        pass


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def host_udp_payload(fr):
    """Payload of a peer->host UDP frame (one the driver sends to the host
    socket), or None for any other frame."""
    if len(fr) < 42 or fr[12:14] != b"\x08\x00" or fr[23] != 17:
        return None
    if fr[30:34] != ip4(HOST_IP) or struct.unpack("!H", fr[36:38])[0] != HOST_PORT:
        return None
    ulen = struct.unpack("!H", fr[38:40])[0]
    return fr[42:34 + ulen]


# ---- tap: the kernel on the other end of a TAP device -------------------------------

_AF_PACKET = 17
_SOCK_RAW = 3
_ETH_P_ALL_BE = 0x0300            # htons(ETH_P_ALL) on a little-endian host
_PACKET_OUTGOING = 4
# Errors a packet socket reports once its interface is gone (Linux numbers:
# MicroPython's errno module lacks ENETDOWN).
_GONE = (100, 6, 19)              # ENETDOWN, ENXIO, ENODEV


def _ifindex(name):
    # /sys/class/net may belong to another namespace: ask the kernel
    # (if_nametoindex through our C module zcsys: no ffi on a 32-bit build).
    import zcsys
    i = zcsys.if_nametoindex(name)
    if not i:
        raise OSError("no interface %s" % name)
    return i


class TapWire:
    """Frames cross the TAP through a packet socket bound to the interface
    (exact bytes both ways). The interface also carries the host address and
    a static neighbour for the peer, with a UDP socket on the host port: a
    transmitted UDP frame for that port must also reach the socket, i.e. the
    kernel's IP stack accepted it."""

    def __init__(self, drv):
        self.name = drv.name
        self.mtu = 1500
        self.pk = None
        self.udp = None
        try:
            # A known host MAC (sysfs may show another namespace).
            _sh("ip link set dev %s address 02:00:00:00:00:01" % self.name)
            _sh("ip addr add %s/24 dev %s" % (HOST_IP, self.name))
            _sh("ip neigh replace %s lladdr 02:00:00:00:00:02 nud permanent dev %s"
                % (PEER_IP, self.name))
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(socket.getaddrinfo(HOST_IP, HOST_PORT)[0][-1])
            self.pk = socket.socket(_AF_PACKET, _SOCK_RAW, _ETH_P_ALL_BE)
            # struct sockaddr_ll: family, protocol, ifindex, hatype, pkttype, halen, addr
            self.pk.bind(struct.pack("<HHiHBB8s", _AF_PACKET, _ETH_P_ALL_BE,
                                     _ifindex(self.name), 0, 0, 0, b""))
        except BaseException:
            self.close()
            raise
        self.pk_poll = select.poll()
        self.pk_poll.register(self.pk, select.POLLIN)
        self.udp_poll = select.poll()
        self.udp_poll.register(self.udp, select.POLLIN)

    def send(self, frame):
        need = len(frame) - 14
        if need > self.mtu:
            _sh("ip link set dev %s mtu %d" % (self.name, need))
            self.mtu = need
        assert self.pk.send(frame) == len(frame), "short send into the TAP"

    def recv(self, timeout_ms=1000):
        for _ in range(64):        # skip at most this many frames going the other way
            if not self.pk_poll.poll(timeout_ms):
                return None
            try:
                fr, addr = self.pk.recvfrom(4096)
            except OSError as e:
                if e.errno in _GONE:
                    return None    # the interface went away with the driver
                raise
            if addr[10] == _PACKET_OUTGOING:
                continue           # the kernel's own frame towards the driver
            pl = host_udp_payload(fr)
            if pl is not None:
                assert self.udp_poll.poll(timeout_ms), "the kernel did not deliver a UDP frame"
                got = self.udp.recv(4096)
                assert got == pl, "the kernel delivered %r for %r" % (got[:40], pl[:40])
            return fr
        return None

    def close(self):
        for s in (self.pk, self.udp):
            if s is not None:
                s.close()
        self.pk = self.udp = None


class TapNetif:
    name = "tap"
    # poll_object: select.poll takes the driver itself (MP_STREAM_GET_FILENO);
    # kernel_iface: a kernel network interface that lives exactly as long as
    # the driver's fd;
    # finaliser: an object dropped without close() gives everything back when
    # the GC collects it (a C type with __del__);
    # pool_views: a memoryview of a pool block (zcpool.block(i)) given as a
    # gather object is recognised by its address and held like the block;
    # view_base_check: a memoryview whose base bytearray was resized (its
    # storage freed) after tx() is caught too.
    CAPS = ("poll_object", "kernel_iface", "finaliser", "pool_views", "view_base_check")
    _seq = [0]

    def make_driver(self, rx_ring, tx_ring, wire):
        try:
            import zctap
        except ImportError:
            raise NetifMissing("ZC_NETIF=tap but this MicroPython has no zctap module "
                               "(drivers/tap not built in)")
        # No IPv6 chatter (DAD, MLD, RS) on the new interface: its frames would
        # land in the RX ring between ours.
        _write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1")
        name = "zct%d" % self._seq[0]
        self._seq[0] += 1
        try:
            drv = zctap.TAP(name=name, rx_ring=rx_ring, tx_ring=tx_ring)
        except OSError as e:
            if e.errno in (errno.EPERM, errno.EACCES, errno.ENOENT, errno.ENODEV):
                raise SkipTest("cannot open a TAP device: %s" % e)
            raise
        if not wire:
            return drv, None
        try:
            return drv, TapWire(drv)
        except BaseException:
            drv.close()
            raise

    def poll_target(self, drv):
        return drv


# ---- memif: the in-memory twin (stack/memif.py) -------------------------------------

class MemifWire:
    """inject() is the RX wire, take_sent() the TX one."""

    def __init__(self, drv):
        self.drv = drv
        self.q = []

    def send(self, frame):
        assert self.drv.inject(frame), "memif wire queue full (or link down)"

    def recv(self, timeout_ms=1000):
        # Transmission happens inside tx_reap: nothing arrives later.
        if not self.q:
            self.q = self.drv.take_sent()
        if not self.q:
            return None
        return self.q.pop(0)

    def close(self):
        self.q = []


class MemifNetif:
    name = "memif"
    CAPS = ()
    _seq = [0]

    def make_driver(self, rx_ring, tx_ring, wire):
        try:
            from stack.memif import Memif
        except ImportError as e:
            raise NetifMissing("ZC_NETIF=memif but stack.memif does not import: %r" % e)
        name = "mem%d" % self._seq[0]
        self._seq[0] += 1
        # A wire queue longer than any burst the suite sends.
        drv = Memif(name=name, rx_ring=rx_ring, tx_ring=tx_ring, wire_queue=256)
        if drv.fileno() < 0:
            drv.close()
            raise NetifMissing("memif has no eventfd on this MicroPython (no zcsys module?)")
        return drv, (MemifWire(drv) if wire else None)

    def poll_target(self, drv):
        # A Python object has no stream protocol: select.poll takes its fd.
        return drv.fileno()


# ---- c6747sim: the C6747 EMAC driver on its behavioural model -----------------------

class C6747Wire:
    """The model's in-memory wire: inject() towards the MAC, take() what the
    MAC put on the wire. The model's DMA runs inside the driver's calls
    (tx_reap hands frames to the EMAC): nothing arrives later."""

    def __init__(self, drv):
        self.drv = drv
        self.buf = bytearray(2048)

    def send(self, frame):
        r = self.drv.inject(frame)
        assert r == 0, "c6747 model wire queue full (errno %d)" % r

    def recv(self, timeout_ms=1000):
        n = self.drv.take(self.buf)
        return bytes(self.buf[:n]) if n else None

    def close(self):
        pass


class C6747SimNetif:
    """drivers/c6747_emac linked with its model (model/). The suite's frames
    go to any address and must arrive byte-exact as given, as over a TAP:
    the MAC runs promiscuous, with short frames not padded (padding to 60
    bytes, the default, is shown by host_tests/mpy/test_c6747_model.py) and
    RXMAXLEN at what a block takes (1598 + the CRC)."""
    name = "c6747sim"
    # pool_views: zcdma_mp_gather holds a view of a block like the block;
    # view_base_check: a lent buffer's storage is re-checked at the kick
    CAPS = ("poll_object", "finaliser", "pool_views", "view_base_check")

    def make_driver(self, rx_ring, tx_ring, wire):
        try:
            import c6747_emac
        except ImportError:
            raise NetifMissing("ZC_NETIF=c6747sim but this MicroPython has no c6747_emac module "
                               "(drivers/c6747_emac not built in)")
        import zcpool
        drv = c6747_emac.EMAC(rx_ring=rx_ring, tx_ring=tx_ring, wire="queue", queue_depth=256,
                              promisc=True, pad=0,
                              rx_maxlen=zcpool.BLOCK_SIZE - zcpool.FRAME_OFFSET + 4)
        return drv, (C6747Wire(drv) if wire else None)

    def poll_target(self, drv):
        return drv


# ---- <netif>+impair: the impairment layer (stack/impair.py) over a driver ---------

class ImpairNetif:
    """The inner NETIF's driver wrapped in stack.impair.Impair with every
    knob at zero: the layer must keep the whole contract. The wire is the
    inner driver's own."""
    inner_cls = None

    def __init__(self):
        self.inner = self.inner_cls()
        self.name = self.inner.name + "+impair"
        # A Python object: select.poll takes its fileno(); the GC finaliser
        # is the inner C object's business, not the wrapper's.
        self.CAPS = tuple(c for c in self.inner.CAPS if c not in ("poll_object", "finaliser"))

    def make_driver(self, rx_ring, tx_ring, wire):
        try:
            from stack.impair import Impair
        except ImportError as e:
            raise NetifMissing("stack.impair does not import: %r" % e)
        drv, w = self.inner.make_driver(rx_ring, tx_ring, wire)
        try:
            return Impair(drv, seed=1), w
        except BaseException:
            if w is not None:
                w.close()
            drv.close()
            raise

    def poll_target(self, drv):
        return drv.fileno()


class MemifImpairNetif(ImpairNetif):
    inner_cls = MemifNetif


class TapImpairNetif(ImpairNetif):
    inner_cls = TapNetif


# ---- stm32sim: the STM32 ETH driver with its behavioural model ---------------------

class Stm32Wire:
    """The model's queue wire: inject() towards the MAC, take() what it sent.
    The DMA runs inside the driver's calls: nothing arrives later."""

    def __init__(self, drv):
        self.drv = drv
        self.buf = bytearray(2048)

    def send(self, frame):
        assert self.drv.inject(frame) == 0, "model wire queue full"

    def recv(self, timeout_ms=1000):
        try:
            n = self.drv.take(self.buf)
        except OSError:
            return None            # the driver (and its model) closed
        return bytes(self.buf[:n]) if n else None

    def close(self):
        self.drv = None


class Stm32Netif:
    """drivers/stm32_eth + model/, queue wire. The MAC pads short frames on
    a real wire; the suite compares runt frames byte for byte, so padding is
    off here (pad=False: TDES0.DP) and tested in test_stm32_eth.py, as are the
    RX checksum verdicts (rx_csum=False: the suite wants flags 0). The
    address filter is off (promiscuous): the suite's frames go to many MACs."""
    name = "stm32sim"
    CAPS = ("poll_object", "finaliser", "pool_views", "view_base_check")
    OPTS = {}
    _seq = [0]

    def make_driver(self, rx_ring, tx_ring, wire):
        try:
            import stm32_eth
        except ImportError:
            raise NetifMissing("ZC_NETIF=%s but this MicroPython has no stm32_eth module" % self.name)
        self._seq[0] += 1
        drv = stm32_eth.ETH(rx_ring=rx_ring, tx_ring=tx_ring, wire="queue", queue_depth=256,
                            promisc=True, pad=False, rx_csum=False, seed=self._seq[0], **self.OPTS)
        for _ in range(50):        # autonegotiation: a few PHY polls
            if drv.link()[0]:
                break
        return drv, (Stm32Wire(drv) if wire else None)

    def poll_target(self, drv):
        return drv


class Stm32EnhNetif(Stm32Netif):
    """Enhanced (32-byte) descriptors in chained mode, cache maintenance as on
    a Cortex-M7 with cacheable buffers, and the model stepping at seeded
    points between the driver's accesses."""
    name = "stm32sim-enh"
    OPTS = {"enhanced": True, "chained": True, "cache": "maint", "race": 20000}


class C6747ImpairNetif(ImpairNetif):
    inner_cls = C6747SimNetif


NETIFS = {
    "tap": TapNetif,
    "memif": MemifNetif,
    "memif+impair": MemifImpairNetif,
    "tap+impair": TapImpairNetif,
    "stm32sim": Stm32Netif,
    "stm32sim-enh": Stm32EnhNetif,
    "c6747sim": C6747SimNetif,
    "c6747sim+impair": C6747ImpairNetif,
}


def current():
    """The factory for ZC_NETIF; NetifMissing when there is none."""
    name = netif_name()
    cls = NETIFS.get(name)
    if cls is None:
        raise NetifMissing("no factory for ZC_NETIF=%s (known: %s)"
                           % (name, ", ".join(sorted(NETIFS))))
    return cls()
