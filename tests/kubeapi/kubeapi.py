#!/usr/bin/env python3
"""A Kubernetes API-server double for cairn's tests (Python standard library;
PyYAML only to --load YAML files). What it implements and where it differs
from a real kube-apiserver: docs/kubeapi.md.

    python3 tests/kubeapi/kubeapi.py --port PORT [--host 127.0.0.1]
        [--token TOKEN] [--tls-cert F --tls-key F] [--state FILE.json]
        [--load FILE.yaml-or-json ...] [--bookmark-interval SECONDS]

Prints "kubeapi ready on http://127.0.0.1:PORT" once listening (PORT 0 picks
a free port and prints it). SIGTERM stops it.
"""

import argparse
import datetime
import hmac
import json
import os
import queue
import re
import select
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kinds import Catalogue  # noqa: E402
from objutil import (ApiError, bad_request, json_patch, merge_patch,  # noqa: E402
                     parse_field_selector, parse_label_selector,
                     strategic_merge_patch)
from store import Store  # noqa: E402
import execws  # noqa: E402
import openapi  # noqa: E402
import protobuf  # noqa: E402
import table  # noqa: E402

VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-cairn-kubeapi",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64",
}
DEFAULT_WATCH_TIMEOUT = 1800
REQUEST_LOG = 2000


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, opts):
        super().__init__(addr, Handler)
        self.opts = opts
        self.cat = Catalogue()
        self.store = Store(self.cat, opts.state)
        self.requests = []
        self.injections = []
        self.meta_lock = threading.Lock()


