#!/usr/bin/python3
"""hostile.py PORT OTHER_PORT DIR -- a tiny path-style S3 on 127.0.0.1:PORT (objects as
files under DIR/objects, no signature check) that turns hostile on demand: before each
request it reads DIR/mode, lines "ATTACK [MATCH]", and applies the first ATTACK whose
MATCH (a substring of "METHOD PATH?QUERY", empty for all) the request line contains.
OTHER_PORT is a second listener standing for another host (a redirect target): it
answers 404 to everything and logs what it receives to DIR/other.log. Every request
to PORT is logged to DIR/requests.log ("METHOD TARGET" then each header line), so
tests can look for what the client sent (credentials included).

Attacks:
  error-forever   400 whose chunked error body never ends
  ok-forever      200 (after reading the request body) whose chunked body never ends
  headers-forever 200 whose header lines never end (100 bytes each, fast)
  huge-header     200 with one 8 MiB header line
  continue-forever an endless run of "100 Continue" interim replies
  slowloris       a status line, then one header byte per second, forever
  slow-body       200 with Content-Length 1 MiB, then one body byte per second
  trickle-body    200 with Content-Length 60000, then 4 KiB every half second (8 KiB/s:
                  above libcurl's 1 KiB/s low-speed limit, whole after 7.5 s)
  redirect-other  307 to the same path on OTHER_PORT
  redirect-file   307 to file:///etc/passwd
  redirect-ftp    307 to ftp://127.0.0.1:OTHER_PORT/x
  slowdown        503 SlowDown, always
  length-lie      200 whose Content-Length is 1000 bytes more than the body, then close
  put-bad-etag    a PUT stored as sent but acknowledged with an ETag of zeros
  put-corrupt     a PUT stored with its first byte flipped, acknowledged with that
                  copy's (true) MD5
  head-huge       a HEAD answered 200 with Content-Length 2^63-1 (over any S3 object)
  range-ignored   a ranged GET answered 200 with the whole object (Range ignored)
  range-long      a ranged GET answered 206 with 4 KiB more than asked (its
                  Content-Range and Content-Length agree with the longer body)
  range-shifted   a ranged GET answered 206 from one byte later (Content-Range says so)
  list-cycle      ListObjectsV2: truncated pages alternating tokens A and B, each with
                  the first real key
  list-empty      ListObjectsV2: truncated pages without keys, a new token each time
  list-outside    ListObjectsV2: the real page plus a key of another prefix of the same
                  length (OUTSIDE_KEY)
  list-dotdot     ListObjectsV2: the real page plus PREFIX../../<64 hex> (raw bytes)
  list-nul        ListObjectsV2: the real page plus a key with a &#0; character reference
  list-laughs     ListObjectsV2: a billion-laughs document (entity expansion)
  list-external   ListObjectsV2: an external entity naming file:///etc/passwd
  list-huge       ListObjectsV2: a 200 whose well-formed body grows without end"""
import hashlib
import os
import re
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, OTHER, DIR = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
OBJ = os.path.join(DIR, "objects")
os.makedirs(OBJ, exist_ok=True)
log_lock = threading.Lock()
LIMIT_S = 300  # an endless reply stops after this long at the latest (a test's bound)


def log(name, text):
    with log_lock, open(os.path.join(DIR, name), "a") as f:
        f.write(text)


def mode_for(line):
    try:
        with open(os.path.join(DIR, "mode")) as f:
            rules = [ln.split(None, 1) for ln in f.read().splitlines() if ln.strip()]
    except FileNotFoundError:
        return None
    for r in rules:
        if len(r) == 1 or r[1] in line:
            return r[0]
    return None


