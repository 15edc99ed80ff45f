#!/bin/bash
# The API-server double driven by the real kubectl (and curl where kubectl has
# no verb for it): discovery, create/get/patch/label/delete, selectors,
# watches, conflicts, finalizers, compaction, auth. Prints TAP.
set -u
. "$(dirname "$0")/kubeapi-lib.sh"
t_on_exit ka_cleanup

command -v kubectl >/dev/null || { echo "Bail out! kubectl missing (tests/kubeapi/deps.sh)"; exit 1; }
command -v curl >/dev/null || { echo "Bail out! curl missing (tests/kubeapi/deps.sh)"; exit 1; }
# Velero-shaped CRDs with open schemas serve as the generic custom kinds here.
ka_start --load "$KA_HOME/fixtures/velero-open.yaml"
kubectl config set-context --current --namespace velero >/dev/null
W=$KA_DIR/work
mkdir -p "$W"

# --- discovery --------------------------------------------------------------
out=$(kubectl get ns -o name 2>&1)
t_cmd "kubectl get ns lists the default namespaces" \
	grep -qx namespace/velero <<<"$out"
out=$(kubectl api-resources 2>&1)
t_cmd "kubectl api-resources lists velero.io/v1 podvolumebackups, namespaced" \
	grep -Eq '^podvolumebackups +velero.io/v1 +true +PodVolumeBackup' <<<"$out"
t_cmd "kubectl api-resources lists pods with short name po" \
	grep -Eq '^pods +po +v1 +true +Pod' <<<"$out"
out=$(kubectl api-versions 2>&1)
t_cmd "kubectl api-versions has apps/v1 and rbac" \
	bash -c 'grep -qx apps/v1 <<<"$1" && grep -qx rbac.authorization.k8s.io/v1 <<<"$1"' _ "$out"

# --- auth -------------------------------------------------------------------
code=$(curl -sS --cacert "$KA_DIR/ca.crt" -o "$W/401.json" -w '%{http_code}' "$KA_URL/api/v1/namespaces")
reason=$(jq_py 'd["reason"]' <"$W/401.json" 2>/dev/null)
t_cmd "no token: 401 with a Status (reason $reason)" test "$code:$reason" = 401:Unauthorized
code=$(curl -sS --cacert "$KA_DIR/ca.crt" -H "Authorization: Bearer wrong" -o /dev/null \
	-w '%{http_code}' "$KA_URL/apis/velero.io/v1/podvolumebackups")
t_cmd "wrong token: 401" test "$code" = 401

# --- create, get --------------------------------------------------------------
cat >"$W/pvb.yaml" <<'EOF'
apiVersion: velero.io/v1
kind: PodVolumeBackup
metadata:
  name: pvb-a
  namespace: velero
  labels:
    velero.io/pvb-node: node-a
    tier: gold
spec:
  node: node-a
  volume: data
  backupStorageLocation: default
  repoIdentifier: ""
  uploaderType: cairn
  pod: {kind: Pod, name: app-0, namespace: app, uid: 11111111-2222-3333-4444-555555555555}
EOF
cat >"$W/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: app-0
  namespace: default
  labels: {app: demo}
spec:
  nodeName: node-a
  containers:
  - name: c
    image: busybox
EOF
out=$(kubectl create $KUBECTL_VALIDATE -f "$W/pvb.yaml" -f "$W/pod.yaml" 2>&1)
t_cmd "kubectl create -f a PodVolumeBackup and a Pod" \
	bash -c 'grep -q "podvolumebackup.velero.io/pvb-a created" <<<"$1" && grep -q "pod/app-0 created" <<<"$1"' _ "$out"
kubectl get podvolumebackups -n velero -o json >"$W/list.json" 2>&1
meta=$(jq_py '[len(d["items"]), d["items"][0]["metadata"]["name"], len(d["items"][0]["metadata"]["uid"]), d["items"][0]["metadata"]["resourceVersion"].isdigit(), d["items"][0]["metadata"]["generation"], d["items"][0]["metadata"]["creationTimestamp"].endswith("Z")]' <"$W/list.json" 2>&1)
t_cmd "get podvolumebackups -o json: uid, resourceVersion, generation, creationTimestamp ($meta)" \
	test "$meta" = '[1, "pvb-a", 36, true, 1, true]'
