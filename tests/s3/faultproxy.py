#!/usr/bin/python3
"""faultproxy.py LISTEN_PORT UPSTREAM_PORT [RATE] [SEED] [count] -- an HTTP/1.1 proxy on
127.0.0.1 that, for a share RATE (default 0.25) of requests, injects one fault:
500 InternalError, 503 SlowDown, a reset before forwarding, a reset halfway through
the reply body, or a stall (no bytes for 30 s). Counts go to stderr, one line per
fault, so tests can check faults really happened, and one line "range VALUE [if-match]"
per request with a Range header; with "count", also one line "ranged PATH RANGE STATUS
[if-match]" per ranged request with the upstream's status ("none" when the upstream
closed instead of answering). Bodies are streamed both ways, never held whole.

Environment (for tests that need one fault on some requests):
  FAULTS=a,b   the faults to draw from (default all five above), plus:
               bad-etag      forward, then reply with a wrong ETag
               redirect-301  301 PermanentRedirect naming REGION (x-amz-bucket-region
                             and, for non-HEAD requests, <Region> in the body)
               cut-body      a 2xx GET reply longer than CUT bytes is closed after CUT
                             (default 320 KiB) bytes of its body
               hold-body     a 2xx GET reply longer than CUT bytes stops after CUT
                             bytes of its body until the file HOLD exists, then goes on
                             (a client that works on what it has meanwhile shows it)
  HOLD=path    the file hold-body waits for
  MATCH=text   only requests whose request line contains text get faults
  LIMIT=n      at most n faults in all
  CHANGE=1     after a cut-body, overwrite the object upstream (same size, other
               bytes) so that the client's next attempt sees another object
  DROP_RANGE=1 drop the Range header of requests with If-Match (a server that
               ignores it answers 200 with the whole object)
  IF_MATCH=enforce  answer 412 when the upstream's ETag differs from If-Match
               (s3rver ignores If-Match; S3 and Swift do not)
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
CUT = int(os.environ.get("CUT", "327680"))
LIMIT = int(os.environ["LIMIT"]) if os.environ.get("LIMIT") else None
CHANGE = os.environ.get("CHANGE") == "1"
HOLD = os.environ.get("HOLD", "")
DROP_RANGE = os.environ.get("DROP_RANGE") == "1"
ENFORCE_IF_MATCH = os.environ.get("IF_MATCH") == "enforce"
injected = 0


def pick(req):
    global injected
    if MATCH and MATCH not in req[0]:
        return None
    with lock:
        if LIMIT is not None and injected >= LIMIT:
            return None
        fault = rng.choice(FAULTS) if rng.random() < RATE else None
        injected += fault is not None
        return fault


def log(what):
    sys.stderr.write(f"fault {what}\n")
    sys.stderr.flush()


def log_request(method, n):
    if COUNT:
        sys.stderr.write(f"request {method} {n}\n")
        sys.stderr.flush()


def log_ranged(req, rq_range, status):
    """In count mode, one line per ranged request that went upstream: "ranged PATH
    RANGE STATUS [if-match]", so a test can tell a retry (same range again) or a resume
    (If-Match, a later start) from a first GET of a pack."""
    if rq_range:
        path = req[0].split(b" ")[1].split(b"?")[0].decode("latin-1")
        sys.stderr.write(f"ranged {path} {rq_range} {status}" +
                         (" if-match" if header(req, "if-match") else "") + "\n")
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


class Cut(Exception):
    """The body was cut where a fault wanted it."""


def copy_body(f, lines, out, no_body=False, limit=None, hold=None):
    """Streams one message body from file f to socket out (None: drop it), 64 KiB at a
    time, so a big object never sits in memory. With limit, raises Cut once that many
    bytes went out; with hold (a byte count), waits after that many bytes until the
    file HOLD exists. Returns the bytes copied (chunk framing included)."""
    if no_body:
        return 0
    sent = 0

    def emit(data):
        nonlocal sent, hold
        if hold is not None and sent + len(data) >= hold:
            out.sendall(data[: hold - sent])
            log("hold-body")
            while not os.path.exists(HOLD):
                time.sleep(0.05)
            log("release-body")
            data, sent, hold = data[hold - sent:], hold, None
        if limit is not None and sent + len(data) >= limit:
            if out is not None:
                out.sendall(data[: limit - sent])
            raise Cut()
        if out is not None and data:
            out.sendall(data)
        sent += len(data)

    te = header(lines, "transfer-encoding")
    if te and "chunked" in te.lower():
        while True:
            size_line = f.readline(1024)
            if not size_line:
                raise ValueError("truncated chunked body")
            emit(size_line)
            n = int(size_line.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                while True:  # trailers, up to the empty line
                    t = f.readline(65536)
                    emit(t)
                    if t in (b"\r\n", b"\n", b""):
                        return sent
            copy_n(f, n + 2, emit)
    copy_n(f, int(header(lines, "content-length") or 0), emit)
    return sent


def copy_n(f, n, emit):
    while n > 0:
        data = f.read(min(n, 65536))
        if not data:
            raise ValueError("truncated body")
        emit(data)
        n -= len(data)


def body_length(lines):
    """The content length of a message, None when it is chunked."""
    te = header(lines, "transfer-encoding")
    if te and "chunked" in te.lower():
        return None
    return int(header(lines, "content-length") or 0)


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


def without(lines, name):
    return [l for l in lines if not l.lower().startswith(name + b":")]


def object_size(rep):
    """The whole object's size from a GET reply (Content-Range total or Content-Length)."""
    cr = header(rep, "content-range")
    if cr and "/" in cr:
        return int(cr.rsplit("/", 1)[1])
    return body_length(rep) or 0


