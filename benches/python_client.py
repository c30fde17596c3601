"""Sending readings to Telegraf from Python as people write it today, for comparison.

One f-string line per reading, one send per reading, the connection reopened every REOPEN
readings (a common guard against a receiver that went away). Prints readings per second, timed
from the first reading to the last send.

    python3 benches/python_client.py unix|tcp|udp ADDRESS COUNT REOPEN
"""
import socket
import sys
import time

HOSTS = "web-01.example.com"
BASE_NS = 1_700_000_000_000_000_000


def connect(kind, address):
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address)
    else:
        host, port = address.rsplit(":", 1)
        family = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, family)
        sock.connect((host, int(port)))
    return sock


def main(kind, address, count, reopen):
    sock = connect(kind, address)
    start = time.perf_counter()
    for seq in range(count):
        if seq and seq % reopen == 0:
            sock.close()
            sock = connect(kind, address)
        latency = (seq % 1000) / 8.0
        line = (
            f"http_requests,host={HOSTS},region=eu-west-1,route=/api/v1/orders "
            f"latency_ms={latency},status=200i,seq={seq}u {BASE_NS + seq}\n"
        )
        sock.sendall(line.encode())
    elapsed = time.perf_counter() - start
    sock.close()
    print(count / elapsed)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
