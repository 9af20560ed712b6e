"""The firmware images: built for every board (firmware/boards), booted in
qemu-system-arm, and the frozen stack run ON them through the raw REPL:
pool and pbufs, the Viper kernels against their plain twins on the board's
native emitter, and frames through the whole stack over the in-memory
driver (stack/memif.py). The host builds every frame and checks every
reply with frames.py, independently of the code under test."""
import binascii
import os
import subprocess

import pytest

import frames
from conftest import BOARDS, image
from qemu import ROOT

# The first test waits for the session fixture that builds every image (a
# cold build of the four takes a minute or more on a loaded 2-core machine).
pytestmark = pytest.mark.timeout(900)

US_MAC = b"\x02\x00\x00\x00\x00\x02"
PEER_MAC = b"\x02\x00\x00\x00\x00\x01"
US_IP = "198.51.100.2"
PEER_IP = "198.51.100.1"

# What each board's code must be built for (readelf -A of our own object and
# of the image: the architecture, and ARM or Thumb state), and where its RAM is.
ARCH = {"MPS2_AN385": ("v7", False), "MPS2_AN386": ("v7E-M", False),
        "MPS2_AN500": ("v7E-M", False), "VERSATILEPB": ("v5TEJ", True)}
DATA_RAM = {"MPS2_AN385": (0x20000000, 0x20400000), "MPS2_AN386": (0x20000000, 0x20400000),
            "MPS2_AN500": (0x20000000, 0x20400000), "VERSATILEPB": (0x00000000, 0x01000000)}
MCU = {"MPS2_AN385": "Cortex-M3", "MPS2_AN386": "Cortex-M4", "MPS2_AN500": "Cortex-M7",
       "VERSATILEPB": "ARM926EJ-S"}

POOL_ARENAS = 128 * 1600 + 256 * 128     # zcpool's frame and header arenas (bss)


def hx(b):
    return binascii.hexlify(b).decode()


def unhx(s):
    return binascii.unhexlify(s)


# ---- the images ------------------------------------------------------------------

@pytest.mark.parametrize("board", BOARDS)
def test_image_built_for_its_core_with_our_parts(fw_images, board):
    info = image(fw_images, board)
    out = os.path.dirname(info["elf"])
    for ext in ("elf", "bin", "hex"):
        assert os.path.getsize(os.path.join(out, "firmware." + ext)) > 100000, ext
    s = info["size"]
    # the image as built: the stack frozen in (Viper code included), zcpool linked
    assert s["frozen_stack"]["text"] > 50000, s
    pool = s["modules"]["pool"]
    assert pool["text"] > 1000 and pool["bss"] >= POOL_ARENAS, pool
    assert s["flash"] == s["image"]["text"] + s["image"]["data"]
    # the .bin is the loadable image: code, then .data's load copy
    assert abs(os.path.getsize(os.path.join(out, "firmware.bin")) - s["flash"]) <= 64
    arch, arm_state = ARCH[board]
    ours = os.path.join(out, "obj") + os.path.join(ROOT, "drivers", "pool", "zcpool.o")
    for f in (info["elf"], ours):
        attrs = subprocess.run(["arm-none-eabi-readelf", "-A", f], check=True,
                               capture_output=True, text=True).stdout
        assert "Tag_CPU_arch: %s\n" % arch in attrs, (f, attrs)
        assert ("Tag_ARM_ISA_use: Yes" in attrs) == arm_state, (f, attrs)
    print(info["summary"])


# ---- on the board ----------------------------------------------------------------

def test_boots_to_the_stack(booted):
    info, q = booted
    board = info["board"]
    assert "MicroPython" in info["banner"] and MCU[board] in info["banner"], info["banner"]
    r = q.call("info()")
    assert r["machine"] == "%s with %s" % (info["qemu_machine"], MCU[board])
    assert r["same_pool"], "stack.pool is not the C zcpool on the board"
    assert (r["nblocks"], r["hnblocks"], r["block_size"], r["hdr_size"]) == (128, 256, 1600, 128)
    assert (r["nfree"], r["hnfree"], r["baseline"]) == (128, 256, True)
    lo, hi = DATA_RAM[board]
    for a in (r["block0"], r["hblock0"]):
        assert a % 32 == 0 and lo <= a < hi, hex(a)   # 32-byte aligned, in data RAM
    assert r["heap_free"] > 512 * 1024, r
    if board == "VERSATILEPB":   # the ARM926 runs as on the OMAP-L137: MMU, D-cache, I-cache on
        assert r["sctlr"] is not None and r["sctlr"] & 0x1005 == 0x1005, r["sctlr"]


