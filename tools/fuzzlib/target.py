"""The stack under fuzz: either started here (tools/run.py in a private
network namespace made here, the READY/SIGUSR1/SIGTERM protocol of
tools/zcrun.py), or one already running on a TAP given by interface and
address (liveness oracles only: its SIGUSR1 line goes to its own stdout).
"""
import json
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
ROOT = os.path.dirname(TOOLS)
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

import netns as netns_mod  # noqa: E402  (tools/netns.py)
import zcrun  # noqa: E402  (tools/zcrun.py)

TAP = "zc0"
HOST_IP = "198.51.100.1"
STACK_IP = "198.51.100.2"
STACK_MAC = "02:00:00:00:00:02"

# Timeouts shortened so that a quiesced stack is back at baseline within a
# second or two: reassembly, ARP, TCP retransmission and TIME_WAIT.
SETTINGS = {
    "REASM_TIMEOUT_MS": 300,
    "ARP_REQUEST_INTERVAL_MS": 100,
    "ARP_MAX_REQUESTS": 2,
    "TCP_MSL_MS": 100,
    "TCP_SYN_RETRIES": 1,
    "TCP_RTO_INITIAL_MS": 100,
    "TCP_RTO_MIN_MS": 100,
    "TCP_RTO_MAX_MS": 300,
    "TCP_MAX_RETRIES": 2,
}

BINARIES = {"64": os.path.join(ROOT, "build", "unix", "micropython"),
            "32": os.path.join(ROOT, "build", "unix32", "micropython")}


class TargetError(RuntimeError):
    pass


class Managed:
    """run.py on a fresh TAP in a private namespace made here."""

    managed = True

    def __init__(self, bits="64", netif="tap", mpy=None, settings=(), log=print):
        self.bits = str(bits)
        self.netif = netif
        self.mpy = mpy or os.environ.get("ZC_MICROPYTHON32" if self.bits == "32" else "ZC_MICROPYTHON") \
            or BINARIES[self.bits]
        self.settings = dict(SETTINGS)
        for kv in settings:
            k, _, v = kv.partition("=")
            self.settings[k] = v
        self.log = log
        self.ns = None
        self.rp = None
        self.iface = TAP
        self.stack_ip = STACK_IP
        self.stack_mac = STACK_MAC
        self.host_ip = HOST_IP
        self.host_mac = None

    def start(self):
        ok, why = netns_mod.blackbox_capable()
        if not ok:
            raise TargetError("tools/fuzz needs root and /dev/net/tun (%s)" % why)
        self.ns = netns_mod.NetNS.create("zcf")
        self.rp = zcrun.RunPy(self.ns, mpy=self.mpy, settings=self.settings,
                              micropypath=zcrun.SOURCE_FIRST, netif=self.netif)
        self.rp.stderr_tail_lines = 30
        try:
            self.rp.start()
        except zcrun.RunPyError as e:
            raise TargetError(str(e))
        r = self.rp.ready or {}
        self.iface = r.get("tap", TAP)
        self.stack_ip = r.get("ip", STACK_IP)
        self.stack_mac = r.get("mac", STACK_MAC)
        for _ in range(100):
            if HOST_IP + "/" in self.ns.run(["ip", "-o", "-4", "addr", "show", "dev", self.iface]).stdout:
                break
            import time
            time.sleep(0.05)
        if self.ns.default_route():
            raise TargetError("the fuzz namespace has a default route; refusing")
        self.host_mac = self.ns.link_mac(self.iface)
        # Linux never ARPs for the stack mid-oracle (the stack's answers may be fuzzed away)
        self.ns.run(["ip", "neigh", "replace", self.stack_ip, "lladdr", self.stack_mac,
                     "dev", self.iface, "nud", "permanent"], check=True)
        return self

    def enter(self):
        return self.ns.enter()

    def socket(self, *a):
        return self.ns.socket(*a)

    def alive(self):
        return self.rp.alive()

    def status(self):
        return self.rp.proc.poll()

    def stderr(self):
        return self.rp.stderr_text()

    def snapshot(self):
        return self.rp.snapshot()

    def snapshot_until(self, done, timeout, interval):
        return self.rp.snapshot_until(done, timeout, interval)

    def describe(self):
        return "%s --netif %s (%s-bit) in netns %s" % (os.path.relpath(self.mpy, ROOT), self.netif,
                                                        self.bits, self.ns.name)

    def inject_fault(self, what):
        """The oracles' self-test: stop or kill the stack's process."""
        import signal
        os.kill(int(self.rp.ready["pid"]), signal.SIGSTOP if what == "stop" else signal.SIGKILL)

    def stop(self, patient=True):
        """SIGTERM and the exit status; (status, STOPPED json or None).
        patient=False (a hung stack): kill it at once."""
        if self.rp is None:
            return None, None
        rc = None
        if not patient:
            self.rp.kill()
            return self.rp.proc.returncode, None
        try:
            if self.rp.alive():
                rc = self.rp.stop()
            else:
                rc = self.rp.proc.returncode
        except zcrun.RunPyError:
            pass
        return rc, self.rp.stopped

    def close(self):
        try:
            if self.rp is not None:
                self.rp.kill()
        finally:
            if self.ns is not None:
                self.ns.delete()


