# The benchmark's services written on the socket API and asyncio, as a
# MicroPython board program would be (tools/bench/tcp_bench.py --api socket
# runs it with `tools/run.py --app`): discard, source and echo on the raw
# services' ports + 1000, so both sets run side by side.
import asyncio

DISCARD_PORT = 1009
SOURCE_PORT = 1019
ECHO_PORT = 1007
CHUNK = 16 * 1024
DATA = bytes(i & 0xFF for i in range(CHUNK))    # sent by reference, again and again


async def discard(reader, writer):
    buf = bytearray(4096)
    while True:
        n = await reader.readinto(buf)
        if not n:
            break
    writer.close()
    await writer.wait_closed()


async def source(reader, writer):
    try:
        while True:
            writer.write(DATA)
            await writer.drain()
    except OSError:
        pass
    writer.close()
    await writer.wait_closed()


async def echo(reader, writer):
    buf = bytearray(4096)
    try:
        while True:
            n = await reader.readinto(buf)
            if not n:
                break
            writer.write(memoryview(buf)[:n])
            await writer.drain()
    except OSError:
        pass
    writer.close()
    await writer.wait_closed()


async def main():
    await asyncio.start_server(discard, "0.0.0.0", DISCARD_PORT, backlog=32)
    await asyncio.start_server(source, "0.0.0.0", SOURCE_PORT, backlog=32)
    await asyncio.start_server(echo, "0.0.0.0", ECHO_PORT, backlog=32)
    print("SERVICES UP")
    while True:
        await asyncio.sleep(3600)


asyncio.run(main())
