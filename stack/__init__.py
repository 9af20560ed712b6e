"""zcstack: a zero-copy TCP/IP stack for MicroPython."""
try:
    import micropython  # noqa: F401  (MicroPython: the real module)
except ImportError:  # CPython: a shim so `@micropython.viper` and const() parse and run
    from . import _cpy_shim  # noqa: F401
