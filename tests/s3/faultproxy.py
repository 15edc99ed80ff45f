#!/usr/bin/python3
"""faultproxy.py LISTEN_PORT UPSTREAM_PORT [RATE] [SEED] [count] -- an HTTP/1.1 proxy on
127.0.0.1 that, for a share RATE (default 0.25) of requests, injects one fault:
500 InternalError, 503 SlowDown, a reset before forwarding, a reset halfway through
the reply body, or a stall (no bytes for 30 s). Counts go to stderr, one line per
fault, so tests can check faults really happened."""
import random
import socket
import struct
import sys
import threading
import time

LISTEN, UPSTREAM = int(sys.argv[1]), int(sys.argv[2])
RATE = float(sys.argv[3]) if len(sys.argv) > 3 else 0.25
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
lock = threading.Lock()
COUNT = len(sys.argv) > 5 and sys.argv[5] == "count"  # log every request (bench/s3.sh)
FAULTS = ("500", "503-slowdown", "reset-request", "reset-body", "stall")


def pick():
    with lock:
        return rng.choice(FAULTS) if rng.random() < RATE else None


def log(what):
    sys.stderr.write(f"fault {what}\n")
    sys.stderr.flush()


def log_request(method, n):
    if COUNT:
        sys.stderr.write(f"request {method} {n}\n")
        sys.stderr.flush()


def read_head(f):
    """Start line and header lines of one message, or None at EOF."""
    lines = []
    while True:
        line = f.readline(65536)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line)


def header(lines, name):
    for l in lines[1:]:
        k, _, v = l.decode("latin-1").partition(":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def read_body(f, lines, is_head_reply=False):
    if is_head_reply:
        return b""
    te = header(lines, "transfer-encoding")
    if te and "chunked" in te.lower():
        out = b""
        while True:
            size_line = f.readline(1024)
            out += size_line
            n = int(size_line.split(b";")[0].strip() or b"0", 16)
            chunk = f.read(n + 2)
            out += chunk
            if n == 0:
                # trailers end with an empty line; chunk held it already
                return out
    n = int(header(lines, "content-length") or 0)
    return f.read(n) if n else b""


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def canned(status, code):
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>injected by faultproxy</Message></Error>").encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def serve(client):
    up = None
    try:
        cf = client.makefile("rb")
        while True:
            req = read_head(cf)
            if req is None:
                return
            body = read_body(cf, req)
            method = req[0].split(b" ")[0]
            log_request(method.decode("latin-1"), len(body))
            fault = pick()
            if fault:
                log(fault)
            if fault == "500":
                client.sendall(canned("500 Internal Server Error", "InternalError"))
                continue
            if fault == "503-slowdown":
                client.sendall(canned("503 Slow Down", "SlowDown"))
                continue
            if fault == "reset-request":
                reset(client)
                return
            if fault == "stall":
                time.sleep(30)
                reset(client)
                return
            if up is None:
                up = socket.create_connection(("127.0.0.1", UPSTREAM))
                uf = up.makefile("rb")
            up.sendall(b"".join(req) + b"\r\n" + body)
            rep = read_head(uf)
            if rep is None:
                reset(client)
                return
            status = int(rep[0].split(b" ")[1])
            no_body = method == b"HEAD" or status in (204, 304) or 100 <= status < 200
            rbody = read_body(uf, rep, no_body)
            head = b"".join(rep) + b"\r\n"
            if fault == "reset-body" and len(rbody) > 1:
                client.sendall(head + rbody[: len(rbody) // 2])
                reset(client)
                return
            client.sendall(head + rbody)
            if (header(rep, "connection") or "").lower() == "close":
                return
    except (OSError, ValueError, IndexError):
        pass
    finally:
        try:
            client.close()
        except OSError:
            pass
        if up is not None:
            up.close()


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", LISTEN))
    srv.listen(64)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


main()