out=$(kubectl create $KUBECTL_VALIDATE -f "$W/pvb.yaml" 2>&1)
t_cmd "creating it again: AlreadyExists" grep -q 'AlreadyExists.*"pvb-a" already exists' <<<"$out"
out=$(kubectl get pod app-0 -n nosuchns 2>&1)
t_cmd "get in a missing namespace: NotFound" grep -q 'NotFound' <<<"$out"
out=$(kubectl get podvolumebackup nope 2>&1)
t_cmd "get a missing object: NotFound with the real wording" \
	grep -q 'podvolumebackups.velero.io "nope" not found' <<<"$out"

# --- watch (kubectl get -w in the background) ---------------------------------
kubectl get podvolumebackups -w -o json --output-watch-events >"$W/watch.json" 2>"$W/watch.err" &
echo $! >>"$KA_DIR/bg.pids"
wpid=$!
wait_watches 1 || t_note "kubectl get -w did not open its watch"

# --- patch, label -------------------------------------------------------------
rv1=$(kubectl get podvolumebackup pvb-a -o jsonpath='{.metadata.resourceVersion}')
out=$(kubectl patch podvolumebackup pvb-a --type merge -p '{"status":{"phase":"InProgress","progress":{"totalBytes":10}}}' 2>&1)
phase=$(kubectl get podvolumebackup pvb-a -o jsonpath='{.status.phase}/{.status.progress.totalBytes}/{.metadata.resourceVersion}')
t_cmd "kubectl patch --type merge sets status through the main resource ($phase, was rv $rv1)" \
	bash -c '[ "${1%/*}" = InProgress/10 ] && [ "${1##*/}" -gt "$2" ]' _ "$phase" "$rv1"
out=$(kubectl patch podvolumebackup pvb-a --type merge -p '{"status":{"progress":null}}' 2>&1)
prog=$(kubectl get podvolumebackup pvb-a -o json | jq_py '"progress" in d["status"]')
t_cmd "merge patch null deletes a field (RFC 7386)" test "$prog" = false
kubectl label podvolumebackup pvb-a run=1 >/dev/null 2>&1
lab=$(kubectl get podvolumebackup pvb-a -o jsonpath='{.metadata.labels.run}')
t_cmd "kubectl label" test "$lab" = 1
kubectl label podvolumebackup pvb-a run- >/dev/null 2>&1
lab=$(kubectl get podvolumebackup pvb-a -o json | jq_py '"run" in d["metadata"]["labels"]')
t_cmd "kubectl label key- removes it" test "$lab" = false
kubectl annotate pod app-0 -n default note=hi >/dev/null 2>&1
ann=$(kubectl get pod app-0 -n default -o jsonpath='{.metadata.annotations.note}/{.spec.containers[0].image}')
t_cmd "kubectl annotate on a Pod (strategic merge patch keeps the spec)" test "$ann" = hi/busybox

# --- selectors ----------------------------------------------------------------
for n in b c; do
	sed -e "s/pvb-a/pvb-$n/" -e "s/node-a/node-$n/" -e "s/tier: gold/tier: t$n/" "$W/pvb.yaml" |
		kubectl create $KUBECTL_VALIDATE -f - >/dev/null 2>&1
done
sel() { kubectl get podvolumebackups "$@" -o name 2>&1 | sed 's,.*/,,' | sort | tr '\n' ' '; }
r1=$(sel -l velero.io/pvb-node=node-b)
r2=$(sel -l 'velero.io/pvb-node!=node-b')
r3=$(sel -l 'tier in (gold,tc)')
r4=$(sel -l 'tier notin (gold)')
r5=$(sel -l '!tier')
r6=$(sel -l 'tier,velero.io/pvb-node==node-c')
t_cmd "label selectors =, !=, in, notin, !key, exists+== ($r1|$r2|$r3|$r4|$r5|$r6)" \
	test "$r1|$r2|$r3|$r4|$r5|$r6" = "pvb-b |pvb-a pvb-c |pvb-a pvb-c |pvb-b pvb-c ||pvb-c "
f1=$(sel --field-selector spec.node=node-c)
f2=$(sel --field-selector metadata.name!=pvb-a)
f3=$(kubectl get pods -A --field-selector spec.nodeName=node-a,metadata.namespace=default -o name 2>&1)
t_cmd "field selectors spec.node, metadata.name, pod spec.nodeName ($f1|$f2|$f3)" \
	test "$f1|$f2|$f3" = "pvb-c |pvb-b pvb-c |pod/app-0"
out=$(kubectl get podvolumebackups --field-selector spec.volume=data 2>&1)
t_cmd "unsupported field selector on a CRD kind: BadRequest naming the field" \
	grep -q '"spec.volume" is not a known field selector' <<<"$out"

