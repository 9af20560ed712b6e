# An HTTP/1.0 client written as for a MicroPython board (socket API only):
# `make run APP=examples/http_client.py` fetches http://198.51.100.1:8000/
# (the host side of `make run`'s TAP; e.g. `python3 -m http.server -b
# 198.51.100.1 8000` there) and prints the status line, the body's length
# and its sha256.
import binascii
import hashlib
import socket

HOST = "198.51.100.1"
PORT = 8000
PATH = "/"


def main():
    addr = socket.getaddrinfo(HOST, PORT)[0][-1]
    s = socket.socket()
    s.connect(addr)
    s.send(b"GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (PATH.encode(), HOST.encode()))
    status = s.readline()
    while True:
        h = s.readline()
        if h == b"" or h == b"\r\n":
            break
    h = hashlib.sha256()
    n = 0
    while True:
        data = s.recv(1024)
        if not data:
            break
        h.update(data)
        n += len(data)
    s.close()
    print("STATUS", status.decode().strip())
    print("BODY", n, binascii.hexlify(h.digest()).decode())


main()
