# What differs between MicroPython (the product) and CPython (the fast unit lane).
import sys
import time

IS_MPY = sys.implementation.name == "micropython"

if IS_MPY:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_us = time.ticks_us
else:
    _t0 = time.monotonic()

    def ticks_ms():
        return int((time.monotonic() - _t0) * 1000)

    def ticks_us():
        return int((time.monotonic() - _t0) * 1000000)

    def ticks_diff(a, b):
        return a - b

try:
    from array import array  # noqa: F401
except ImportError:  # pragma: no cover
    raise
