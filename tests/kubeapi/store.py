"""Object store of the API-server double: one global resourceVersion counter,
the objects, the retained event window and the open watches. Everything that
changes state holds Store.lock, so events reach watchers in resourceVersion
order."""

import base64
import collections
import copy
import datetime
import json
import os
import queue
import random
import threading
import uuid

from objutil import ApiError, labels_match, fields_match
import schema

EVENT_WINDOW = 1000
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease",
                      "cairn")
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
_GEN_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def not_found(kind, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (kind.qualified(), name),
                    {"name": name, "group": kind.group, "kind": kind.plural})


def conflict(kind, name, why):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s'
                    % (kind.qualified(), name, why),
                    {"name": name, "group": kind.group, "kind": kind.plural})


def invalid(kind, name, why):
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s'
                    % (kind.kind, name, why),
                    {"name": name, "group": kind.group, "kind": kind.kind})


def bad_request_policy(p):
    return ApiError(400, "BadRequest", 'propagationPolicy: Unsupported value: "%s": '
                    'supported values: "Foreground", "Background", "Orphan"' % p)


def schema_invalid(kind, name, errs):
    """422 with the real server's wording for CRD schema errors."""
    what = "%s.%s" % (kind.kind, kind.group) if kind.group else kind.kind
    why = errs[0] if len(errs) == 1 else "[%s]" % ", ".join(errs)
    causes = []
    for e in errs:
        field, _, msg = e.partition(": ")
        causes.append({"field": field, "message": msg,
                       "reason": "FieldValueRequired" if msg == "Required value"
                       else "FieldValueNotSupported" if msg.startswith("Unsupported")
                       else "FieldValueInvalid"})
    err = ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (what, name, why),
                   {"name": name, "group": kind.group, "kind": kind.kind,
                    "causes": causes})
    return err


def check_schema(kind, obj):
    """Prune obj in place against its version's schema; 422 when invalid."""
    version = (obj.get("apiVersion") or "").rpartition("/")[2]
    sch = kind.schemas.get(version) if kind.schemas else None
    if sch is None:
        return
    errs = schema.check(sch, obj)
    if errs:
        raise schema_invalid(kind, (obj.get("metadata") or {}).get("name", ""), errs)


STALE = ("the object has been modified; please apply your changes to the "
         "latest version and try again")


class Watcher:
    """One open watch: what it selects and the queue its handler drains."""

    def __init__(self, kind, namespace, lsel, fsel):
        self.kind = kind
        self.namespace = namespace
        self.lsel = lsel
        self.fsel = fsel
        self.q = queue.Queue()

    def matches(self, obj):
        if obj is None:
            return False
        meta = obj.get("metadata", {})
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        return labels_match(self.lsel, meta.get("labels")) and \
            fields_match(self.fsel, obj)

    def translate(self, etype, obj, old):
        """Map a store event to what this watch sees: an object leaving the
        selection is DELETED for it, one entering it is ADDED."""
        new_in = etype != "DELETED" and self.matches(obj)
        old_in = self.matches(old if etype != "DELETED" else obj)
        if etype == "ADDED":
            return "ADDED" if new_in else None
        if etype == "DELETED":
            return "DELETED" if old_in else None
        if new_in and old_in:
            return "MODIFIED"
        if new_in:
            return "ADDED"
        if old_in:
            return "DELETED"
        return None

    def offer(self, etype, obj, old):
        t = self.translate(etype, obj, old)
        if t:
            self.q.put((t, obj))