class External:
    """A stack already running on a TAP here (`--iface`, `--target`); this
    namespace must have no default route through that interface."""

    managed = False

    def __init__(self, iface, target, stack_mac=None, log=print):
        self.iface = iface
        self.stack_ip = target
        self.stack_mac = stack_mac
        self.log = log
        self.host_ip = None
        self.host_mac = None

    def start(self):
        r = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            if (" dev %s " % self.iface) in (" " + line + " "):
                raise TargetError("%s carries a default route (%s): refusing to send crafted frames"
                                  % (self.iface, line.strip()))
        r = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", self.iface], capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise TargetError("no interface %s here" % self.iface)
        words = r.stdout.split()
        if "inet" not in words:
            raise TargetError("%s has no IPv4 address (the host side of the TAP)" % self.iface)
        self.host_ip = words[words.index("inet") + 1].split("/")[0]
        if not self.host_ip.startswith("198.51.100.") or not self.stack_ip.startswith("198.51.100."):
            raise TargetError("only 198.51.100.0/24 (TEST-NET-2) is fuzzed: %s / %s"
                              % (self.host_ip, self.stack_ip))
        r = subprocess.run(["ip", "-o", "link", "show", "dev", self.iface], capture_output=True, text=True)
        w = r.stdout.split()
        self.host_mac = w[w.index("link/ether") + 1] if "link/ether" in w else None
        if self.stack_mac is None:
            # ask the kernel: ping once, read its neighbour entry
            subprocess.run(["ping", "-c", "1", "-W", "1", "-I", self.iface, self.stack_ip],
                           capture_output=True)
            r = subprocess.run(["ip", "neigh", "show", self.stack_ip, "dev", self.iface],
                               capture_output=True, text=True)
            w = r.stdout.split()
            if "lladdr" not in w:
                raise TargetError("%s does not answer ARP on %s (give --target-mac)"
                                  % (self.stack_ip, self.iface))
            self.stack_mac = w[w.index("lladdr") + 1]
        return self

    def enter(self):
        return _Null()

    def socket(self, *a):
        s = socket.socket(*a)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.iface.encode())
        return s

    def alive(self):
        return True

    def status(self):
        return None

    def stderr(self):
        return ""

    snapshot = None

    def describe(self):
        return "the stack at %s on %s (external: liveness and wire oracles only)" % (self.stack_ip,
                                                                                   self.iface)

    def stop(self, patient=True):
        return None, None

    def close(self):
        pass


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def dumps(x):
    return json.dumps(x, sort_keys=True)
