"""Server-side printing (meta.k8s.io/v1 Table), which `kubectl get` asks for
with `Accept: application/json;as=Table;...`. Columns follow the real server
for the kinds cairn cares about and a CRD's additionalPrinterColumns."""

import datetime


def _age(ts):
    if not ts:
        return "<unknown>"
    try:
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        return ts
    s = int((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())
    s = max(s, 0)
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = m // 60
    if h < 48:
        return "%dh" % h
    return "%dd" % (h // 24)


def _path(obj, path):
    cur = obj
    for p in path.lstrip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def _pod_cells(o):
    st = o.get("status") or {}
    cs = st.get("containerStatuses") or []
    total = len((o.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in cs)
    phase = st.get("phase", "Pending")
    if (o.get("metadata") or {}).get("deletionTimestamp"):
        phase = "Terminating"
    return ["%d/%d" % (ready, total), phase, restarts]


def _columns(kind):
    """[(name, type, priority, getter)] between Name and Age."""
    if kind.plural == "pods":
        f = _pod_cells
        return [("Ready", "string", 0, lambda o: f(o)[0]),
                ("Status", "string", 0, lambda o: f(o)[1]),
                ("Restarts", "integer", 0, lambda o: f(o)[2]),
                ("Node", "string", 1, lambda o: _path(o, "spec.nodeName") or "<none>")]
    if kind.plural == "namespaces":
        return [("Status", "string", 0, lambda o: _path(o, "status.phase") or "")]
    if kind.plural == "persistentvolumeclaims":
        return [("Status", "string", 0, lambda o: _path(o, "status.phase") or ""),
                ("Volume", "string", 0, lambda o: _path(o, "spec.volumeName") or "")]
    if kind.plural == "daemonsets":
        return [("Desired", "integer", 0,
                 lambda o: _path(o, "status.desiredNumberScheduled") or 0),
                ("Ready", "integer", 0, lambda o: _path(o, "status.numberReady") or 0)]
    if kind.plural == "podvolumebackups" and not kind.columns:
        return [("Status", "string", 0, lambda o: _path(o, "status.phase") or ""),
                ("Node", "string", 0, lambda o: _path(o, "spec.node") or ""),
                ("Pod", "string", 0, lambda o: _path(o, "spec.pod.name") or ""),
                ("Volume", "string", 0, lambda o: _path(o, "spec.volume") or "")]
    out = []
    for c in kind.columns:
        if c.get("name", "").lower() == "age":
            continue
        path = c.get("jsonPath", "")
        typ = c.get("type", "string")

        def get(o, path=path, typ=typ):
            v = _path(o, path)
            if v is None:
                return None
            return _age(v) if typ == "date" else v
        out.append((c.get("name", ""), typ, int(c.get("priority", 0)), get))
    return out


def render(kind, objs, list_meta, query, header=True):
    cols = _columns(kind)
    defs = [{"name": "Name", "type": "string", "format": "name",
             "description": "Name must be unique within a namespace.",
             "priority": 0}]
    defs += [{"name": n, "type": t, "format": "", "description": n,
              "priority": p} for n, t, p, _ in cols]
    defs.append({"name": "Age", "type": "string", "format": "",
                 "description": "CreationTimestamp", "priority": 0})
    include = query.get("includeObject", "Metadata")
    rows = []
    for o in objs:
        meta = o.get("metadata") or {}
        row = {"cells": [meta.get("name", "")] + [g(o) for _, _, _, g in cols] +
               [_age(meta.get("creationTimestamp"))]}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata",
                             "apiVersion": "meta.k8s.io/v1", "metadata": meta}
        rows.append(row)
    if list_meta is None:
        # A single object (GET or a watch event) carries its own version,
        # which watch clients resume from.
        list_meta = {"resourceVersion": (objs[0].get("metadata") or {}).get(
            "resourceVersion", "")} if len(objs) == 1 else {}
    t = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
         "metadata": list_meta, "rows": rows}
    t["columnDefinitions"] = defs if header else []
    return t
