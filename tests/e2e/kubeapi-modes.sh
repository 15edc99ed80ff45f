#!/bin/bash
# The API-server double's start-up modes and test knobs, over curl: plain
# http with a token, --load, --state across a restart, SIGTERM, fault
# injection, the request log, abrupt watch drops, sendInitialEvents,
# cluster-scoped kinds, deletecollection, CRD-defined kinds. Prints TAP.
set -u
. "$(dirname "$0")/kubeapi-lib.sh"
t_on_exit ka_cleanup
W=$KA_DIR/work
mkdir -p "$W"
python3 -c 'import yaml' 2>/dev/null || { echo "Bail out! python3-yaml missing (tests/kubeapi/deps.sh)"; exit 1; }

cat >"$W/seed.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: app}
spec: {volumeName: pv-1}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-1}
spec: {csi: {driver: x, volumeHandle: h}}
EOF
export KUBEAPI_TLS=0
ka_start --load "$W/seed.yaml" --state "$W/state.json" --bookmark-interval 0.5
t_cmd "KUBEAPI_TLS=0: plain http URL" grep -q '^http://127.0.0.1:' "$KA_DIR/url"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$KA_URL/version")
t_cmd "plain http still requires the token (401 without)" test "$code" = 401
pv=$(kcurl /api/v1/namespaces/app/persistentvolumeclaims/data | jq_py 'd["spec"]["volumeName"]')
csi=$(kcurl /api/v1/persistentvolumes/pv-1 | jq_py 'd["spec"]["csi"]["driver"]')
t_cmd "--load created a namespace, a namespaced and a cluster-scoped object ($pv $csi)" test "$pv $csi" = "pv-1 x"
code=$(kcurl /api/v1/namespaces/app/persistentvolumes/pv-1 -o /dev/null -w '%{http_code}')
t_cmd "a cluster-scoped kind under a namespace path is 404" test "$code" = 404

# --- state across a restart ---------------------------------------------------
kcurl /api/v1/namespaces/app/configmaps -X POST -H 'Content-Type: application/json' \
	-d '{"metadata":{"name":"keep"},"data":{"k":"v"}}' >"$W/cm.json"
uid=$(jq_py 'd["metadata"]["uid"]' <"$W/cm.json")
rv=$(jq_py 'd["metadata"]["resourceVersion"]' <"$W/cm.json")
pid=$(cat "$KA_DIR/pid")
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
t_cmd "SIGTERM stops it" bash -c '! kill -0 "$1" 2>/dev/null' _ "$pid"
ka_start --state "$W/state.json" --bookmark-interval 0.5
got=$(kcurl /api/v1/namespaces/app/configmaps/keep | jq_py '[d["metadata"]["uid"], d["metadata"]["resourceVersion"]]')
t_cmd "--state: objects survive a restart with uid and resourceVersion" test "$got" = "[\"$uid\", \"$rv\"]"
nrv=$(kcurl /api/v1/namespaces/app/configmaps -X POST -H 'Content-Type: application/json' \
	-d '{"metadata":{"name":"new"}}' | jq_py 'int(d["metadata"]["resourceVersion"])')
t_cmd "--state: the resourceVersion counter continues ($nrv > $rv)" test "$nrv" -gt "$rv"
kcurl "/api/v1/namespaces/app/configmaps?watch=1&resourceVersion=$((rv - 1))" --max-time 5 >"$W/gone.json"
t_cmd "--state: a watch from before the restart gets 410" grep -q '"code": 410' "$W/gone.json"

# --- fault injection, request log ---------------------------------------------
kcurl /_test/requests?clear=1 >/dev/null
kcurl /_test/inject -X POST -d '{"method":"PUT","path":"/configmaps/keep$","code":409,"reason":"Conflict","count":1}' >/dev/null
kcurl /api/v1/namespaces/app/configmaps/keep >"$W/keep.json"
c1=$(kcurl /api/v1/namespaces/app/configmaps/keep -X PUT -H 'Content-Type: application/json' \
	--data-binary @"$W/keep.json" -o /dev/null -w '%{http_code}')
c2=$(kcurl /api/v1/namespaces/app/configmaps/keep -X PUT -H 'Content-Type: application/json' \
	--data-binary @"$W/keep.json" -o /dev/null -w '%{http_code}')
