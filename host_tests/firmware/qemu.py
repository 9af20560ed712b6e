"""Boot a zcstack firmware image in qemu-system-arm and talk to MicroPython's
raw REPL over the emulated UART (QEMU's stdio, pipes on our side).

Nothing here waits without a deadline: every read has one, and a QEMU that
misses it is killed (close() always kills and reaps the process).
"""
import json
import os
import select
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOARDS_DIR = os.path.join(ROOT, "firmware", "boards")
BUILD_DIR = os.path.join(ROOT, "firmware", "build")
BUILD_TOOL = os.path.join(ROOT, "tools", "build_firmware.sh")

BOOT_TIMEOUT_S = 15.0


class FirmwareError(Exception):
    """QEMU died, the REPL did not answer in time, or said something unexpected."""


def all_boards():
    return sorted(d for d in os.listdir(BOARDS_DIR)
                  if os.path.isfile(os.path.join(BOARDS_DIR, d, "mpconfigboard.mk")))


def build(board, timeout=300):
    """Build (or bring up to date) one board's image; returns its board.json
    as a dict with the size report under "size"."""
    p = subprocess.run([BUILD_TOOL, board], capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise FirmwareError("build of %s failed (rc %d):\n%s\n%s"
                            % (board, p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    out = os.path.join(BUILD_DIR, board)
    with open(os.path.join(out, "board.json")) as f:
        info = json.load(f)
    with open(os.path.join(out, "size.json")) as f:
        info["size"] = json.load(f)
    info["summary"] = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
    return info


class Qemu:
    """One running firmware image. Use as a context manager."""

    def __init__(self, machine, elf):
        self.machine = machine
        self.log = bytearray()      # everything the board printed, for failure messages
        # No network backend (-nic none: the board's MAC stays unconnected),
        # no display or monitor: only the UART on stdio. -semihosting:
        # machine.reset() / a fatal error exit QEMU through it.
        cmd = ["qemu-system-arm", "-machine", machine, "-display", "none",
               "-monitor", "none", "-nic", "none", "-serial", "stdio",
               "-semihosting", "-kernel", elf]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except OSError:
                pass

    def _fail(self, what):
        err = b""
        if self.p.poll() is not None:
            try:
                err = self.p.stderr.read() or b""
            except (OSError, ValueError):
                pass
        tail = bytes(self.log[-2000:]).decode("latin-1")
        return FirmwareError("%s (%s); qemu rc=%s stderr=%r; board output ends:\n%s"
                             % (what, self.machine, self.p.poll(), err[-500:], tail))

    def write(self, data):
        try:
            self.p.stdin.write(data)
            self.p.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._fail("QEMU closed its input")

    def read_until(self, marker, timeout):
        """Bytes up to and including marker; FirmwareError after timeout s."""
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail("no %r within %.0f s" % (marker, timeout))
            r, _, _ = select.select([fd], [], [], min(left, 0.5))
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise self._fail("QEMU exited")
                self.buf += chunk
                self.log += chunk
            elif self.p.poll() is not None:
                raise self._fail("QEMU exited")
        i = self.buf.index(marker) + len(marker)
        got, self.buf = self.buf[:i], self.buf[i:]
        return got

    def boot(self, timeout=BOOT_TIMEOUT_S):
        """Wait for the banner and enter the raw REPL. Returns the banner."""
        t0 = time.monotonic()
        banner = self.read_until(b">>> ", timeout)
        self.boot_s = time.monotonic() - t0
        self.write(b"\r\x01")                        # Ctrl-A: raw REPL
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>", timeout)
        return banner.decode("latin-1")

    def exec_raw(self, code, timeout=20.0):
        """Run code in the raw REPL: (stdout, traceback text) as str."""
        if isinstance(code, str):
            code = code.encode()
        self.write(code + b"\x04")                    # Ctrl-D: run it
        self.read_until(b"OK", timeout)
        out = self.read_until(b"\x04", timeout)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        self.read_until(b">", timeout)
        return out.decode("latin-1"), err.decode("latin-1")

    def run(self, code, timeout=20.0):
        """exec_raw, failing on a traceback; returns stdout."""
        out, err = self.exec_raw(code, timeout)
        if err:
            raise FirmwareError("on %s:\n%s\n(stdout: %s)" % (self.machine, err, out[-2000:]))
        return out

    def call(self, expr, timeout=20.0):
        """Evaluate expr on the board, which prints it as one JSON line."""
        out = self.run("_out(%s)\n" % expr, timeout)
        for line in out.splitlines():
            if line.startswith("@@"):
                return json.loads(line[2:])
        raise FirmwareError("no result line for %s on %s; got:\n%s" % (expr, self.machine, out))
