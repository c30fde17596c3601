"""The market mapping as people write it in Python today, for comparison with
examples/binance-market.toml: websockets + json.loads, then per message of Binance's combined
stream the book (best bid/ask, spread, mid, depth), 40 book levels with cumulative quantity,
trades in 1-second windows per side, 1-minute candles sent at most once a second while open,
and the kline's spread and delta; one line per reading, one sendall per message, to a Unix
socket. Prints the messages it handled and the seconds taken.

    python3 benches/ws_market_client.py ws://127.0.0.1:PORT /path/to/unix.sock COUNT
"""
import asyncio
import json
import socket
import sys
import time

import websockets


def window_lines(windows, lines):
    for (symbol, side), w in sorted(windows.items()):
        lines.append(
            f"binance_trades,symbol={symbol},side={side} count={w[0]}i,volume={w[1]},"
            f"notional={w[2]},last_price={w[3]} {w[4] * 1000000}"
        )


def candle_line(symbol, c, closed):
    return (
        f"binance_candle,symbol={symbol},interval=1m open={c[0]},high={c[1]},low={c[2]},"
        f"close={c[3]},volume={c[4]},trades={c[5]}i,closed={'true' if closed else 'false'} "
        f"{c[6] * 1000000}"
    )


async def main(url, path, count):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    seconds, second_reached = {}, None
    minutes, minute_reached = {}, None
    previous = {}
    handled = 0
    start = time.perf_counter()
    elapsed = None
    async with websockets.connect(url, max_size=2**20) as ws:
        async for message in ws:
            event = json.loads(message)
            stream = event.get("stream")
            d = event.get("data")
            lines = []
            if stream is not None and stream.endswith("@depth20@100ms"):
                symbol = stream.split("@")[0].upper()
                now = time.time_ns()
                bids = [(float(p), float(q)) for p, q in d["bids"]]
                asks = [(float(p), float(q)) for p, q in d["asks"]]
                bid, ask = bids[0][0], asks[0][0]
                lines.append(
                    f"binance_book,symbol={symbol} best_bid={bid},best_ask={ask},"
                    f"bid_depth={sum(q for _, q in bids)},ask_depth={sum(q for _, q in asks)},"
                    f"spread={ask - bid},mid={(bid + ask) / 2} {now}"
                )
                for side, levels in (("bid", bids), ("ask", asks)):
                    cumulative = 0.0
                    for level, (p, q) in enumerate(levels):
                        cumulative += q
                        lines.append(
                            f"binance_book_level,symbol={symbol},side={side},level={level} "
                            f"price={p},quantity={q},cumulative={cumulative} {now}"
                        )
            elif d is not None and d.get("e") == "trade":
                symbol, t = d["s"], d["T"]
                side = "sell" if d["m"] else "buy"
                p, q = float(d["p"]), float(d["q"])
                second = t // 1000 * 1000
                if second_reached is None or second > second_reached:
                    window_lines(seconds, lines)
                    seconds, second_reached = {}, second
                w = seconds.setdefault((symbol, side), [0, 0.0, 0.0, p, second])
                w[0] += 1
                w[1] += q
                w[2] += p * q
                w[3] = p
                minute = t // 60000 * 60000
                if minute_reached is None or minute > minute_reached:
                    for s, c in sorted(minutes.items()):
                        lines.append(candle_line(s, c, True))
                    minutes, minute_reached = {}, minute
                c = minutes.setdefault(symbol, [p, p, p, p, 0.0, 0, minute, None])
                c[1], c[2], c[3] = max(c[1], p), min(c[2], p), p
                c[4] += q
                c[5] += 1
                if c[7] is None or t - c[7] >= 1000:
                    c[7] = t
                    lines.append(candle_line(symbol, c, False))
            elif d is not None and d.get("e") == "kline":
                k = d["k"]
                high, low = float(k["h"]), float(k["l"])
                spread = high - low
                key = (d["s"], k["i"])
                line = (
                    f'binance_kline,symbol={d["s"]},interval={k["i"]} open={float(k["o"])},'
                    f'high={high},low={low},close={float(k["c"])},volume={float(k["v"])},'
                    f'trades={k["n"]}i,spread={spread}'
                )
                if key in previous:
                    delta = spread - previous[key]
                    line += f",delta={delta},abs_delta={abs(delta)}"
                previous[key] = spread
                lines.append(f"{line} {d['E'] * 1000000}")
            if lines:
                sock.sendall(("\n".join(lines) + "\n").encode())
            handled += 1
            if handled == count:
                elapsed = time.perf_counter() - start
                break
    print(handled, elapsed if elapsed is not None else time.perf_counter() - start)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
