# A readiness fd for objects that have no fd of their own (memif, sockets):
# an eventfd the owner sets while it is readable and clears when not, so
# select.poll sleeps on a real fd (the unix port polls fd-less objects every
# millisecond). CPython: os.eventfd; MicroPython unix: our zcsys C module
# (drivers/sys), on both widths; elsewhere none (open() returns -1).
_EFD_NONBLOCK = 0o4000
_EFD_CLOEXEC = 0o2000000

try:
    import os as _os
    _os.eventfd  # noqa: B018  (CPython >= 3.10 on Linux)

    def open():  # noqa: A001  (the module's verb)
        return _os.eventfd(0, _EFD_NONBLOCK | _EFD_CLOEXEC)

    def set(fd):  # noqa: A001
        _os.eventfd_write(fd, 1)

    def clear(fd):
        try:
            _os.eventfd_read(fd)
        except OSError:
            pass

    close = _os.close
except (ImportError, AttributeError):
    try:
        import zcsys as _zcsys
        open = _zcsys.efd_open  # noqa: A001
        set = _zcsys.efd_set  # noqa: A001
        clear = _zcsys.efd_clear
        close = _zcsys.close
    except ImportError:
        def open():  # noqa: A001
            return -1

        set = clear = close = None
