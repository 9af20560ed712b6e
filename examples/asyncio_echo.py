# An asyncio TCP echo server, as written for a MicroPython board:
# every client gets back what it sends, many clients at once.
#   make run APP=examples/asyncio_echo.py     # then: nc 198.51.100.2 7007
import asyncio

PORT = 7007


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(2048)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def main():
    server = await asyncio.start_server(echo, "0.0.0.0", PORT, backlog=64)
    print("listening on port", PORT)
    await server.wait_closed()


asyncio.run(main())