def change_object(req, size):
    """Overwrites the object a GET asked for (same size, other bytes) through its own
    connection to the upstream, reusing the GET's (unchecked by s3rver) credentials."""
    keep = [l for l in req[1:] if l.lower().split(b":")[0] in
            (b"host", b"authorization", b"x-amz-date", b"x-amz-security-token")]
    path = req[0].split(b" ")[1]
    body = (b"changed by faultproxy\n" * (size // 22 + 1))[:size]
    up = socket.create_connection(("127.0.0.1", UPSTREAM))
    try:
        up.sendall(b"PUT " + path + b" HTTP/1.1\r\n" + b"".join(keep) +
                   b"x-amz-content-sha256: UNSIGNED-PAYLOAD\r\n" +
                   f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode() + body)
        status = up.makefile("rb").readline(1024).split(b" ")[1].decode()
    finally:
        up.close()
    log(f"change {status}")


def canned_reply(client, fault, head_req):
    """Answers for the faults that never reach the upstream; False if fault is not one."""
    if fault == "redirect-301":
        client.sendall(canned("301 Moved Permanently", "PermanentRedirect",
                              f"x-amz-bucket-region: {REGION}\r\n", head_req,
                              f"<Region>{REGION}</Region>"))
    elif fault == "500":
        client.sendall(canned("500 Internal Server Error", "InternalError"))
    elif fault == "503-slowdown":
        client.sendall(canned("503 Slow Down", "SlowDown"))
    else:
        return False
    return True


def serve(client):
    up = uf = None
    try:
        cf = client.makefile("rb")
        while True:
            req = read_head(cf)
            if req is None:
                return
            method = req[0].split(b" ")[0]
            head_req = method == b"HEAD"
            rq_range = header(req, "range")
            if rq_range:
                log(f"range {rq_range}" + (" if-match" if header(req, "if-match") else ""))
            if skewed(req):
                log_request(method.decode("latin-1"), copy_body(cf, req, None))
                log("skew")
                date = email.utils.formatdate(time.time() + SKEW, usegmt=True)
                client.sendall(canned("403 Forbidden", "RequestTimeTooSkewed",
                                      f"Date: {date}\r\n", head_req))
                continue
            fault = pick(req)
            if fault and fault not in ("cut-body", "hold-body"):
                log(fault)
            if fault in ("reset-request", "stall"):
                if fault == "stall":
                    time.sleep(30)
                reset(client)
                return
            if canned_reply(client, fault, head_req):
                log_request(method.decode("latin-1"), copy_body(cf, req, None))
                continue
            if rq_range and DROP_RANGE and header(req, "if-match"):
                log("drop-range")
                req = without(req, b"range")
            if up is None:
                up = socket.create_connection(("127.0.0.1", UPSTREAM))
                uf = up.makefile("rb")
            up.sendall(b"".join(unskew(req)) + b"\r\n")
            log_request(method.decode("latin-1"), copy_body(cf, req, up))
            rep = read_head(uf)
            if rep is None:
                # The upstream closed its end (an idle keep-alive connection it timed
                # out, say): the client sees a reset and retries.
                if COUNT:
                    log_ranged(req, rq_range, "none")
                reset(client)
                return
            status = int(rep[0].split(b" ")[1])
            if COUNT:
                log_ranged(req, rq_range, status)
            no_body = method == b"HEAD" or status in (204, 304) or 100 <= status < 200
            want = header(req, "if-match")
            if ENFORCE_IF_MATCH and want and 200 <= status < 300 and header(rep, "etag") != want:
                # s3rver ignores If-Match: answer as S3 would for a changed object.
                copy_body(uf, rep, None, no_body)
                log("precondition-failed")
                client.sendall(canned("412 Precondition Failed", "PreconditionFailed"))
                continue
            if fault == "bad-etag":
                rep = bad_etag(rep)
            limit = None
            n = body_length(rep)
            if fault == "reset-body" and not no_body and (n is None or n > 1):
                limit = n // 2 if n else 1
            if (fault == "cut-body" and method == b"GET" and 200 <= status < 300 and
                    n is not None and n > CUT):
                limit = CUT
                log("cut-body")
            hold = None
            if (fault == "hold-body" and method == b"GET" and 200 <= status < 300 and
                    n is not None and n > CUT):
                hold = CUT
            client.sendall(b"".join(rep) + b"\r\n")
            try:
                copy_body(uf, rep, client, no_body, limit, hold)
            except Cut:
                if fault == "cut-body" and CHANGE:
                    # Before the client sees the cut, so its next try meets the new object.
                    change_object(req, object_size(rep))
                if fault == "cut-body":
                    # A clean close: the client gets every byte sent, then a short body.
                    client.shutdown(socket.SHUT_WR)
                    client.close()
                else:
                    reset(client)
                return
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