t_cmd "/_test/inject: the next matching PUT gets 409, the one after is served ($c1 $c2)" test "$c1 $c2" = "409 200"
log=$(kcurl /_test/requests | jq_py '[(r["method"], r["code"]) for r in d["items"] if r["path"].endswith("/keep")]')
t_cmd "/_test/requests records method, path and code ($log)" \
	test "$log" = '[["GET", 200], ["PUT", 409], ["PUT", 200]]'

# --- watches: abrupt drop, initial events, bookmarks, /watch/ path -----------
kcurl "/api/v1/watch/namespaces/app/configmaps?allowWatchBookmarks=true" -N --max-time 60 >"$W/abrupt.json" 2>"$W/abrupt.err" &
apid=$!
wait_watches 1
# Bookmarks come every 0.5 s: wait for the first rather than for a fixed time.
t_wait 60 grep -q BOOKMARK "$W/abrupt.json"
kcurl '/_test/drop-watches?abrupt=1' -X POST >/dev/null
wait "$apid"
rc=$?
nb=$(grep -c BOOKMARK "$W/abrupt.json")
na=$(grep -c '"ADDED"' "$W/abrupt.json")
t_cmd "/watch/ path: initial ADDED events and bookmarks every 0.5 s ($na, $nb)" test "$na" = 2 -a "$nb" -ge 1
t_cmd "drop-watches?abrupt=1 cuts the stream without its last chunk (curl rc $rc)" test "$rc" = 18
kcurl "/api/v1/namespaces/app/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1" -N >"$W/init.json"
seq=$(python3 -c '
import json, sys
out = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    ann = e["object"]["metadata"].get("annotations", {})
    out.append(e["type"] + ("*" if ann.get("k8s.io/initial-events-end") == "true" else ""))
print(" ".join(out[:3]))' "$W/init.json")
t_cmd "sendInitialEvents: ADDED for each object, then the initial-events-end BOOKMARK ($seq)" \
	test "$seq" = "ADDED ADDED BOOKMARK*"

# curl itself, not the kcurl function: $! must be the process that holds the socket.
curl -sS -N --max-time 60 -H "Authorization: Bearer $KA_TOKEN" "$KA_URL/api/v1/namespaces/app/configmaps?watch=1" >/dev/null &
kpid=$!
wait_watches 1
kill "$kpid"
wait "$kpid" 2>/dev/null
for _ in $(seq 50); do
	nw=$(kcurl /_test/dump | jq_py 'd["watches"]')
	[ "$nw" = 0 ] && break
	sleep 0.1
done
t_cmd "a watch whose client went away is closed within 5 s (open watches: $nw)" test "$nw" = 0

# --- deletecollection, CRD-defined kinds ------------------------------------
n=$(kcurl '/api/v1/namespaces/app/configmaps' -X DELETE | jq_py 'len(d["items"])')
left=$(kcurl /api/v1/namespaces/app/configmaps | jq_py 'len(d["items"])')
t_cmd "DELETE on a collection deletes every object in it ($n deleted, $left left)" test "$n $left" = "2 0"
kcurl /apis/apiextensions.k8s.io/v1/customresourcedefinitions -X POST -H 'Content-Type: application/json' -d '{
 "apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"},
 "spec":{"group":"example.com","scope":"Cluster","names":{"kind":"Widget","plural":"widgets","shortNames":["wd"]},
 "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
 "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}' >/dev/null
disc=$(kcurl /apis/example.com/v1 | jq_py '[r["name"] for r in d["resources"]]')
kcurl /apis/example.com/v1/widgets -X POST -H 'Content-Type: application/json' \
	-d '{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"a":1}}' >/dev/null
code=$(kcurl /apis/example.com/v1/widgets/w1/status -o /dev/null -w '%{http_code}')
t_cmd "a CRD serves its kind at once, with discovery and its status subresource ($disc $code)" \
	test "$disc $code" = '["widgets", "widgets/status"] 200'
kcurl /apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com -X DELETE >/dev/null
code=$(kcurl /apis/example.com/v1/widgets -o /dev/null -w '%{http_code}')
groups=$(kcurl /apis | jq_py '[g["name"] for g in d["groups"]]')
t_cmd "deleting the CRD stops serving the kind ($code)" \
	bash -c '[ "$1" = 404 ] && ! grep -q example.com <<<"$2"' _ "$code" "$groups"
t_done