# The MAC drivers each board's FW_DRIVERS compiles in (with drivers/dma).
DRIVERS = {"MPS2_AN385": set(), "MPS2_AN386": {"stm32_eth"}, "MPS2_AN500": {"stm32_eth"},
           "VERSATILEPB": {"c6747_emac"}}


@pytest.mark.parametrize("board", BOARDS)
def test_drivers_built_in_with_warnings_as_errors(fw_images, board):
    """FW_DRIVERS: the driver and the DMA layer it shares are in the image
    (built with -Wall -Wextra -Werror like all our C), with their size."""
    s = image(fw_images, board)["size"]["modules"]
    for d in DRIVERS[board]:
        assert s[d]["text"] > 3000 and s["dma"]["text"] > 500, s
    if not DRIVERS[board]:
        assert "dma" not in s, s


def test_driver_modules_on_board(booted):
    info, q = booted
    got = q.call("drivers()")
    assert set(got) == DRIVERS[info["board"]], got
    for name, d in got.items():
        assert d["max_seg"] == 16 and d["cls"], (name, d)
        assert not d["model"], "%s: the behavioural model is compiled into a board image" % name


def test_pool_and_pbufs_on_board(booted):
    _, q = booted
    r = q.call("pool_pbufs()")
    assert r["start"] == [128, 256, True]
    pblk, hblk, tblk, p_is_hdr, h_is_hdr = r["blocks"]
    assert 0 <= pblk < 128 and 128 <= hblk < 384 and tblk == -1
    assert (p_is_hdr, h_is_hdr) == (0, 1) or (p_is_hdr, h_is_hdr) == (False, True)
    assert r["held"] == [1, 1]
    payload = bytes((i * 7 + 3) & 0xFF for i in range(100))
    tail = b"a ROM tail, by reference"
    assert (r["tot"], r["clen"]) == (20 + 100 + len(tail), 3)
    assert unhx(r["bytes"]) == bytes(range(20)) + payload + tail
    assert r["push14"] is True and r["push_too_much"] is False
    assert r["tot_pushed"] == 14 + 20 + 100 + len(tail)
    # gather: header block and frame block by index, the ROM bytes by object
    assert r["gather"] == [3, hblk, 128 - 34, 34, pblk, 2 + 64, 100, True, 0, len(tail)]
    assert r["copied"] == 120 + r["tot"]   # the two copy_in calls and to_bytes, all counted
    assert r["mid"] == [127, 255, False]
    assert r["freed"] == 3 and r["stale"] == "ValueError"
    assert r["after_free"] == [128, 256, True]
    n, quota, reserve, distinct = r["exhaust"]
    assert n == distinct == min(quota, 128 - reserve) and n > 0
    hn, hquota, hmin, hmax = r["hexhaust"]
    assert hn == min(hquota, 256) and hmin >= 128 and hmax < 384
    assert r["double_free"] == [0, "ValueError", 1, 0]
    assert r["end"] == [128, 256, True]


def test_viper_kernels_match_plain_twins_on_board(booted):
    _, q = booted
    r = q.call("viper_vs_plain(12345, 200)", timeout=40)
    assert r["bad"] == [], "Viper kernel differs from its plain twin on this core: %r" % r["bad"]
    assert r["checks"] > 5000


def test_checksum_known_answers_on_board(booted):
    _, q = booted
    for n, off in ((0, 0), (1, 0), (2, 1), (3, 3), (20, 0), (1499, 2), (1500, 1)):
        data = frames.pattern(n + off, n)
        got = q.call("inet(%r, %d)" % (hx(data), off))
        assert got == frames.csum(data[off:]), (n, off)


