#!/usr/bin/python3
"""faultproxy.py LISTEN_PORT UPSTREAM_PORT [RATE] [SEED] [count] -- an HTTP/1.1 proxy on
127.0.0.1 that, for a share RATE (default 0.25) of requests, injects one fault:
500 InternalError, 503 SlowDown, a reset before forwarding, a reset halfway through
the reply body, or a stall (no bytes for 30 s). Counts go to stderr, one line per
fault, so tests can check faults really happened.

Environment (for tests that need one fault on some requests):
  FAULTS=a,b   the faults to draw from (default all five above), plus:
               bad-etag      forward, then reply with a wrong ETag
               redirect-301  301 PermanentRedirect naming REGION (x-amz-bucket-region
                             and, for non-HEAD requests, <Region> in the body)
  MATCH=text   only requests whose request line contains text get faults
  REGION=name  the region a 301 names (default eu-central-1)
  SKEW=secs    the proxy's clock runs secs ahead: a request whose x-amz-date is over
               15 minutes from it gets 403 RequestTimeTooSkewed with that Date; others
               go upstream with x-amz-date moved back to the upstream's clock (so only
               for an upstream that does not check signatures: s3rver)"""
import calendar
import email.utils
import os
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
FAULTS = tuple(os.environ.get("FAULTS", "500,503-slowdown,reset-request,reset-body,stall")
               .split(","))
MATCH = os.environ.get("MATCH", "").encode()
REGION = os.environ.get("REGION", "eu-central-1")
SKEW = int(os.environ["SKEW"]) if os.environ.get("SKEW") else None


def pick(req):
    if MATCH and MATCH not in req[0]:
        return None
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


def canned(status, code, extra="", head=False, more=""):
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>injected by faultproxy</Message>{more}</Error>").encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/xml\r\n{extra}"
            f"Content-Length: {0 if head else len(body)}\r\n\r\n").encode() + (
                b"" if head else body)


def skewed(req):
    """True when the request's x-amz-date is over 15 minutes from the proxy's clock."""
    d = header(req, "x-amz-date")
    if SKEW is None or not d:
        return False
    sent = calendar.timegm(time.strptime(d, "%Y%m%dT%H%M%SZ"))
    return abs(sent - (time.time() + SKEW)) > 900


def unskew(req):
    out = []
    for l in req:
        if SKEW is not None and l.lower().startswith(b"x-amz-date:"):
            t = calendar.timegm(time.strptime(l.split(b":", 1)[1].strip().decode(),
                                              "%Y%m%dT%H%M%SZ")) - SKEW
            l = time.strftime("x-amz-date: %Y%m%dT%H%M%SZ\r\n", time.gmtime(t)).encode()
        out.append(l)
    return out


def bad_etag(lines):
    out = []
    for l in lines:
        if l.lower().startswith(b"etag:"):
            l = b'ETag: "00000000000000000000000000000000"\r\n'
        out.append(l)
    return out


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
            head_req = method == b"HEAD"
            if skewed(req):
                log("skew")
                date = email.utils.formatdate(time.time() + SKEW, usegmt=True)
                client.sendall(canned("403 Forbidden", "RequestTimeTooSkewed",
                                      f"Date: {date}\r\n", head_req))
                continue
            fault = pick(req)
            if fault:
                log(fault)
            if fault == "redirect-301":
                client.sendall(canned("301 Moved Permanently", "PermanentRedirect",
                                      f"x-amz-bucket-region: {REGION}\r\n", head_req,
                                      f"<Region>{REGION}</Region>"))
                continue
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
            up.sendall(b"".join(unskew(req)) + b"\r\n" + body)
            rep = read_head(uf)
            if rep is None:
                reset(client)
                return
            status = int(rep[0].split(b" ")[1])
            no_body = method == b"HEAD" or status in (204, 304) or 100 <= status < 200
            rbody = read_body(uf, rep, no_body)
            if fault == "bad-etag":
                rep = bad_etag(rep)
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