# --- generateName, limit/continue -------------------------------------------
cat >"$W/gen.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  generateName: gen-
  namespace: velero
data: {k: v}
EOF
out=$(kubectl create $KUBECTL_VALIDATE -f "$W/gen.yaml" 2>&1)
t_cmd "generateName gives prefix + 5 characters ($out)" \
	grep -Eq '^configmap/gen-[a-z0-9]{5} created$' <<<"$out"
kcurl '/apis/velero.io/v1/namespaces/velero/podvolumebackups?limit=2' >"$W/p1.json"
page1=$(jq_py '[i["metadata"]["name"] for i in d["items"]] + [d["metadata"].get("remainingItemCount")]' <"$W/p1.json")
cont=$(jq_py 'd["metadata"]["continue"]' <"$W/p1.json")
kcurl "/apis/velero.io/v1/namespaces/velero/podvolumebackups?limit=2&continue=$cont" >"$W/p2.json"
page2=$(jq_py '[i["metadata"]["name"] for i in d["items"]] + ["continue" in d["metadata"]]' <"$W/p2.json")
t_cmd "limit + continue pages through every item once ($page1 $page2)" \
	test "$page1 $page2" = '["pvb-a", "pvb-b", 1] ["pvb-c", false]'

# --- 409 on a stale update --------------------------------------------------
kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups/pvb-b >"$W/old.json"
kubectl patch podvolumebackup pvb-b --type merge -p '{"spec":{"volume":"other"}}' >/dev/null 2>&1
code=$(kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups/pvb-b -X PUT \
	-H 'Content-Type: application/json' --data-binary @"$W/old.json" -o "$W/409.json" -w '%{http_code}')
reason=$(jq_py 'd["reason"]' <"$W/409.json")
t_cmd "PUT with a stale resourceVersion: 409 Conflict" test "$code:$reason" = 409:Conflict
kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups/pvb-b >"$W/cur.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["status"]={"phase":"Completed"}; json.dump(d,open(sys.argv[1],"w"))' "$W/cur.json"
code=$(kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups/pvb-b -X PUT \
	-H 'Content-Type: application/json' --data-binary @"$W/cur.json" -o "$W/put.json" -w '%{http_code}')
gen=$(jq_py '[d["status"]["phase"], d["metadata"]["generation"]]' <"$W/put.json")
t_cmd "PUT with the current resourceVersion: 200, status written, generation counts changes ($code $gen)" \
	test "$code $gen" = '200 ["Completed", 3]'
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); del d["metadata"]["resourceVersion"]; json.dump(d,open(sys.argv[1],"w"))' "$W/cur.json"
code=$(kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups/pvb-b -X PUT \
	-H 'Content-Type: application/json' --data-binary @"$W/cur.json" -o /dev/null -w '%{http_code}')
t_cmd "PUT of a custom resource without resourceVersion: 422 as the real server" test "$code" = 422

# --- status subresource -------------------------------------------------------
code=$(kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups/pvb-b/status -o /dev/null -w '%{http_code}')
t_cmd "PodVolumeBackup has no status subresource (as Velero's CRD): 404" test "$code" = 404
kcurl /apis/velero.io/v1/namespaces/velero/backupstoragelocations -X POST -H 'Content-Type: application/json' \
	-d '{"apiVersion":"velero.io/v1","kind":"BackupStorageLocation","metadata":{"name":"default"},"spec":{"provider":"aws","objectStorage":{"bucket":"b"}},"status":{"phase":"Available"}}' >/dev/null
kcurl /apis/velero.io/v1/namespaces/velero/backupstoragelocations/default -X PATCH \
	-H 'Content-Type: application/merge-patch+json' -d '{"spec":{"accessMode":"ReadOnly"},"status":{"phase":"X"}}' >/dev/null
kcurl /apis/velero.io/v1/namespaces/velero/backupstoragelocations/default/status -X PATCH \
	-H 'Content-Type: application/merge-patch+json' -d '{"spec":{"accessMode":"ReadWrite"},"status":{"phase":"Unavailable"}}' >"$W/bsl.json"
bsl=$(jq_py '[d["spec"]["accessMode"], d["status"]["phase"]]' <"$W/bsl.json")
t_cmd "BackupStorageLocation: main resource ignores status, /status ignores spec ($bsl)" \
	test "$bsl" = '["ReadOnly", "Unavailable"]'