class Net:
    """The host side of a Net() on the board."""

    def __init__(self, q):
        self.q = q
        self.q.run("net = Net()\n")

    def io(self, *frames_, dt=1):
        r = self.q.call("net.io(%r, %d)" % ([hx(f) for f in frames_], dt))
        return [unhx(f) for f in r["sent"]], r["state"]

    def close(self):
        return self.q.call("net.close()")


def delta(after, before):
    d = {}
    for k, v in after["counters"].items():
        if v != before["counters"].get(k, 0):
            d[k] = v - before["counters"].get(k, 0)
    return d


def test_arp_icmp_udp_through_the_stack_on_board(booted):
    _, q = booted
    net = Net(q)
    _, s0 = net.io()
    assert s0["baseline"] and s0["rxpost"] > 0
    print("%s: a Stack on memif with UDP+TCP echo takes %d bytes of GC heap (%d in use in all)"
          % (booted[0]["board"], s0["stack_heap"], s0["heap_alloc"]))
    # ARP: a request for us, answered with exactly these bytes
    req = frames.eth(frames.BCAST_MAC, PEER_MAC, frames.ETH_ARP,
                     frames.arp(1, PEER_MAC, PEER_IP, frames.ZERO_MAC, US_IP))
    sent, s1 = net.io(req)
    want = frames.eth(PEER_MAC, US_MAC, frames.ETH_ARP, frames.arp(2, US_MAC, US_IP, PEER_MAC, PEER_IP))
    assert len(sent) == 1, sent
    assert sent[0][:len(want)] == want and not any(sent[0][len(want):]), hx(sent[0])
    assert delta(s1, s0) == {"eth_rx": 1, "arp_request_rx": 1, "arp_reply_tx": 1}
    # ICMP echo: 56 bytes and a full-size 1472, the same bytes back
    for ident, sq, n in ((0x1234, 1, 56), (0x1234, 2, 1472)):
        data = frames.pattern(n, sq)
        ping = frames.eth(US_MAC, PEER_MAC, frames.ETH_IP,
                          frames.ipv4(PEER_IP, US_IP, frames.PROTO_ICMP,
                                      frames.icmp_echo(ident, sq, data), ident=100 + sq))
        sent, s2 = net.io(ping)
        assert len(sent) == 1, [hx(f) for f in sent]
        f = frames.parse_frame(sent[0])
        assert (f["eth"]["dst"], f["eth"]["src"]) == (PEER_MAC, US_MAC)
        ip = f["ip"]
        assert ip["checksum_ok"] and (ip["src"], ip["dst"]) == (US_IP, PEER_IP) and ip["proto"] == 1
        ic = f["icmp"]
        assert ic["checksum_ok"] and (ic["type"], ic["code"], ic["id"], ic["seq"]) == (0, 0, ident, sq)
        assert ic["data"] == data
    # a fragmented ping (3000 bytes in 3 fragments): reassembled, answered in fragments
    data = frames.pattern(3000 - 8, 9)
    dgram = frames.icmp_echo(0x4242, 9, data)
    frs = [frames.eth(US_MAC, PEER_MAC, frames.ETH_IP, fr)
           for fr in frames.fragment(frames.ipv4(PEER_IP, US_IP, frames.PROTO_ICMP, dgram, ident=77),
                                     1480, 1480)]
    sent, s3 = net.io(*frs)
    ips = [frames.parse_ip(frames.parse_eth(f)["payload"]) for f in sent]
    assert len(ips) >= 3 and all(i["checksum_ok"] for i in ips)
    ic = frames.parse_icmp(frames.reassemble(ips))
    assert ic["checksum_ok"] and (ic["type"], ic["id"], ic["seq"]) == (0, 0x4242, 9) and ic["data"] == data
    d = delta(s3, s0)
    assert d["icmp_echo_rx"] == 3 and d["icmp_echo_tx"] == 3 and d["reasm_ok"] == 1
    # UDP echo on port 7
    for n in (1, 18, 1472):
        data = frames.pattern(n, n)
        dg = frames.eth(US_MAC, PEER_MAC, frames.ETH_IP,
                        frames.ipv4(PEER_IP, US_IP, frames.PROTO_UDP,
                                    frames.udp(40000 + n, 7, data, PEER_IP, US_IP)))
        sent, s4 = net.io(dg)
        assert len(sent) == 1
        f = frames.parse_frame(sent[0])
        u = f["udp"]
        assert u["checksum_ok"] and (u["sport"], u["dport"]) == (7, 40000 + n) and u["data"] == data
    d = delta(s4, s3)
    assert d["udp_rx"] == 3 and d["udp_tx"] == 3
    # zero copy on the board too, nothing held, every block back
    assert s4["copied"] == s0["copied"], "echo paths copied payload bytes"
    assert s4["baseline"] and s4["hnfree"] == 256
    c = net.close()
    assert (c["nfree"], c["hnfree"], c["baseline"]) == (128, 256, True), c


