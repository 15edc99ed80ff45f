#!/usr/bin/env python3
"""TAP self-test of the API-server double's internals (no HTTP): selector
parsing and matching, the three patch flavours, the store's resourceVersion,
conflict, finalizer and watch semantics."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kinds import Catalogue  # noqa: E402
from objutil import (ApiError, json_patch, labels_match, merge_patch,  # noqa: E402
                     parse_field_selector, parse_label_selector, fields_match,
                     strategic_merge_patch)
from store import Store  # noqa: E402

results = []


def check(desc, cond):
    results.append((bool(cond), desc))


def raises(fn, code):
    try:
        fn()
    except ApiError as e:
        return e.code == code
    return False


# --- label selectors
L = {"app": "web", "tier": "gold", "n": "7"}
cases = [("app=web", True), ("app==web", True), ("app!=web", False), ("app!=db", True),
         ("tier in (gold, silver)", True), ("tier notin (gold)", False),
         ("tier,app=web", True), ("!tier", False), ("!missing", True), ("missing", False),
         ("missing!=x", True), ("n>5", True), ("n<5", False),
         ("app in (web),tier notin (x,y)", True), ("", True)]
for sel, want in cases:
    check("label selector %r on %s is %s" % (sel, L, want),
          labels_match(parse_label_selector(sel), L) == want)
check("malformed label selector is a 400", raises(lambda: parse_label_selector("a b c"), 400))
check("label value with a space is a 400", raises(lambda: parse_label_selector("a=b c"), 400))

# --- field selectors
cat = Catalogue()
pvb = cat.get("velero.io", "v1", "podvolumebackups")
pods = cat.get("", "v1", "pods")
obj = {"metadata": {"name": "x", "namespace": "velero"}, "spec": {"node": "n1"}}
check("field selector spec.node=n1 matches",
      fields_match(parse_field_selector("spec.node=n1", pvb), obj))
check("field selector spec.node!=n1,metadata.name=x does not match",
      not fields_match(parse_field_selector("spec.node!=n1,metadata.name=x", pvb), obj))
check("field selector on an unindexed CRD field is a 400",
      raises(lambda: parse_field_selector("spec.volume=a", pvb), 400))
check("pods index spec.nodeName", parse_field_selector("spec.nodeName=a", pods))

# --- patches
doc = {"a": 1, "b": {"c": 2, "d": [1, 2]}, "e": "x"}
check("merge patch: null deletes, maps merge, lists replace",
      merge_patch(doc, {"a": None, "b": {"d": [3]}, "f": 1}) ==
      {"b": {"c": 2, "d": [3]}, "e": "x", "f": 1})
check("merge patch leaves its input alone", doc["a"] == 1)
pod = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]},
       "metadata": {"finalizers": ["x"]}}
out = strategic_merge_patch(pod, {
    "spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
             "containers": [{"name": "b", "image": "2"}]},
    "metadata": {"finalizers": ["y"]}})
check("strategic merge patch merges containers by name",
      out["spec"]["containers"] == [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}])
check("strategic merge patch unions finalizers", out["metadata"]["finalizers"] == ["x", "y"])
out = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}})
check("strategic merge patch $patch: delete removes a list element",
      [c["name"] for c in out["spec"]["containers"]] == ["b"])
check("json patch add/replace/remove",
      json_patch(doc, [{"op": "add", "path": "/b/d/-", "value": 9},
                       {"op": "replace", "path": "/e", "value": "y"},
                       {"op": "remove", "path": "/a"}]) ==
      {"b": {"c": 2, "d": [1, 2, 9]}, "e": "y"})
check("json patch failing test is a 422",
      raises(lambda: json_patch(doc, [{"op": "test", "path": "/a", "value": 2}]), 422))

# --- store
st = Store(cat)
rv0 = st.rv
o = st.create(pvb, "velero", {"apiVersion": "velero.io/v1", "kind": "PodVolumeBackup",
                              "metadata": {"name": "p1"}, "spec": {"node": "n1"}})
check("create sets uid, generation 1 and the next resourceVersion",
      o["metadata"]["uid"] and o["metadata"]["generation"] == 1 and
      o["metadata"]["resourceVersion"] == str(rv0 + 1))
check("create in a missing namespace is a 404",
      raises(lambda: st.create(pvb, "nope", {"metadata": {"name": "a"}}), 404))
check("create twice is a 409", raises(lambda: st.create(pvb, "velero", {"metadata": {"name": "p1"}}), 409))
g = st.create(pvb, "velero", {"metadata": {"generateName": "pvb-"}})
check("generateName appends 5 characters", len(g["metadata"]["name"]) == 9)
stale = dict(o)
o2 = st.update(pvb, "velero", "p1", dict(o, status={"phase": "InProgress"}))
check("status change through the main resource (no status subresource) bumps generation",
      o2["status"]["phase"] == "InProgress" and o2["metadata"]["generation"] == 2)
check("update with a stale resourceVersion is a 409",
      raises(lambda: st.update(pvb, "velero", "p1", stale), 409))
same = st.update(pvb, "velero", "p1", o2)
check("a no-op update keeps the resourceVersion",
      same["metadata"]["resourceVersion"] == o2["metadata"]["resourceVersion"])
items, _, cont, rem = st.list(pvb, "velero", [], [], limit=1)
items2, _, cont2, _ = st.list(pvb, "velero", [], [], limit=1, cont=cont)
check("list pages with limit/continue", len(items) == 1 and rem == 1 and len(items2) == 1
      and cont2 is None and items[0]["metadata"]["name"] != items2[0]["metadata"]["name"])

w, err = st.open_watch(pvb, "velero", parse_label_selector("k=v"), [], str(st.rv), False)
st.update(pvb, "velero", "p1", merge_patch(st.get(pvb, "velero", "p1"),
                                           {"metadata": {"labels": {"k": "v"}}}))
st.update(pvb, "velero", "p1", merge_patch(st.get(pvb, "velero", "p1"),
                                           {"metadata": {"labels": {"k": "w"}}}))
evs = [w.q.get_nowait()[0] for _ in range(w.q.qsize())]
check("a selected watch sees ADDED when an object enters the selection and DELETED "
      "when it leaves (%s)" % evs, evs == ["ADDED", "DELETED"])
st.close_watch(w)

cur = st.get(pvb, "velero", "p1")
cur["metadata"]["finalizers"] = ["f/x"]
cur = st.update(pvb, "velero", "p1", cur)
d = st.delete(pvb, "velero", "p1")
check("delete with a finalizer sets deletionTimestamp", d["metadata"].get("deletionTimestamp"))
d["metadata"]["finalizers"] = []
st.update(pvb, "velero", "p1", d)
check("removing the last finalizer deletes", raises(lambda: st.get(pvb, "velero", "p1"), 404))

old = st.rv - 1
st.compact()
w, err = st.open_watch(pvb, "velero", [], [], str(old), False)
check("a watch from before the compaction gets 410", w is None and err.code == 410)
w, err = st.open_watch(pvb, "velero", [], [], str(st.rv), False)
check("a watch from now after compaction is accepted", err is None)
st.close_watch(w)

print("1..%d" % len(results))
for i, (good, desc) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if good else "not ok", i, desc))
