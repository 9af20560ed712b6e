# A small HTTP/1.0 server written as for a MicroPython board (socket API
# only): `make run APP=examples/http_server.py`, then from the host
#   curl http://198.51.100.2:8080/            a greeting with a counter
#   curl http://198.51.100.2:8080/bytes/N     N bytes of a fixed pattern
# It serves one connection at a time, forever.
import socket

PORT = 8080
PATTERN = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"


CHUNK = PATTERN * 64                # 4 KiB, made once


def send_pattern(stream, size):
    """size bytes of the pattern, 4 KiB at a time (a board has little RAM)."""
    while size > 0:
        k = min(size, len(CHUNK))
        stream.write(CHUNK if k == len(CHUNK) else CHUNK[:k])
        size -= k


def main():
    ai = socket.getaddrinfo("0.0.0.0", PORT)[0][-1]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(ai)
    s.listen(5)
    print("Listening, connect your browser to http://<this_host>:%d/" % PORT)
    counter = 0
    while True:
        client_sock, client_addr = s.accept()
        client_stream = client_sock.makefile("rwb")
        req = client_stream.readline()
        parts = req.split()
        path = parts[1] if len(parts) > 1 else b"/"
        while True:
            h = client_stream.readline()
            if h == b"" or h == b"\r\n":
                break
        try:
            if path.startswith(b"/bytes/"):
                size = int(path[7:])
                body = None
            else:
                body = b"Hello #%d from MicroPython!\n" % counter
                size = len(body)
            client_stream.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                                b"Content-Length: %d\r\n\r\n" % size)
            if body is None:
                send_pattern(client_stream, size)
            else:
                client_stream.write(body)
        except ValueError:
            client_stream.write(b"HTTP/1.0 404 Not Found\r\n\r\n")
        client_stream.close()
        counter += 1


main()