def test_tcp_echo_through_the_stack_on_board(booted):
    _, q = booted
    net = Net(q)
    _, s0 = net.io()

    def seg(sq, ack, flags, data=b""):
        return frames.eth(US_MAC, PEER_MAC, frames.ETH_IP,
                          frames.ipv4(PEER_IP, US_IP, frames.PROTO_TCP,
                                      frames.tcp(40007, 7, sq, ack, flags, 65535, data,
                                                 src=PEER_IP, dst=US_IP)))

    def tcps(sent):
        out = []
        for f in sent:
            p = frames.parse_frame(f)
            assert p["ip"]["checksum_ok"]
            t = p["tcp"]
            assert t["checksum_ok"] and (t["sport"], t["dport"]) == (7, 40007), t
            out.append(t)
        return out

    # resolve the peer first, so nothing waits on ARP
    net.io(frames.eth(frames.BCAST_MAC, PEER_MAC, frames.ETH_ARP,
                      frames.arp(1, PEER_MAC, PEER_IP, frames.ZERO_MAC, US_IP)))
    isn = 1000
    (synack,) = tcps(net.io(seg(isn, 0, frames.TCP_SYN))[0])
    assert synack["flags"] == frames.TCP_SYN | frames.TCP_ACK and synack["ack"] == isn + 1
    srv = synack["seq"] + 1
    data = b"zero-copy TCP on the board " * 20
    sent, _ = net.io(seg(isn + 1, srv, frames.TCP_ACK),
                     seg(isn + 1, srv, frames.TCP_ACK | frames.TCP_PSH, data), dt=5)
    echoed = b""
    for _ in range(6):          # no MSS option from us: 536-byte segments; ACK what came
        ts = tcps(sent)
        for t in ts:
            assert t["seq"] == srv + len(echoed) or not t["data"], (t["seq"], srv, len(echoed))
            echoed += t["data"]
        if len(echoed) >= len(data):
            break
        sent, _ = net.io(seg(isn + 1 + len(data), srv + len(echoed), frames.TCP_ACK), dt=5)
    assert echoed == data
    assert ts[-1]["ack"] == isn + 1 + len(data)
    srv += len(data)
    # close from our side: FIN, the echo service closes too
    sent, _ = net.io(seg(isn + 1 + len(data), srv, frames.TCP_ACK | frames.TCP_FIN), dt=5)
    ts = tcps(sent)
    assert any(t["flags"] & frames.TCP_FIN for t in ts), ts
    fin = [t for t in ts if t["flags"] & frames.TCP_FIN][0]
    _, s1 = net.io(seg(isn + 2 + len(data), fin["seq"] + 1, frames.TCP_ACK), dt=5)
    d = delta(s1, s0)
    assert d["tcp_accepted"] == 1 and d["tcp_rx_bytes"] == len(data)
    assert s1["copied"] == s0["copied"]
    c = net.close()
    assert (c["nfree"], c["hnfree"], c["baseline"]) == (128, 256, True), c


def test_unknown_driver_in_fw_drivers_stops_the_build(fw_images):
    """The FW_DRIVERS hook names folders: one without a micropython.mk is a
    clear error before anything is compiled (and leaves the image alone)."""
    board = BOARDS[0]
    elf = image(fw_images, board)["elf"]
    mtime = os.path.getmtime(elf)
    env = dict(os.environ, FW_DRIVERS="no_such_driver")
    p = subprocess.run([os.path.join(ROOT, "tools", "build_firmware.sh"), board], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "no_such_driver" in p.stderr and "micropython.mk" in p.stderr, p.stderr
    assert os.path.getmtime(elf) == mtime