class Store:
    def __init__(self, catalogue, state_file=None):
        self.cat = catalogue
        self.lock = threading.RLock()
        self.rv = 0
        self.objects = {}            # (group, plural, ns, name) -> object
        self.events = collections.deque()   # (rv, kind key, type, obj, old)
        self.compacted = 0           # events with rv <= compacted are gone
        self.watchers = set()
        self.state_file = state_file
        if state_file and os.path.exists(state_file):
            self._load_state()
        else:
            for ns in DEFAULT_NAMESPACES:
                self._put_new(self.cat.get("", "v1", "namespaces"),
                              {"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": ns}}, None)

    # ------------------------------------------------------------ persistence

    def _load_state(self):
        with open(self.state_file) as f:
            st = json.load(f)
        self.rv = int(st["resourceVersion"])
        self.compacted = self.rv
        for obj in st["items"]:
            kind = self.cat.by_kind(obj["apiVersion"], obj["kind"])
            if kind is None and obj["kind"] != "CustomResourceDefinition":
                continue
            if obj["kind"] == "CustomResourceDefinition":
                kind = self.cat.get("apiextensions.k8s.io", "v1",
                                    "customresourcedefinitions")
                self.cat.register_crd(obj)
            m = obj["metadata"]
            self.objects[(kind.group, kind.plural, m.get("namespace", ""),
                          m["name"])] = obj

    def _save_state(self):
        if not self.state_file:
            return
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"resourceVersion": str(self.rv),
                       "items": list(self.objects.values())}, f)
        os.replace(tmp, self.state_file)

    # ------------------------------------------------------------ events

    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    def _emit(self, kind, etype, obj, old):
        rv = int(obj["metadata"]["resourceVersion"])
        self.events.append((rv, kind.key, etype, obj, old))
        while len(self.events) > EVENT_WINDOW:
            self.compacted = self.events.popleft()[0]
        for w in list(self.watchers):
            if w.kind.key == kind.key:
                w.offer(etype, obj, old)
        self._save_state()
        if kind.plural == "customresourcedefinitions":
            if etype == "DELETED":
                self._crd_gone(obj)
            else:
                self.cat.register_crd(obj)

    def _crd_gone(self, crd):
        spec = crd.get("spec") or {}
        group = spec.get("group", "")
        plural = (spec.get("names") or {}).get("plural", "")
        kind = self.cat.get(group, (spec.get("versions") or [{}])[0].get("name", ""),
                            plural)
        if self.cat.unregister_crd(crd) and kind is not None:
            for key in [k for k in self.objects if k[:2] == (group, plural)]:
                obj = self.objects.pop(key)
                obj = copy.deepcopy(obj)
                obj["metadata"]["resourceVersion"] = self._next_rv()
                self._emit(kind, "DELETED", obj, None)

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _key(kind, ns, name):
        return (kind.group, kind.plural, ns if kind.namespaced else "", name)

    def _check_namespace(self, kind, ns):
        if not kind.namespaced:
            return
        nsobj = self.objects.get(("", "namespaces", "", ns))
        if nsobj is None:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                           {"name": ns, "kind": "namespaces"})
        if nsobj["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", '%s "%s" is forbidden: unable to create '
                           'new content in namespace %s because it is being '
                           'terminated' % (kind.qualified(), "", ns))

    def _put_new(self, kind, obj, ns):
        meta = obj.setdefault("metadata", {})
        if kind.namespaced:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds",
                  "managedFields"):
            meta.pop(k, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        meta["generation"] = 1
        meta["resourceVersion"] = self._next_rv()
        if kind.plural == "namespaces":
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        if kind.plural == "customresourcedefinitions":
            self._crd_status(obj)
        if kind.plural == "secrets":
            self._secret_defaults(obj)
        self.objects[self._key(kind, ns, meta["name"])] = obj
        self._emit(kind, "ADDED", obj, None)
        return obj

    @staticmethod
    def _secret_defaults(obj):
        """The only defaulting the double does, because clients rely on it:
        a Secret's type is Opaque unless given, and the write-only stringData
        is folded into data (base64)."""
        if not obj.get("type"):
            obj["type"] = "Opaque"
        for k, v in (obj.pop("stringData", None) or {}).items():
            obj.setdefault("data", {})[k] = base64.b64encode(str(v).encode()).decode()

    @staticmethod
    def _crd_status(crd):
        spec = crd.get("spec") or {}
        names = dict(spec.get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", names.get("kind", "") + "List")
        t = now()
        crd["status"] = {
            "acceptedNames": names,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": t},
                {"type": "Established", "status": "True",
                 "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted",
                 "lastTransitionTime": t}],
            "storedVersions": [v["name"] for v in spec.get("versions") or []
                               if v.get("storage")]}

    # ------------------------------------------------------------ verbs

    def get(self, kind, ns, name):
        with self.lock:
            obj = self.objects.get(self._key(kind, ns, name))
            if obj is None:
                raise not_found(kind, name)
            return copy.deepcopy(obj)

    def list(self, kind, ns, lsel, fsel, limit=0, cont=None):
        """Items in key order; returns (items, rv, continue, remaining)."""
        with self.lock:
            start, list_rv = "", str(self.rv)
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont.encode()))
                    start, list_rv = tok["start"], tok["rv"]
                except (ValueError, KeyError, TypeError):
                    raise ApiError(400, "BadRequest", "continue key is not valid")
                if int(list_rv) < self.compacted:
                    raise ApiError(410, "Expired",
                                   "The provided continue parameter is too old to "
                                   "display a consistent list result. You can start "
                                   "a new list without the continue parameter.")
            items = []
            for key in sorted(k for k in self.objects if k[:2] == kind.key):
                if ns and key[2] != ns:
                    continue
                pos = "%s/%s" % (key[2], key[3])
                if cont and pos <= start:
                    continue
                obj = self.objects[key]
                if labels_match(lsel, obj["metadata"].get("labels")) and \
                        fields_match(fsel, obj):
                    items.append((pos, obj))
            nxt, remaining = None, None
            if limit and len(items) > limit:
                remaining = len(items) - limit
                items = items[:limit]
                nxt = base64.urlsafe_b64encode(json.dumps(
                    {"rv": list_rv, "start": items[-1][0]}).encode()).decode()
            return [copy.deepcopy(o) for _, o in items], list_rv, nxt, remaining

    def create(self, kind, ns, obj, dry_run=False):
        with self.lock:
            meta = obj.setdefault("metadata", {})
            name = meta.get("name")
            if not name:
                gen = meta.get("generateName")
                if not gen:
                    raise invalid(kind, "", "metadata.name: Required value: name or "
                                  "generateName is required")
                for _ in range(100):
                    name = gen + "".join(random.choice(_GEN_CHARS) for _ in range(5))
                    if self._key(kind, ns, name) not in self.objects:
                        break
                meta["name"] = name
            self._check_namespace(kind, ns)
            if kind.custom and kind.status:
                obj.pop("status", None)  # create cannot set status
            check_schema(kind, obj)
            if self._key(kind, ns, name) in self.objects:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists'
                               % (kind.qualified(), name),
                               {"name": name, "group": kind.group,
                                "kind": kind.plural})
            if dry_run:
                obj = copy.deepcopy(obj)
                meta = obj["metadata"]
                meta["uid"] = str(uuid.uuid4())
                meta["creationTimestamp"] = now()
                meta["generation"] = 1
                if kind.namespaced:
                    meta["namespace"] = ns
                return obj
            return copy.deepcopy(self._put_new(kind, obj, ns))

    def update(self, kind, ns, name, new, subresource=None, require_rv=None,
               dry_run=False):
        """Whole-object replace (PUT) and the second half of PATCH.

        subresource "status": only .status is taken from `new`. For a kind with
        a status subresource, a main-resource update keeps the stored status.
        """
        with self.lock:
            key = self._key(kind, ns, name)
            cur = self.objects.get(key)
            if cur is None:
                raise not_found(kind, name)
            nmeta = new.setdefault("metadata", {})
            if nmeta.get("name", name) != name:
                raise ApiError(400, "BadRequest", "the name of the object (%s) does "
                               "not match the name on the URL (%s)"
                               % (nmeta.get("name"), name))
            want_rv = nmeta.get("resourceVersion")
            if require_rv and not want_rv:
                raise invalid(kind, name, "metadata.resourceVersion: Invalid value: "
                              "0x0: must be specified for an update")
            cmeta = cur["metadata"]
            if want_rv and want_rv != cmeta["resourceVersion"]:
                raise conflict(kind, name, STALE)
            if subresource == "status":
                out = copy.deepcopy(cur)
                if "status" in new:
                    out["status"] = copy.deepcopy(new["status"])
                else:
                    out.pop("status", None)
            else:
                out = copy.deepcopy(new)
                if kind.status:
                    if "status" in cur:
                        out["status"] = copy.deepcopy(cur["status"])
                    else:
                        out.pop("status", None)
                ometa = out["metadata"]
                for k in ("uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"):
                    if k in cmeta:
                        ometa[k] = cmeta[k]
                    else:
                        ometa.pop(k, None)
                ometa["name"] = name
                if kind.namespaced:
                    ometa["namespace"] = ns
                else:
                    ometa.pop("namespace", None)
                if cmeta.get("deletionTimestamp"):
                    added = set(ometa.get("finalizers") or []) - \
                        set(cmeta.get("finalizers") or [])
                    if added:
                        raise invalid(kind, name, "metadata.finalizers: Forbidden: "
                                      "no new finalizers can be added if the object "
                                      "is being deleted, found new finalizers %s"
                                      % sorted(added))
            out["apiVersion"] = cur["apiVersion"]
            out["kind"] = cur["kind"]
            if kind.plural == "secrets":
                self._secret_defaults(out)
            check_schema(kind, out)
            ometa = out["metadata"]
            if self._generation_changes(kind, cur, out):
                ometa["generation"] = int(cmeta.get("generation", 1)) + 1
            if kind.plural == "customresourcedefinitions":
                out["status"] = cur.get("status")
                self._crd_status(out)

            ometa["resourceVersion"] = cmeta["resourceVersion"]
            if out == cur:
                # A no-op write keeps the resourceVersion and emits nothing,
                # as the real server does.
                return copy.deepcopy(cur)
            if dry_run:
                return copy.deepcopy(out)
            ometa["resourceVersion"] = self._next_rv()
            if cmeta.get("deletionTimestamp") and not ometa.get("finalizers"):
                del self.objects[key]
                self._emit(kind, "DELETED", out, cur)
                self._gc()
                return copy.deepcopy(out)
            self.objects[key] = out
            self._emit(kind, "MODIFIED", out, cur)
            return copy.deepcopy(out)

    @staticmethod
    def _generation_changes(kind, old, new):
        skip = {"metadata", "status"} if kind.status else {"metadata"}
        a = {k: v for k, v in old.items() if k not in skip}
        b = {k: v for k, v in new.items() if k not in skip}
        return a != b

    def delete(self, kind, ns, name, preconditions=None, dry_run=False,
               propagation=None):
        """DELETE with ownerReference garbage collection: Background (the
        default) deletes dependents once the object is gone, Foreground keeps
        the object (finalizer foregroundDeletion) until its blocking
        dependents are gone, Orphan strips their ownerReferences. The double's
        collector runs synchronously inside the request."""
        with self.lock:
            key = self._key(kind, ns, name)
            cur = self.objects.get(key)
            if cur is None:
                raise not_found(kind, name)
            pre = preconditions or {}
            cmeta = cur["metadata"]
            if pre.get("uid") and pre["uid"] != cmeta["uid"]:
                raise conflict(kind, name, "Precondition failed: UID in precondition: "
                               "%s, UID in object meta: %s" % (pre["uid"], cmeta["uid"]))
            if pre.get("resourceVersion") and \
                    pre["resourceVersion"] != cmeta["resourceVersion"]:
                raise conflict(kind, name, "Precondition failed: ResourceVersion in "
                               "precondition: %s, ResourceVersion in object meta: %s"
                               % (pre["resourceVersion"], cmeta["resourceVersion"]))
            if propagation not in (None, "Background", "Foreground", "Orphan"):
                raise bad_request_policy(propagation)
            if dry_run:
                return copy.deepcopy(cur)
            if kind.plural == "namespaces":
                self._empty_namespace(name)
            out = self._remove(kind, key, cur, propagation)
            self._gc()
            return copy.deepcopy(out)

    def _dependents(self, uid):
        return [(k, o) for k, o in list(self.objects.items())
                if any(r.get("uid") == uid
                       for r in o["metadata"].get("ownerReferences") or [])]

    def _kind_of(self, key):
        return self.cat.kinds.get(key[:2])

    def _remove(self, kind, key, cur, propagation):
        """Delete or, with finalizers, mark for deletion; returns the object."""
        cmeta = cur["metadata"]
        fins = list(cmeta.get("finalizers") or [])
        if propagation == "Orphan":
            for dk, d in self._dependents(cmeta["uid"]):
                new = copy.deepcopy(d)
                new["metadata"]["ownerReferences"] = [
                    r for r in d["metadata"]["ownerReferences"]
                    if r.get("uid") != cmeta["uid"]]
                if not new["metadata"]["ownerReferences"]:
                    del new["metadata"]["ownerReferences"]
                new["metadata"]["resourceVersion"] = self._next_rv()
                self.objects[dk] = new
                self._emit(self._kind_of(dk), "MODIFIED", new, d)
        elif propagation == "Foreground" and FOREGROUND not in fins and \
                not cmeta.get("deletionTimestamp"):
            fins.append(FOREGROUND)
        if fins:
            if cmeta.get("deletionTimestamp") and fins == cmeta.get("finalizers"):
                return cur
            out = copy.deepcopy(cur)
            out["metadata"]["finalizers"] = fins
            out["metadata"].setdefault("deletionTimestamp", now())
            out["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            out["metadata"]["resourceVersion"] = self._next_rv()
            self.objects[key] = out
            self._emit(kind, "MODIFIED", out, cur)
            return out
        del self.objects[key]
        out = copy.deepcopy(cur)
        out["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(kind, "DELETED", out, None)
        return out

    def _gc(self):
        """The garbage collector, run to a fixed point after every removal."""
        progress = True
        while progress:
            progress = False
            uids = {o["metadata"]["uid"] for o in self.objects.values()}
            for key, o in list(self.objects.items()):
                if self.objects.get(key) is not o:
                    continue
                m = o["metadata"]
                refs = m.get("ownerReferences") or []
                if refs and not m.get("deletionTimestamp") and \
                        not any(r.get("uid") in uids for r in refs):
                    self._remove(self._kind_of(key), key, o, "Background")
                    progress = True
                    continue
                if not (m.get("deletionTimestamp") and
                        FOREGROUND in (m.get("finalizers") or [])):
                    continue
                for dk, d in self._dependents(m["uid"]):
                    if not d["metadata"].get("deletionTimestamp"):
                        self._remove(self._kind_of(dk), dk, d, "Background")
                        progress = True
                blocking = [d for _, d in self._dependents(m["uid"])
                            if any(r.get("uid") == m["uid"] and r.get("blockOwnerDeletion")
                                   for r in d["metadata"]["ownerReferences"])]
                if blocking:
                    continue
                new = copy.deepcopy(o)
                new["metadata"]["finalizers"] = [f for f in m["finalizers"]
                                                 if f != FOREGROUND]
                new["metadata"]["resourceVersion"] = self._next_rv()
                if new["metadata"]["finalizers"]:
                    self.objects[key] = new
                    self._emit(self._kind_of(key), "MODIFIED", new, o)
                else:
                    del new["metadata"]["finalizers"]
                    del self.objects[key]
                    self._emit(self._kind_of(key), "DELETED", new, o)
                progress = True

    def _empty_namespace(self, ns):
        """Deleting a namespace deletes its content at once (objects with
        finalizers are only marked, like any delete)."""
        for key in sorted(k for k in self.objects if k[2] == ns and k[1] != "namespaces"):
            obj = self.objects[key]
            kind = self.cat.by_kind(obj["apiVersion"], obj["kind"])
            if kind is not None:
                self.delete(kind, ns, key[3])

    # ------------------------------------------------------------ watches

    def open_watch(self, kind, ns, lsel, fsel, rv, initial):
        """Register a watch; returns (watcher, backlog or an ApiError 410).

        rv "" or "0": the current state as ADDED events, then live events.
        rv N: retained events after N, then live; 410 if N is compacted away.
        """
        with self.lock:
            w = Watcher(kind, ns, lsel, fsel)
            backlog = []
            if rv in ("", "0") or initial:
                for key in sorted(k for k in self.objects if k[:2] == kind.key):
                    obj = self.objects[key]
                    if w.matches(obj):
                        backlog.append(("ADDED", copy.deepcopy(obj)))
            else:
                try:
                    n = int(rv)
                except ValueError:
                    raise ApiError(400, "BadRequest", "invalid resource version %r" % rv)
                if n < self.compacted:
                    return None, ApiError(410, "Expired", "too old resource version: "
                                          "%d (%d)" % (n, self.compacted))
                for erv, ekey, etype, obj, old in self.events:
                    if erv > n and ekey == kind.key:
                        t = w.translate(etype, obj, old)
                        if t:
                            backlog.append((t, obj))
            for item in backlog:
                w.q.put(item)
            if initial:
                w.q.put(("INITIAL-END", str(self.rv)))
            self.watchers.add(w)
            return w, None

    def close_watch(self, w):
        with self.lock:
            self.watchers.discard(w)

    def bookmark_rv(self, w):
        """The resourceVersion a bookmark may carry: the current one, if
        every event for this watch has been taken off its queue."""
        with self.lock:
            return str(self.rv) if w.q.empty() else None

    # ------------------------------------------------------------ test knobs

    def compact(self):
        with self.lock:
            self.events.clear()
            self.compacted = self.rv
            return self.rv

    def drop_watches(self, abrupt=False):
        with self.lock:
            ws = list(self.watchers)
            self.watchers.clear()
        for w in ws:
            w.q.put(("DROP-ABRUPT" if abrupt else "DROP", None))
        return len(ws)

    def reset(self):
        n = self.drop_watches()
        with self.lock:
            self.objects.clear()
            self.events.clear()
            self.compacted = self.rv
            with self.cat.lock:
                self.cat.kinds = dict(self.cat.defaults)
            for ns in DEFAULT_NAMESPACES:
                self._put_new(self.cat.get("", "v1", "namespaces"),
                              {"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": ns}}, None)
            self.compacted = self.rv
        return n

    def dump(self):
        with self.lock:
            return {"resourceVersion": str(self.rv),
                    "compactedResourceVersion": str(self.compacted),
                    "watches": len(self.watchers),
                    "items": [copy.deepcopy(self.objects[k])
                              for k in sorted(self.objects)]}