# --- finalizers + deletionTimestamp -----------------------------------------
kubectl patch podvolumebackup pvb-c --type merge -p '{"metadata":{"finalizers":["velero.io/pod-volume-finalizer"]}}' >/dev/null 2>&1
code=$(kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups/pvb-c -X DELETE -o "$W/del.json" -w '%{http_code}')
kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups/pvb-c >"$W/after.json"
dts=$(jq_py 'bool(d["metadata"].get("deletionTimestamp"))' <"$W/after.json")
t_cmd "DELETE of an object with a finalizer keeps it with deletionTimestamp ($code $dts)" test "$code $dts" = "200 true"
code=$(kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups/pvb-c -X PATCH \
	-H 'Content-Type: application/merge-patch+json' -d '{"metadata":{"finalizers":["velero.io/pod-volume-finalizer","x/y"]}}' -o /dev/null -w '%{http_code}')
t_cmd "no new finalizer on an object being deleted: 422" test "$code" = 422
kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups/pvb-c -X PATCH \
	-H 'Content-Type: application/merge-patch+json' -d '{"metadata":{"finalizers":null}}' >/dev/null
code=$(kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups/pvb-c -o /dev/null -w '%{http_code}')
t_cmd "removing the last finalizer deletes it (404 after)" test "$code" = 404

# --- kubectl delete, then the watch's view -----------------------------------
out=$(kubectl delete podvolumebackup pvb-a 2>&1)
t_cmd "kubectl delete (waits for the DELETED event)" grep -q '"pvb-a" deleted' <<<"$out"
sleep 1
kill "$wpid" 2>/dev/null
seq=$(python3 -c '
import json, sys
dec, buf, out = json.JSONDecoder(), open(sys.argv[1]).read(), []
i = 0
while True:
    while i < len(buf) and buf[i].isspace():
        i += 1
    if i >= len(buf):
        break
    ev, i = dec.raw_decode(buf, i)
    out.append("%s:%s" % (ev["type"][0], ev["object"]["metadata"]["name"]))
print(" ".join(out))' "$W/watch.json" 2>&1)
t_note "watch saw: $seq"
t_cmd "kubectl get -w saw pvb-a ADDED, MODIFIED (patch, label), DELETED in order" \
	grep -Eq '^A:pvb-a (M:pvb-a ){4,}.*D:pvb-a' <<<"$(tr ' ' '\n' <<<"$seq" | grep pvb-a | tr '\n' ' ')"
t_cmd "kubectl get -w saw pvb-b and pvb-c created, pvb-c's deletionTimestamp and deletion" \
	bash -c 'for e in A:pvb-b A:pvb-c D:pvb-c; do grep -qw "$e" <<<"$1" || exit 1; done' _ "$seq"

# --- kubectl apply (client-side) ----------------------------------------------
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: "1"\n  b: "2"\n' >"$W/cm.yaml"
kubectl apply $KUBECTL_VALIDATE -f "$W/cm.yaml" >/dev/null 2>&1
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: "3"\n' >"$W/cm.yaml"
out=$(kubectl apply $KUBECTL_VALIDATE -f "$W/cm.yaml" 2>&1)
data=$(kubectl get configmap applied -o json | jq_py '[d["data"], "kubectl.kubernetes.io/last-applied-configuration" in d["metadata"]["annotations"]]')
t_cmd "kubectl apply twice: configured, removed key pruned ($out $data)" \
	test "$data" = '[{"a": "3"}, true]'

# --- raw watches: bookmarks, timeout, selectors, 410, drop ------------------
rv=$(kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups | jq_py 'd["metadata"]["resourceVersion"]')
start=$(date +%s)
kcurl "/apis/velero.io/v1/namespaces/velero/podvolumebackups?watch=1&resourceVersion=$rv&allowWatchBookmarks=true&timeoutSeconds=5" -N >"$W/bm.json"
rc=$?
took=$(($(date +%s) - start))
nb=$(grep -c '"BOOKMARK"' "$W/bm.json")
bmrv=$(grep '"BOOKMARK"' "$W/bm.json" | tail -n1 | jq_py 'd["object"]["metadata"]["resourceVersion"]')
t_cmd "watch with bookmarks: $nb BOOKMARK events at rv $bmrv, stream ends after timeoutSeconds=5 (${took}s, rc $rc)" \
	bash -c '[ "$1" -ge 2 ] && [ "$2" -ge "$3" ] && [ "$4" -ge 4 ] && [ "$4" -le 15 ] && [ "$5" = 0 ]' _ "$nb" "$bmrv" "$rv" "$took" "$rc"

kcurl "/apis/velero.io/v1/namespaces/velero/podvolumebackups?watch=true&labelSelector=tier%3Dtb&resourceVersion=$rv&timeoutSeconds=4" -N >"$W/lw.json" &
lpid=$!
sleep 1
kubectl label podvolumebackup pvb-b tier=other --overwrite >/dev/null 2>&1
kubectl label podvolumebackup pvb-b tier=tb --overwrite >/dev/null 2>&1
wait "$lpid"
types=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["type"] for l in open(sys.argv[1]) if l.strip()))' "$W/lw.json")
t_cmd "label-selected watch: leaving the selection is DELETED, re-entering is ADDED ($types)" \
	test "$types" = "DELETED ADDED"

