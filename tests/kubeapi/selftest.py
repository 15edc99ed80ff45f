#!/usr/bin/env python3
"""TAP self-test of the API-server double's internals (no HTTP): selector
parsing and matching, the three patch flavours, the store's resourceVersion,
conflict, finalizer and watch semantics, CRD schema enforcement (pruning,
types, enums, required, preserve-unknown-fields), the status subresource and
ownerReference garbage collection. Uses cairn's own CRDs (daemonset/crds/)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kinds import Catalogue  # noqa: E402
from objutil import (ApiError, json_patch, labels_match, merge_patch,  # noqa: E402
                     parse_field_selector, parse_label_selector, fields_match,
                     strategic_merge_patch)
from store import Store  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CRDS = os.path.join(HERE, "..", "..", "daemonset", "crds")


def load_crd(st, name):
    import yaml
    with open(os.path.join(CRDS, name + ".yaml")) as f:
        crd = yaml.safe_load(f)
    st.create(st.cat.get("apiextensions.k8s.io", "v1", "customresourcedefinitions"), "",
              crd)

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
st = Store(cat)
load_crd(st, "podvolumebackups")
load_crd(st, "backups")
pvb = cat.get("cairn.dev", "v1alpha1", "podvolumebackups")
bk = cat.get("cairn.dev", "v1alpha1", "backups")
check("no velero.io kind is built in", cat.get("velero.io", "v1", "podvolumebackups") is None)
pods = cat.get("", "v1", "pods")
obj = {"metadata": {"name": "x", "namespace": "cairn"}, "spec": {"node": "n1"}}
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
SPEC = {"node": "n1", "volume": "v", "pod": {"namespace": "a", "name": "p", "uid": "u"}}
AV = {"apiVersion": "cairn.dev/v1alpha1", "kind": "PodVolumeBackup"}
rv0 = st.rv
o = st.create(pvb, "cairn", dict(AV, metadata={"name": "p1"}, spec=dict(SPEC),
                                  status={"phase": "Completed"}))
check("create sets uid, generation 1 and the next resourceVersion",
      o["metadata"]["uid"] and o["metadata"]["generation"] == 1 and
      o["metadata"]["resourceVersion"] == str(rv0 + 1))
check("create drops status when the kind has a status subresource", "status" not in o)
check("create in a missing namespace is a 404",
      raises(lambda: st.create(pvb, "nope", dict(AV, metadata={"name": "a"}, spec=SPEC)), 404))
check("create twice is a 409",
      raises(lambda: st.create(pvb, "cairn", dict(AV, metadata={"name": "p1"}, spec=SPEC)), 409))
g = st.create(pvb, "cairn", dict(AV, metadata={"generateName": "pvb-"}, spec=SPEC))
check("generateName appends 5 characters", len(g["metadata"]["name"]) == 9)
stale = dict(o)
o2 = st.update(pvb, "cairn", "p1", dict(o, status={"phase": "InProgress"}),
               subresource="status")
check("status change through /status leaves generation alone",
      o2["status"]["phase"] == "InProgress" and o2["metadata"]["generation"] == 1)
check("update with a stale resourceVersion is a 409",
      raises(lambda: st.update(pvb, "cairn", "p1", stale), 409))
same = st.update(pvb, "cairn", "p1", o2)
check("a no-op update keeps the resourceVersion",
      same["metadata"]["resourceVersion"] == o2["metadata"]["resourceVersion"])
items, _, cont, rem = st.list(pvb, "cairn", [], [], limit=1)
items2, _, cont2, _ = st.list(pvb, "cairn", [], [], limit=1, cont=cont)
check("list pages with limit/continue", len(items) == 1 and rem == 1 and len(items2) == 1
      and cont2 is None and items[0]["metadata"]["name"] != items2[0]["metadata"]["name"])

w, err = st.open_watch(pvb, "cairn", parse_label_selector("k=v"), [], str(st.rv), False)
st.update(pvb, "cairn", "p1", merge_patch(st.get(pvb, "cairn", "p1"),
                                           {"metadata": {"labels": {"k": "v"}}}))
st.update(pvb, "cairn", "p1", merge_patch(st.get(pvb, "cairn", "p1"),
                                           {"metadata": {"labels": {"k": "w"}}}))
evs = [w.q.get_nowait()[0] for _ in range(w.q.qsize())]
check("a selected watch sees ADDED when an object enters the selection and DELETED "
      "when it leaves (%s)" % evs, evs == ["ADDED", "DELETED"])
st.close_watch(w)

cur = st.get(pvb, "cairn", "p1")
cur["metadata"]["finalizers"] = ["f/x"]
cur = st.update(pvb, "cairn", "p1", cur)
d = st.delete(pvb, "cairn", "p1")
check("delete with a finalizer sets deletionTimestamp", d["metadata"].get("deletionTimestamp"))
d["metadata"]["finalizers"] = []
st.update(pvb, "cairn", "p1", d)
check("removing the last finalizer deletes", raises(lambda: st.get(pvb, "cairn", "p1"), 404))

# --- schema enforcement
def err_of(fn):
    try:
        fn()
    except ApiError as e:
        return e
    return None


e = err_of(lambda: st.create(pvb, "cairn", dict(AV, metadata={"name": "bad"},
                                                 spec={"node": 3, "pod": {}})))
check("schema: wrong type, missing required fields give one 422 naming each (%s)"
      % (e and e.message), e and e.code == 422 and "spec.node: Invalid value" in e.message
      and "spec.volume: Required value" in e.message and "spec.pod.uid: Required value"
      in e.message and e.message.startswith('PodVolumeBackup.cairn.dev "bad" is invalid'))
o = st.create(pvb, "cairn", dict(AV, metadata={"name": "pr"},
                                  spec=dict(SPEC, unknown=1, tags={"a": "b"})))
check("schema: unknown fields are pruned, additionalProperties kept",
      "unknown" not in o["spec"] and o["spec"]["tags"] == {"a": "b"})
e = err_of(lambda: st.update(pvb, "cairn", "pr", dict(o, status={"phase": "Prepared"}),
                             subresource="status"))
check("schema: a value outside the enum is 422 Unsupported value (%s)" % (e and e.message),
      e and e.code == 422 and 'status.phase: Unsupported value: "Prepared"' in e.message)
o3 = st.update(pvb, "cairn", "pr", dict(o, status={"phase": "Completed",
                                                     "incrementalBytes": 5, "junk": 1}),
               subresource="status")
check("schema: /status keeps known status fields and prunes unknown ones",
      o3["status"] == {"phase": "Completed", "incrementalBytes": 5})
o4 = st.update(pvb, "cairn", "pr", dict(o3, spec=dict(SPEC, node="n2"),
                                         status={"phase": "Failed"}))
check("status subresource: the main resource ignores status changes, takes spec",
      o4["status"]["phase"] == "Completed" and o4["spec"]["node"] == "n2")
o5 = st.update(pvb, "cairn", "pr", dict(o4, spec=dict(SPEC, node="n3")),
               subresource="status")
check("status subresource: /status ignores spec changes", o5["spec"]["node"] == "n2")
b = st.create(bk, "cairn", {"apiVersion": "cairn.dev/v1alpha1", "kind": "Backup",
                             "metadata": {"name": "b"},
                             "spec": {"hooks": {"resources": [{"x": 1}]}, "ttl": "1h"}})
check("schema: x-kubernetes-preserve-unknown-fields keeps what it holds",
      b["spec"]["hooks"] == {"resources": [{"x": 1}]})
e = err_of(lambda: st.create(bk, "cairn", {"apiVersion": "cairn.dev/v1alpha1",
                                            "kind": "Backup", "metadata": {"name": "b2"},
                                            "spec": {"ttl": None, "includedNamespaces": "x"}}))
check("schema: null of a non-nullable field is dropped, a string is no array (%s)"
      % (e and e.message), e and "spec.includedNamespaces: Invalid value" in e.message
      and "ttl" not in e.message)


# --- garbage collection
def owned(name, owner, block=False):
    ref = {"apiVersion": "cairn.dev/v1alpha1", "kind": "Backup",
           "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
           "controller": True}
    if block:
        ref["blockOwnerDeletion"] = True
    return st.create(pvb, "cairn", dict(AV, metadata={"name": name, "ownerReferences": [ref]},
                                         spec=SPEC))


def exists(kind, name):
    return not raises(lambda: st.get(kind, "cairn", name), 404)


owned("gc1", b)
st.delete(bk, "cairn", "b")
check("GC background: deleting the owner deletes its dependents", not exists(pvb, "gc1"))
b = st.create(bk, "cairn", {"apiVersion": "cairn.dev/v1alpha1", "kind": "Backup",
                             "metadata": {"name": "b"}, "spec": {}})
d = owned("gc2", b, block=True)
d["metadata"]["finalizers"] = ["cairn.dev/pod-volume-finalizer"]
st.update(pvb, "cairn", "gc2", d)
out = st.delete(bk, "cairn", "b", propagation="Foreground")
check("GC foreground: the owner waits with foregroundDeletion while a blocking "
      "dependent has a finalizer", exists(bk, "b") and
      "foregroundDeletion" in out["metadata"]["finalizers"] and
      st.get(pvb, "cairn", "gc2")["metadata"].get("deletionTimestamp"))
d = st.get(pvb, "cairn", "gc2")
d["metadata"]["finalizers"] = []
st.update(pvb, "cairn", "gc2", d)
check("GC foreground: the owner goes once the dependent is gone",
      not exists(pvb, "gc2") and not exists(bk, "b"))
b = st.create(bk, "cairn", {"apiVersion": "cairn.dev/v1alpha1", "kind": "Backup",
                             "metadata": {"name": "b"}, "spec": {}})
owned("gc3", b)
st.delete(bk, "cairn", "b", propagation="Orphan")
check("GC orphan: dependents stay, without the ownerReference",
      exists(pvb, "gc3") and
      not st.get(pvb, "cairn", "gc3")["metadata"].get("ownerReferences"))

old = st.rv - 1
st.compact()
w, err = st.open_watch(pvb, "cairn", [], [], str(old), False)
check("a watch from before the compaction gets 410", w is None and err.code == 410)
w, err = st.open_watch(pvb, "cairn", [], [], str(st.rv), False)
check("a watch from now after compaction is accepted", err is None)
st.close_watch(w)

print("1..%d" % len(results))
for i, (good, desc) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if good else "not ok", i, desc))
