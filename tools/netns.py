"""Private network namespaces (CPython side): the black-box tests
(host_tests/blackbox) and the bench (tools/bench/echo_rtt.py).

    ns = NetNS.create()          # `ip netns add zct<random>`, lo up, IPv6 off
    ns = NetNS("zcb-1234").make()    # the same under a name chosen by the caller
    with ns.enter():             # this thread now lives in the namespace
        sock = socket.socket(...)    # sockets made here belong to it
    ns.socket(AF_INET, SOCK_DGRAM, device="zc0")   # the same in one call
    ns.run(["ping", ...])        # `ip netns exec NAME ...`
    ns.delete()                  # always, even after a failure

CPython 3.11 has no os.setns: enter() calls libc setns(2) through ctypes on
an fd of /var/run/netns/NAME and switches back to the namespace this process
started in (an fd of /proc/self/ns/net kept open from import time). setns
moves only the calling thread; threads started inside inherit the namespace.

Safety: every test network is 198.51.100.0/24 inside a namespace made here;
in_private_ns() lets senders refuse to run in the original namespace, and
default_route() shows whether anything could leave a namespace at all.
"""
import contextlib
import ctypes
import ctypes.util
import os
import secrets
import socket
import subprocess

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/var/run/netns"

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)
_libc.setns.restype = ctypes.c_int

# The namespace this process started in: where enter() returns to.
_ORIG_FD = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
_ORIG_ID = os.stat("/proc/self/ns/net").st_ino


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def back_to_original():
    """Put the calling thread back in the namespace the process started in."""
    _setns(_ORIG_FD)


def current_ns_id():
    """Inode of the calling thread's network namespace."""
    return os.stat("/proc/thread-self/ns/net").st_ino


def in_private_ns():
    """True when the calling thread is not in the namespace we started in."""
    return current_ns_id() != _ORIG_ID


class NetnsError(RuntimeError):
    pass


def sh(argv, timeout=30, check=True):
    """Run a command (text); with check, a non-zero exit raises NetnsError."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise NetnsError("%s failed (%d): %s" % (" ".join(argv), r.returncode,
                                                   (r.stderr or r.stdout).strip()))
    return r


class NetNS:
    """One private network namespace made here. run_timeout: the default
    bound on run() (the bench keeps its own)."""

    def __init__(self, name, run_timeout=60):
        self.name = name
        self.path = os.path.join(NETNS_DIR, name)
        self.run_timeout = run_timeout
        self.made = False
        self._fd = None

    @classmethod
    def create(cls, prefix="zct"):
        return cls(prefix + secrets.token_hex(4)).make()

    def make(self):
        """`ip netns add`, lo up, IPv6 off; on failure the namespace is removed."""
        sh(["ip", "netns", "add", self.name])
        self.made = True
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            sh(["ip", "-n", self.name, "link", "set", "lo", "up"])
            # Else Linux sends router solicitations and MLD reports at the stack.
            self.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                      "net.ipv6.conf.default.disable_ipv6=1"], check=True)
        except BaseException:
            self.delete()
            raise
        return self

    @contextlib.contextmanager
    def enter(self):
        """Run the body with this thread in the namespace; always switch back
        to where the thread was (nesting is fine)."""
        prev = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(self._fd)
            try:
                yield self
            finally:
                _setns(prev)
        finally:
            os.close(prev)

    def socket(self, *args, device=None):
        """A socket that belongs to this namespace (made with this thread
        inside it), bound to `device` there."""
        with self.enter():
            if not in_private_ns():
                raise NetnsError("setns left us in the original namespace; refusing")
            s = socket.socket(*args)
            if device:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
        return s

    def run(self, argv, timeout=None, check=False):
        """Run a command inside the namespace: CompletedProcess (text)."""
        return sh(["ip", "netns", "exec", self.name] + list(argv),
                  timeout=self.run_timeout if timeout is None else timeout, check=check)

    def popen(self, argv, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.name] + list(argv), **kw)

    def default_route(self):
        """The namespace's default route ('' when it has none): whoever sends
        frames or packets refuses to where one exists."""
        return self.run(["ip", "-4", "route", "show", "default"], check=True).stdout.strip()

    def link_mac(self, ifname):
        """MAC address of an interface in the namespace, or None."""
        r = sh(["ip", "-n", self.name, "-o", "link", "show", "dev", ifname], check=False)
        if r.returncode != 0:
            return None
        words = r.stdout.split()
        if "link/ether" in words:
            return words[words.index("link/ether") + 1]
        return None

    def has_link(self, ifname):
        return sh(["ip", "-n", self.name, "link", "show", "dev", ifname],
                   check=False).returncode == 0

    def pids(self):
        r = sh(["ip", "netns", "pids", self.name], check=False)
        return [int(p) for p in r.stdout.split() if p.isdigit()]

    def delete(self):
        """Remove the namespace, killing anything still inside it (it is ours);
        nothing when it was never made or is already gone."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not self.made:
            return
        for pid in self.pids():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        sh(["ip", "netns", "delete", self.name], check=False)
        self.made = False

    def __repr__(self):
        return "NetNS(%r)" % self.name


def blackbox_capable():
    """(ok, reason): black-box tests need root and /dev/net/tun."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root (euid %d)" % os.geteuid())
    if not os.path.exists("/dev/net/tun"):
        problems.append("no /dev/net/tun")
    return (not problems), ", ".join(problems)
