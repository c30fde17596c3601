"""The WebSocket-to-Telegraf loop as people write it in Python today, for comparison.

websockets + json.loads + the spread/delta arithmetic + one f-string line per message, sent with
one sendall per message to a Unix socket. Prints the messages it handled and the seconds taken.

    python3 benches/ws_client.py ws://127.0.0.1:PORT /path/to/unix.sock COUNT
"""
import asyncio
import json
import socket
import sys
import time

import websockets


async def main(url, path, count):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    previous = {}
    handled = 0
    start = time.perf_counter()
    elapsed = None
    async with websockets.connect(url, max_size=2**20) as ws:
        async for message in ws:
            event = json.loads(message)
            if event.get("e") != "kline":
                continue
            k = event["k"]
            high, low = float(k["h"]), float(k["l"])
            spread = high - low
            key = (event["s"], k["i"])
            line = f'binance_kline,symbol={event["s"]},interval={k["i"]} high={high},low={low},spread={spread}'
            if key in previous:
                delta = spread - previous[key]
                line += f",delta={delta},abs_delta={abs(delta)}"
            previous[key] = spread
            sock.sendall(f"{line} {event['E'] * 1000000}\n".encode())
            handled += 1
            if handled == count:
                # The clock stops here: leaving the block waits for the close handshake,
                # which the server answers only after it has sent its whole stream.
                elapsed = time.perf_counter() - start
                break
    print(handled, elapsed if elapsed is not None else time.perf_counter() - start)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
