"""zcstack: a zero-copy TCP/IP stack for MicroPython."""