def truthy(v):
    return v in ("1", "true", "True")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cairn-kubeapi"
    # The headers and the body leave in separate writes: with Nagle on, a kept-alive
    # client waits ~40 ms (delayed ACK) for every body. kube-apiserver sets TCP_NODELAY.
    disable_nagle_algorithm = True

    # ------------------------------------------------------------ plumbing

    def log_message(self, fmt, *args):  # one line per request, written below
        pass

    def _log(self, code):
        entry = {"method": self.command, "path": self.url.path,
                 "query": self.url.query, "code": code,
                 "contentType": self.headers.get("Content-Type", ""),
                 "userAgent": self.headers.get("User-Agent", ""),
                 "time": time.time()}
        with self.server.meta_lock:
            self.server.requests.append(entry)
            del self.server.requests[:-REQUEST_LOG]
        sys.stderr.write("%s %s %s %d\n" % (datetime.datetime.now().strftime(
            "%H:%M:%S.%f")[:-3], self.command, self.path, code))
        sys.stderr.flush()

    def send_json(self, code, obj, content_type="application/json"):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._log(code)

    def send_text(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self._log(code)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        return self.rfile.read(n) if n else b""

    def json_body(self, raw):
        if not raw:
            raise bad_request("the request body is empty")
        ctype = self.headers.get("Content-Type", "application/json").split(";")[0]
        if ctype == "application/vnd.kubernetes.protobuf":
            return protobuf.decode(raw)
        if "protobuf" in ctype or "cbor" in ctype:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in "
                           "an unknown format - accepted media types include: "
                           "application/json, application/yaml")
        try:
            if ctype.endswith("yaml"):
                import yaml  # only used when a client sends YAML
                return yaml.safe_load(raw)
            return json.loads(raw)
        except Exception as e:  # noqa: BLE001 - any parse failure is a 400
            raise bad_request("the body of the request could not be decoded: %s" % e)

    def do_GET(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def authorized(self):
        token = self.server.opts.token
        if not token:
            return True
        got = self.headers.get("Authorization", "")
        return got.startswith("Bearer ") and \
            hmac.compare_digest(got[7:].strip().encode(), token.encode())

    def dispatch(self):
        self.url = urlsplit(self.path)
        self.q = {k: v[-1] for k, v in parse_qs(self.url.query,
                                                keep_blank_values=True).items()}
        try:
            parts = [p for p in self.url.path.split("/") if p]
            if execws.is_exec(self, parts):
                # A websocket upgrade carries no body; the stream follows the 101.
                if not self.authorized():
                    raise ApiError(401, "Unauthorized", "Unauthorized")
                self.inject(b"")
                return execws.serve(self, parts[3], parts[5],
                                    parse_qs(self.url.query, keep_blank_values=True))
            raw = self.read_body()
            if not self.authorized():
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if self.inject(raw):
                # An injected connection reset: no reply at all.
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self.route(raw)
        except ApiError as e:
            self.send_json(e.code, e.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def inject(self, raw):
        """Answer with a fault queued by POST /_test/inject, if one matches
        (method, path regex, and body regex when given). True: reset the
        connection instead of answering. A "hold" file keeps the request
        waiting while that file exists ("holding" counts the requests waiting
        now), then serves it, or answers with "code" when one is given."""
        body = (raw or b"").decode("utf-8", "replace")
        hold = None
        with self.server.meta_lock:
            for inj in self.server.injections:
                if inj["count"] > 0 and \
                        inj.get("method", self.command) == self.command and \
                        re.search(inj.get("path", ""), self.url.path) and \
                        re.search(inj.get("body", ""), body):
                    inj["count"] -= 1
                    inj["hits"] = inj.get("hits", 0) + 1
                    if inj.get("reset"):
                        return True
                    if inj.get("hold"):
                        hold = inj
                        inj["holding"] = inj.get("holding", 0) + 1
                        break
                    raise ApiError(int(inj.get("code", 500)),
                                   inj.get("reason", "InternalError"),
                                   inj.get("message", "injected by /_test/inject"))
        if hold is None:
            return False
        # Outside the lock: other requests (and GET /_test/inject) go on meanwhile.
        while os.path.exists(hold["hold"]):
            time.sleep(0.02)
        with self.server.meta_lock:
            hold["holding"] -= 1
        if "code" in hold:
            raise ApiError(int(hold["code"]), hold.get("reason", "InternalError"),
                           hold.get("message", "injected by /_test/inject"))
        return False

    # ------------------------------------------------------------ routing

    def route(self, raw):
        parts = [p for p in self.url.path.split("/") if p]
        m = self.command
        if parts[:1] == ["_test"]:
            return self.test_endpoint(parts[1:], raw)
        if m in ("GET", "HEAD"):
            if parts == ["version"]:
                return self.send_json(200, VERSION)
            if parts in (["healthz"], ["livez"], ["readyz"]):
                return self.send_text(200, "ok")
            if parts == ["api"]:
                return self.send_json(200, {
                    "kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{
                        "clientCIDR": "0.0.0.0/0",
                        "serverAddress": "%s:%d" % self.server.server_address[:2]}]})
            if parts == ["apis"]:
                return self.send_json(200, {
                    "kind": "APIGroupList", "apiVersion": "v1",
                    "groups": [self.group_doc(g, vs)
                               for g, vs in sorted(self.server.cat.groups().items())]})
            if len(parts) == 2 and parts[0] == "apis":
                vs = self.server.cat.groups().get(parts[1])
                if vs:
                    return self.send_json(200, self.group_doc(parts[1], vs))
            if parts == ["api", "v1"]:
                return self.resource_list("", "v1")
            if parts == ["openapi", "v3"]:
                return self.send_json(200, openapi.root_doc(self.server.cat))
            if parts[:2] == ["openapi", "v3"] and len(parts) in (4, 5):
                group, version = (parts[3], parts[4]) if len(parts) == 5 \
                    else ("", parts[3])
                if (group, version) == ("", "v1") or \
                        version in self.server.cat.groups().get(group, []):
                    return self.send_json(200, openapi.gv_doc(
                        self.server.cat, group, version))
            if len(parts) == 3 and parts[0] == "apis":
                if parts[2] in self.server.cat.groups().get(parts[1], []):
                    return self.resource_list(parts[1], parts[2])
        if parts[:2] == ["api", "v1"] and len(parts) > 2:
            return self.resource("", "v1", parts[2:], raw)
        if parts[:1] == ["apis"] and len(parts) > 3:
            return self.resource(parts[1], parts[2], parts[3:], raw)
        # Includes /openapi/v2: kubectl 1.32 asks for it only when v3 fails.
        raise ApiError(404, "NotFound", "the server could not find the requested "
                       "resource")

    @staticmethod
    def group_doc(group, versions):
        gvs = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group,
                "versions": gvs, "preferredVersion": gvs[0]}

    def resource_list(self, group, version):
        res = []
        for k in self.server.cat.all():
            if k.group == group and version in k.versions:
                res.extend(k.discovery())
        self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                             "groupVersion": "%s/%s" % (group, version) if group
                             else version, "resources": res})

    def resource(self, group, version, rest, raw):
        watch_path = rest[0] == "watch"
        if watch_path:
            rest = rest[1:]
        ns = ""
        if len(rest) >= 3 and rest[0] == "namespaces" and \
                rest[2] not in ("status", "finalize"):
            ns = rest[1]
            rest = rest[2:]
        if not rest:
            raise ApiError(404, "NotFound", "the server could not find the "
                           "requested resource")
        cat = self.server.cat
        kind = cat.get(group, version, rest[0])
        if kind is None or (ns and not kind.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the "
                           "requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3 or (sub and not (sub == "status" and kind.status)):
            raise ApiError(404, "NotFound", "the server could not find the "
                           "requested resource")
        if kind.namespaced and name and not ns:
            raise ApiError(404, "NotFound", "the server could not find the "
                           "requested resource")
        self.kind, self.ns, self.version = kind, ns, version
        m = self.command
        if name is None:
            if m in ("GET", "HEAD") and (watch_path or truthy(self.q.get("watch"))):
                return self.watch()
            if m in ("GET", "HEAD"):
                return self.list()
            if m == "POST":
                return self.create(raw)
            if m == "DELETE":
                return self.delete_collection()
        else:
            if m in ("GET", "HEAD"):
                return self.send_obj(200, self.server.store.get(kind, ns, name))
            if m == "PUT":
                return self.update(name, sub, raw)
            if m == "PATCH":
                return self.patch(name, sub, raw)
            if m == "DELETE":
                return self.delete(name, raw)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this "
                       "method on the requested resource")

    # ------------------------------------------------------------ verbs

    def wants_table(self):
        return "as=Table" in self.headers.get("Accept", "")

    def send_obj(self, code, obj):
        if self.wants_table() and self.command in ("GET", "HEAD"):
            return self.send_json(code, table.render(self.kind, [obj], None, self.q),
                                  "application/json;as=Table;v=v1;g=meta.k8s.io")
        self.send_json(code, obj)

    def selectors(self):
        lsel = parse_label_selector(self.q.get("labelSelector", ""))
        fsel = parse_field_selector(self.q.get("fieldSelector", ""), self.kind)
        return lsel, fsel

    def list(self):
        lsel, fsel = self.selectors()
        try:
            limit = int(self.q.get("limit") or 0)
        except ValueError:
            raise bad_request("limit must be an integer")
        items, rv, cont, remaining = self.server.store.list(
            self.kind, self.ns, lsel, fsel, limit, self.q.get("continue"))
        meta = {"resourceVersion": rv}
        if cont:
            meta["continue"] = cont
            meta["remainingItemCount"] = remaining
        if self.wants_table():
            return self.send_json(200, table.render(self.kind, items, meta, self.q),
                                  "application/json;as=Table;v=v1;g=meta.k8s.io")
        self.send_json(200, {"kind": self.kind.kind + "List",
                             "apiVersion": self.kind.api_version(self.version),
                             "metadata": meta, "items": items})

    def dry_run(self, opts=None):
        return "dryRun" in self.q or bool((opts or {}).get("dryRun"))

    def create(self, raw):
        obj = self.json_body(raw)
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be an object")
        want = self.kind.api_version(self.version)
        if obj.get("apiVersion", want) != want or \
                obj.get("kind", self.kind.kind) != self.kind.kind:
            raise bad_request("the API version in the data (%s) does not match the "
                              "expected API version (%s)" % (obj.get("apiVersion"), want)
                              if obj.get("apiVersion", want) != want else
                              "the kind in the data (%s) does not match the expected "
                              "kind (%s)" % (obj.get("kind"), self.kind.kind))
        obj["apiVersion"], obj["kind"] = want, self.kind.kind
        body_ns = (obj.get("metadata") or {}).get("namespace")
        if self.kind.namespaced and body_ns and body_ns != self.ns:
            raise bad_request("the namespace of the provided object does not match "
                              "the namespace sent on the request")
        self.send_obj(201, self.server.store.create(self.kind, self.ns, obj,
                                                    self.dry_run()))

    def update(self, name, sub, raw):
        obj = self.json_body(raw)
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be an object")
        self.send_obj(200, self.server.store.update(
            self.kind, self.ns, name, obj, sub, require_rv=self.kind.custom,
            dry_run=self.dry_run()))

    def patch(self, name, sub, raw):
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        body = self.json_body(raw)
        store = self.server.store
        with store.lock:
            cur = store.get(self.kind, self.ns, name)
            if ctype == "application/merge-patch+json":
                new = merge_patch(cur, body)
            elif ctype == "application/strategic-merge-patch+json":
                new = strategic_merge_patch(cur, body) if not self.kind.custom \
                    else merge_patch(cur, body)
            elif ctype == "application/json-patch+json":
                new = json_patch(cur, body)
            else:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request "
                               "was in an unknown format - accepted media types "
                               "include: application/json-patch+json, "
                               "application/merge-patch+json, "
                               "application/strategic-merge-patch+json")
            if not isinstance(new, dict):
                raise bad_request("the patch did not produce an object")
            out = store.update(self.kind, self.ns, name, new, sub,
                               dry_run=self.dry_run())
        self.send_obj(200, out)

    def delete(self, name, raw):
        opts = {}
        if raw:
            opts = self.json_body(raw) or {}
        policy = opts.get("propagationPolicy") or self.q.get("propagationPolicy")
        if opts.get("orphanDependents") is True:
            policy = policy or "Orphan"
        self.send_obj(200, self.server.store.delete(
            self.kind, self.ns, name, opts.get("preconditions"), self.dry_run(opts),
            policy))

    def delete_collection(self):
        lsel, fsel = self.selectors()
        store = self.server.store
        with store.lock:
            items, rv, _, _ = store.list(self.kind, self.ns, lsel, fsel)
            gone = [store.delete(self.kind, o["metadata"].get("namespace", ""),
                                 o["metadata"]["name"], dry_run=self.dry_run())
                    for o in items]
        self.send_json(200, {"kind": self.kind.kind + "List",
                             "apiVersion": self.kind.api_version(self.version),
                             "metadata": {"resourceVersion": rv}, "items": gone})

    # ------------------------------------------------------------ watch

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def event(self, etype, obj):
        if self.wants_table() and etype != "ERROR":
            obj = table.render(self.kind, [obj], None, self.q,
                               header=not self.sent_header)
            self.sent_header = True
        self.chunk(json.dumps({"type": etype, "object": obj}).encode() + b"\n")

    def watch(self):
        lsel, fsel = self.selectors()
        store = self.server.store
        rv = self.q.get("resourceVersion", "")
        initial = truthy(self.q.get("sendInitialEvents"))
        bookmarks = truthy(self.q.get("allowWatchBookmarks"))
        try:
            timeout = float(self.q.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        except ValueError:
            raise bad_request("timeoutSeconds must be a number")
        w, gone = store.open_watch(self.kind, self.ns, lsel, fsel, rv, initial)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self._log(200)
        self.sent_header = False
        deadline = time.monotonic() + timeout
        interval = self.server.opts.bookmark_interval
        next_bookmark = time.monotonic() + interval
        abrupt = False
        try:
            if gone is not None:
                self.event("ERROR", gone.status())
                return
            while True:
                now = time.monotonic()
                left = deadline - now
                if left <= 0:
                    break
                # Wake at least twice a second to notice a client that went
                # away (a watch with no traffic would otherwise linger).
                wait = min(left, 0.5)
                if bookmarks:
                    wait = max(0.01, min(wait, next_bookmark - now))
                try:
                    etype, obj = w.q.get(timeout=wait)
                except queue.Empty:
                    if self.client_gone():
                        abrupt = True
                        break
                    if bookmarks and time.monotonic() >= next_bookmark:
                        brv = store.bookmark_rv(w)
                        if brv:
                            self.bookmark(brv)
                        next_bookmark = time.monotonic() + interval
                    continue
                if etype == "DROP":
                    break
                if etype == "DROP-ABRUPT":
                    abrupt = True
                    break
                if etype == "INITIAL-END":
                    self.bookmark(obj, {"k8s.io/initial-events-end": "true"})
                    continue
                self.event(etype, obj)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            abrupt = True
        finally:
            store.close_watch(w)
            self.close_connection = True
            if abrupt:
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            else:
                try:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:
                    pass

    def client_gone(self):
        """True once the client closed its end: during a watch it sends
        nothing, so a readable socket whose raw peek gives EOF is closed."""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            return socket.socket.recv(self.connection, 1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def bookmark(self, rv, annotations=None):
        meta = {"resourceVersion": rv}
        if annotations:
            meta["annotations"] = annotations
        obj = {"kind": self.kind.kind, "apiVersion": self.kind.api_version(
            self.version), "metadata": meta}
        self.chunk(json.dumps({"type": "BOOKMARK", "object": obj}).encode() + b"\n")

    # ------------------------------------------------------------ /_test/

    def test_endpoint(self, parts, raw):
        store = self.server.store
        what = parts[0] if parts else ""
        m = self.command
        if what == "compact" and m == "POST":
            return self.send_json(200, {"compactedResourceVersion":
                                        str(store.compact())})
        if what == "drop-watches" and m == "POST":
            n = store.drop_watches(truthy(self.q.get("abrupt")))
            return self.send_json(200, {"dropped": n})
        if what == "reset" and m == "POST":
            with self.server.meta_lock:
                self.server.injections.clear()
                self.server.requests.clear()
            return self.send_json(200, {"dropped": store.reset()})
        if what == "dump" and m == "GET":
            return self.send_json(200, store.dump())
        if what == "requests" and m == "GET":
            with self.server.meta_lock:
                out = list(self.server.requests)
                if truthy(self.q.get("clear")):
                    self.server.requests.clear()
            return self.send_json(200, {"items": out})
        if what == "inject" and m == "POST":
            inj = self.json_body(raw)
            if not isinstance(inj, dict) or ("code" not in inj and "hold" not in inj):
                raise bad_request("inject needs a JSON object with at least code or hold")
            inj.setdefault("count", 1)
            with self.server.meta_lock:
                self.server.injections.append(inj)
            return self.send_json(200, inj)
        if what == "inject" and m == "GET":
            with self.server.meta_lock:
                items = [dict(i) for i in self.server.injections]
            return self.send_json(200, {"items": items})
        raise ApiError(404, "NotFound", "unknown test endpoint")


# ---------------------------------------------------------------- start-up

def load_documents(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".json"):
        docs = [json.loads(data)]
    else:
        try:
            import yaml
        except ImportError:
            sys.exit("kubeapi: --load %s needs PyYAML (Debian python3-yaml); "
                     "or pass JSON" % path)
        docs = list(yaml.safe_load_all(data))
    out = []
    for d in docs:
        if not d:
            continue
        if d.get("kind", "").endswith("List") and "items" in d:
            out.extend(d["items"])
        else:
            out.append(d)
    return out


def preload(server, paths):
    docs = []
    for p in paths:
        docs.extend(load_documents(p))
    rank = {"Namespace": 0, "CustomResourceDefinition": 1}
    docs.sort(key=lambda d: rank.get(d.get("kind"), 2))
    for d in docs:
        kind = server.cat.by_kind(d.get("apiVersion", ""), d.get("kind", ""))
        if kind is None:
            sys.exit("kubeapi: --load: no served kind %s %s"
                     % (d.get("apiVersion"), d.get("kind")))
        ns = (d.get("metadata") or {}).get("namespace", "default") \
            if kind.namespaced else ""
        try:
            server.store.create(kind, ns, d)
        except ApiError as e:
            sys.exit("kubeapi: --load: %s" % e.message)


def main():
    ap = argparse.ArgumentParser(description="Kubernetes API-server double")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--token")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--state")
    ap.add_argument("--load", nargs="+", action="extend", default=[])
    ap.add_argument("--bookmark-interval", type=float, default=2.0)
    opts = ap.parse_args()
    if bool(opts.tls_cert) != bool(opts.tls_key):
        ap.error("--tls-cert and --tls-key go together")

    server = Server((opts.host, opts.port), opts)
    scheme = "http"
    if opts.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
        # The handshake runs on the handler thread's first read, so a slow
        # client cannot stall accept().
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
        scheme = "https"
    preload(server, opts.load)

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    print("kubeapi ready on %s://%s:%d" % (scheme, host, port), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