def obj_path(bucket, key):
    return os.path.join(OBJ, urllib.parse.quote(bucket, safe=""),
                        urllib.parse.quote(key, safe=""))


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class S3(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    # ---- plumbing ----
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def raw(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def forever(self, head, piece, interval=0.0):
        """Sends head, then piece again and again until the client goes away."""
        end = time.monotonic() + LIMIT_S
        try:
            self.raw(head)
            while time.monotonic() < end:
                self.raw(piece)
                if interval:
                    time.sleep(interval)
        except OSError:
            pass
        self.close_connection = True

    def chunk(self, data):
        return b"%x\r\n%s\r\n" % (len(data), data)

    # ---- dispatch ----
    def handle_any(self):
        line = f"{self.command} {self.path}"
        log("requests.log", line + "\n" + "".join(f"  {k}: {v}\n" for k, v in self.headers.items()))
        attack = mode_for(line)
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else None
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        data = self.body() if self.command in ("PUT", "POST") else b""
        if attack and self.attack(attack, bucket, key, query):
            return
        if key is None:
            return self.bucket_op(bucket, query, data, attack)
        return self.object_op(bucket, key, data, attack)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = handle_any

    def attack(self, a, bucket, key, query):
        err = b"<?xml version='1.0'?><Error><Code>Junk</Code><Message>" + b"x" * 4000
        if a == "error-forever":
            self.forever(b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n" +
                         self.chunk(err), self.chunk(b"y" * 65536))
        elif a == "ok-forever":
            self.forever(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                         self.chunk(b"z" * 65536))
        elif a == "headers-forever":
            self.forever(b"HTTP/1.1 200 OK\r\n", b"X-Junk: " + b"h" * 90 + b"\r\n")
        elif a == "huge-header":
            self.forever(b"HTTP/1.1 200 OK\r\nX-Junk: ", b"h" * 65536)
        elif a == "continue-forever":
            self.forever(b"", b"HTTP/1.1 100 Continue\r\n\r\n")
        elif a == "slowloris":
            self.forever(b"HTTP/1.1 200 OK\r\nX-Slow: ", b"s", 1.0)
        elif a == "slow-body":
            self.forever(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\nETag: \"x\"\r\n\r\n",
                         b"b", 1.0)
        elif a == "trickle-body":
            try:
                self.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 60000\r\nETag: \"x\"\r\n\r\n")
                for i in range(0, 60000, 4096):
                    time.sleep(0.5)
                    self.raw(b"t" * min(4096, 60000 - i))
            except OSError:
                pass
            self.close_connection = True
        elif a.startswith("redirect-"):
            where = {"redirect-other": f"http://127.0.0.1:{OTHER}{self.path}",
                     "redirect-file": "file:///etc/passwd",
                     "redirect-ftp": f"ftp://127.0.0.1:{OTHER}/x"}[a]
            self.reply(307, b"", [("Location", where)])
        elif a == "slowdown":
            self.reply(503, b"<Error><Code>SlowDown</Code><Message>Please reduce your "
                       b"request rate.</Message></Error>")
        elif a == "length-lie" and self.command == "GET" and key:
            try:
                with open(obj_path(bucket, key), "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                return False
            self.raw(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(data) + 1000) + data)
            self.close_connection = True
        elif a == "head-huge" and self.command == "HEAD":
            self.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n"
                     b"ETag: \"0123456789abcdef0123456789abcdef\"\r\n\r\n")
        elif a.startswith("list-") and "list-type" in query:
            return self.list_attack(a, bucket, query)
        else:
            return False
        return True

    def list_attack(self, a, bucket, query):
        head = b"<?xml version='1.0' encoding='UTF-8'?>\n"
        prefix = query.get("prefix", [""])[0]
        if a in ("list-cycle", "list-empty"):
            token = query.get("continuation-token", [""])[0]
            keys = sorted(k for k in self.keys(bucket) if k.startswith(prefix))[:1]
            nxt = ("B" if token == "A" else "A") if a == "list-cycle" else \
                "T%d" % (int(token[1:] or 0) + 1 if token else 1)
            if a == "list-empty":
                keys = []
            body = head + b"<ListBucketResult><IsTruncated>true</IsTruncated>" + \
                ("<NextContinuationToken>%s</NextContinuationToken>" % nxt).encode() + \
                b"".join(b"<Contents><Key>%s</Key><Size>1</Size></Contents>" %
                         xml_escape(k).encode() for k in keys) + b"</ListBucketResult>"
            self.reply(200, body)
        elif a == "list-outside":
            keys = sorted(k for k in self.keys(bucket) if k.startswith(prefix))
            keys.append(os.environ.get("OUTSIDE_KEY", "x" * len(prefix) + "0" * 64))
            self.reply(200, self.list_xml(keys, bucket))
        elif a in ("list-dotdot", "list-nul"):
            keys = sorted(k for k in self.keys(bucket) if k.startswith(prefix))
            odd = prefix + "../../" + "0" * 64 if a == "list-dotdot" else prefix + "ab\x00cd"
            body = self.list_xml(keys + [odd], bucket)
            self.reply(200, body.replace(b"\x00", b"&#0;"))
        elif a == "list-laughs":
            ents = "".join(f'<!ENTITY l{i} "' + f"&l{i - 1};" * 10 + '">' for i in range(1, 10))
            doc = ('<?xml version="1.0"?><!DOCTYPE ListBucketResult [<!ENTITY l0 "lol">' + ents +
                   ']><ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&l9;'
                   '</Key><Size>1</Size></Contents></ListBucketResult>')
            self.reply(200, doc.encode())
        elif a == "list-external":
            doc = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   '<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&x;</Key>'
                   '<Size>1</Size></Contents></ListBucketResult>')
            self.reply(200, doc.encode())
        elif a == "list-huge":
            self.forever(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                         self.chunk(head + b"<ListBucketResult><IsTruncated>false</IsTruncated>"),
                         self.chunk(b"<Junk>" + b"j" * 4000 + b"</Junk>" * 1))
        else:
            return False
        return True

    # ---- a plain S3 ----
    def keys(self, bucket):
        d = os.path.join(OBJ, urllib.parse.quote(bucket, safe=""))
        return [urllib.parse.unquote(n) for n in os.listdir(d)] if os.path.isdir(d) else []

    def list_xml(self, keys, bucket, truncated=False, token=""):
        out = ["<?xml version='1.0' encoding='UTF-8'?>\n<ListBucketResult>",
               f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
        if token:
            out.append(f"<NextContinuationToken>{xml_escape(token)}</NextContinuationToken>")
        for k in keys:
            p = obj_path(bucket, k)
            size = os.path.getsize(p) if os.path.exists(p) else 1
            out.append(f"<Contents><Key>{xml_escape(k)}</Key><Size>{size}</Size></Contents>")
        out.append("</ListBucketResult>")
        return "".join(out).encode()

    def bucket_op(self, bucket, query, data, attack):
        d = os.path.join(OBJ, urllib.parse.quote(bucket, safe=""))
        if self.command == "PUT":
            os.makedirs(d, exist_ok=True)
            return self.reply(200)
        if not os.path.isdir(d):
            return self.reply(404, b"<Error><Code>NoSuchBucket</Code></Error>")
        if self.command == "HEAD":
            return self.reply(200)
        if self.command == "POST" and "delete" in query:
            out = [b"<?xml version='1.0'?><DeleteResult>"]
            for k in re.findall(rb"<Key>(.*?)</Key>", data):
                key = k.decode().replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                try:
                    os.unlink(obj_path(bucket, key))
                except FileNotFoundError:
                    pass
                out.append(b"<Deleted><Key>%s</Key></Deleted>" % k)
            return self.reply(200, b"".join(out) + b"</DeleteResult>")
        prefix = query.get("prefix", [""])[0]
        after = query.get("continuation-token", [""])[0]
        keys = sorted(k for k in self.keys(bucket) if k.startswith(prefix) and k > after)
        page, more = keys[:1000], len(keys) > 1000
        return self.reply(200, self.list_xml(page, bucket, more, page[-1] if more else ""))

    def object_op(self, bucket, key, data, attack):
        p = obj_path(bucket, key)
        if self.command == "PUT":
            if attack == "put-corrupt" and data:
                data = bytes([data[0] ^ 1]) + data[1:]
            with open(p + ".tmp", "wb") as f:
                f.write(data)
            os.replace(p + ".tmp", p)
            etag = "0" * 32 if attack == "put-bad-etag" else hashlib.md5(data).hexdigest()
            return self.reply(200, b"", [("ETag", '"%s"' % etag)])
        if self.command == "DELETE":
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
            return self.reply(204)
        try:
            with open(p, "rb") as f:
                obj = f.read()
        except FileNotFoundError:
            return self.reply(404, b"<Error><Code>NoSuchKey</Code></Error>")
        etag = ("ETag", '"%s"' % hashlib.md5(obj).hexdigest())
        m = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        if not m or attack == "range-ignored":
            return self.reply(200, obj, [etag])
        a = int(m.group(1))
        b = min(int(m.group(2)) if m.group(2) else len(obj) - 1, len(obj) - 1)
        if a >= len(obj):
            return self.reply(416, b"<Error><Code>InvalidRange</Code></Error>")
        if attack == "range-long":
            b = min(b + 4096, len(obj) - 1)
        if attack == "range-shifted":
            a, b = a + 1, min(b + 1, len(obj) - 1)
        return self.reply(206, obj[a:b + 1],
                          [etag, ("Content-Range", f"bytes {a}-{b}/{len(obj)}")])


class Other(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        log("other.log", f"{self.command} {self.path}\n" +
            "".join(f"  {k}: {v}\n" for k, v in self.headers.items()))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


for port, handler in ((OTHER, Other), (PORT, S3)):
    srv = Server(("127.0.0.1", port), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
sys.stdout.write("ready\n")
sys.stdout.flush()
threading.Event().wait()