old=$rv
kubectl patch podvolumebackup pvb-b --type merge -p '{"spec":{"volume":"v2"}}' >/dev/null 2>&1
kcurl /_test/compact -X POST >/dev/null
kcurl "/apis/velero.io/v1/namespaces/velero/podvolumebackups?watch=1&resourceVersion=$old" -N --max-time 5 >"$W/410.json"
gone=$(head -n1 "$W/410.json" | jq_py '[d["type"], d["object"]["code"], d["object"]["reason"]]')
t_cmd "watch from a compacted resourceVersion: ERROR 410 Expired ($gone)" test "$gone" = '["ERROR", 410, "Expired"]'
now=$(kcurl /apis/velero.io/v1/namespaces/velero/podvolumebackups | jq_py 'd["metadata"]["resourceVersion"]')
kcurl "/apis/velero.io/v1/namespaces/velero/podvolumebackups?watch=1&resourceVersion=$now&timeoutSeconds=1" -N >"$W/ok.json"
t_cmd "watch from the current resourceVersion after compaction: no error" \
	bash -c '! grep -q ERROR "$1"' _ "$W/ok.json"

kcurl "/apis/velero.io/v1/namespaces/velero/podvolumebackups?watch=1&resourceVersion=$now" -N --max-time 60 >/dev/null &
dpid=$!
wait_watches 1
n=$(kcurl /_test/drop-watches -X POST | jq_py 'd["dropped"]')
start=$(date +%s)
wait "$dpid"
rc=$?
took=$(($(date +%s) - start))
t_cmd "POST /_test/drop-watches ends open watch streams ($n dropped, curl rc $rc in ${took}s)" \
	bash -c '[ "$1" -ge 1 ] && [ "$2" = 0 ] && [ "$3" -le 5 ]' _ "$n" "$rc" "$took"

# --- typed creates (kubectl sends protobuf), namespaces, reset --------------
out=$(kubectl create namespace app 2>&1; kubectl create configmap c1 -n app --from-literal=a=b --from-literal=c=d 2>&1;
	kubectl create secret generic s1 -n app --from-literal=k=s3cr3t 2>&1; kubectl create serviceaccount sa1 -n app 2>&1)
got=$(kubectl get configmap c1 -n app -o json | jq_py 'd["data"]')/$(kubectl get secret s1 -n app -o json |
	jq_py 'd["type"] + ":" + __import__("base64").b64decode(d["data"]["k"]).decode()')/$(kubectl get sa sa1 -n app -o name)
t_cmd "kubectl create namespace/configmap/secret/serviceaccount (protobuf bodies) store what was sent ($got)" \
	test "$got" = '{"a": "b", "c": "d"}/Opaque:s3cr3t/serviceaccount/sa1'
kubectl delete namespace app >/dev/null 2>&1
code=$(kcurl /api/v1/namespaces/app/configmaps/c1 -o /dev/null -w '%{http_code}')
code2=$(kcurl /api/v1/namespaces/app -o /dev/null -w '%{http_code}')
t_cmd "deleting a namespace deletes it and its content ($code $code2)" test "$code $code2" = "404 404"
kcurl /_test/reset -X POST >/dev/null
n=$(kubectl get pods -A -o name 2>&1 | wc -l)
code=$(kcurl /apis/velero.io/v1/podvolumebackups -o /dev/null -w '%{http_code}')
nsn=$(kubectl get ns -o name | wc -l)
t_cmd "POST /_test/reset empties the store, forgets CRD kinds, keeps the default namespaces ($n, $code, $nsn)" \
	test "$n $code $nsn" = "0 404 5"

t_done
