#!/bin/bash
# The deployment manifests (daemonset/): every YAML parses, kustomize renders
# them, the DaemonSet/RBAC/CRDs say what the node agent needs (and no more),
# and every object loads into the API-server double with kubectl and can be
# read back. Prints TAP.
set -u
. "$(dirname "$0")/kubeapi-lib.sh"
t_on_exit ka_cleanup
DS="$TOP_SRCDIR/daemonset"
W=$KA_DIR/work
mkdir -p "$W"

python3 -c 'import yaml' 2>/dev/null || { echo "Bail out! python3-yaml missing (tests/kubeapi/deps.sh)"; exit 1; }
command -v kubectl >/dev/null || { echo "Bail out! kubectl missing (tests/kubeapi/deps.sh)"; exit 1; }

# All objects of the kustomization, as JSON, for the structural checks.
kubectl kustomize "$DS" >"$W/all.yaml" 2>"$W/kustomize.err"
rc=$?
python3 -c 'import json,sys,yaml; json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d], open(sys.argv[2],"w"))' \
	"$W/all.yaml" "$W/all.json" 2>/dev/null
# q EXPR: Python expression over the rendered objects: `objs`, and obj(kind, name).
q() {
	python3 -c '
import json, sys
objs = json.load(open(sys.argv[2]))
def obj(kind, name):
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r))' "$1" "$W/all.json"
}

# --- parsing ---------------------------------------------------------------
bad=$(cd "$DS" && python3 -c '
import sys, yaml
bad = []
for f in sys.argv[1:]:
    try:
        docs = [d for d in yaml.safe_load_all(open(f)) if d]
        if not docs:
            bad.append(f + ": empty")
        for d in docs:
            if f.split("/")[-1] != "kustomization.yaml" and not (d.get("apiVersion") and d.get("kind") and d["metadata"].get("name")):
                bad.append(f + ": object without apiVersion/kind/name")
    except Exception as e:
        bad.append("%s: %s" % (f, e))
print("; ".join(bad))' $(find . -name '*.yaml' | sort) 2>&1)
t_cmd "every YAML file under daemonset/ parses and names its objects${bad:+ ($bad)}" test -z "$bad"
t_cmd "kubectl kustomize daemonset/ renders" test "$rc" = 0 -a -s "$W/all.yaml"
listed=$(cd "$DS" && python3 -c '
import yaml
k = yaml.safe_load(open("kustomization.yaml"))
print(sum(len([d for d in yaml.safe_load_all(open(f)) if d]) for f in k["resources"]))')
n=$(q 'len(objs)')
t_cmd "kustomization lists every manifest ($n objects rendered, $listed in the listed files)" \
	test "$n" = "$listed" -a "$n" -ge 12
missing=$(cd "$DS" && for f in $(find . -name '*.yaml' ! -name kustomization.yaml ! -path './example/*' ! -path './optional/*' | sed 's,^\./,,'); do
	grep -qx -- "- $f" kustomization.yaml || printf '%s ' "$f"; done)
t_cmd "no manifest is left out of kustomization.yaml${missing:+ ($missing)}" test -z "$missing"

# --- the DaemonSet -----------------------------------------------------------
D='obj("DaemonSet","cairn-node-agent")'
C="$D[\"spec\"][\"template\"][\"spec\"][\"containers\"][0]"
P="$D[\"spec\"][\"template\"][\"spec\"]"
t_cmd "DaemonSet cairn-node-agent labelled role: node-agent (object and pods)" \
	test "$(q "[$D['metadata']['labels']['role'], $D['spec']['template']['metadata']['labels']['role']]")" = '["node-agent", "node-agent"]'
hp=$(q "[ (v['hostPath']['path'], m['mountPath'], m.get('mountPropagation'), m.get('readOnly')) for v in $P['volumes'] if 'hostPath' in v for m in $C['volumeMounts'] if m['name'] == v['name'] ]")
t_cmd "kubelet pods folder at /host_pods, HostToContainer, read-only ($hp)" \
	test "$hp" = '[["/var/lib/kubelet/pods", "/host_pods", "HostToContainer", true]]'
env=$(q "[e['valueFrom']['fieldRef']['fieldPath'] for e in $C['env'] if e['name'] in ('NODE_NAME', 'POD_NAMESPACE')]")
t_cmd "NODE_NAME and POD_NAMESPACE from the downward API ($env)" test "$env" = '["spec.nodeName", "metadata.namespace"]'
tol=$(q "[$P.get('tolerations'), $P['nodeSelector']]")
t_cmd "Linux nodes only, no toleration unless the user opts in ($tol)" test "$tol" = '[null, {"kubernetes.io/os": "linux"}]'
res=$(q "[$C['resources']['limits']['memory'], bool($C['resources']['requests'].get('cpu')), bool($C['resources']['requests'].get('memory'))]")
t_cmd "resource requests and a 256Mi memory limit ($res)" test "$res" = '["256Mi", true, true]'
probes=$(q "[(p['httpGet']['path'], p['httpGet']['port']) for p in ($C['livenessProbe'], $C['readinessProbe'])] + [(x['name'], x['containerPort']) for x in $C['ports']]")
t_cmd "liveness/readiness on /healthz of port metrics = 8085 ($probes)" \
	test "$probes" = '[["/healthz", "metrics"], ["/healthz", "metrics"], ["metrics", 8085]]'
cmd=$(q "' '.join($C['command'] + $C.get('args', []))")
t_cmd "command: $cmd" \
	test "$cmd" = 'cairn agent --node $(NODE_NAME) --host-pods /host_pods --namespace $(POD_NAMESPACE) --metrics-address :8085'
python3 -c 'import json,sys,yaml; json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d], open(sys.argv[2],"w"))' \
	"$DS/example/secrets.yaml" "$W/secrets.json"
sec=$(q "sorted(v['secret']['secretName'] for v in $P['volumes'] if 'secret' in v) == sorted(o['metadata']['name'] for o in json.load(open('$W/secrets.json'))) and not [o for o in objs if o['kind'] == 'Secret'] and $P['serviceAccountName']")
t_cmd "password and S3 credentials: files from the Secrets of example/ (not in the base), runs as its ServiceAccount ($sec)" \
	test "$sec" = cairn-node-agent
mounts=$(q "sorted((m['mountPath'], m.get('readOnly')) for m in $C['volumeMounts'] if m['mountPath'].startswith('/credentials')) + sorted(e['value'] for e in $C['env'] if e['name'].endswith('_FILE'))")
t_cmd "credentials mounted read-only as files, named by *_FILE variables ($mounts)" \
	test "$mounts" = '[["/credentials/cloud", true], ["/credentials/repo", true], "/credentials/cloud/cloud", "/credentials/repo/repository-password"]'
cloud=$(python3 -c 'import json,sys; print(next(o for o in json.load(open(sys.argv[1])) if o["metadata"]["name"] == "cloud-credentials")["stringData"]["cloud"])' "$W/secrets.json")
t_cmd "cloud-credentials is in the AWS shared-credentials format" \
	bash -c 'grep -qx "\[default\]" <<<"$1" && grep -q "^aws_access_key_id *= " <<<"$1" && grep -q "^aws_secret_access_key *= " <<<"$1"' _ "$cloud"

# --- RBAC: least privilege ---------------------------------------------------
rules=$(q "sorted((o['kind'], g, r, v) for o in objs if o['kind'] in ('ClusterRole','Role') and o['metadata']['name'] == 'cairn-node-agent' for ru in o['rules'] for g in ru['apiGroups'] for r in ru['resources'] for v in ru['verbs'])")
want='[["ClusterRole", "", "persistentvolumeclaims", "get"], ["ClusterRole", "", "persistentvolumes", "get"], ["ClusterRole", "", "pods", "get"], ["ClusterRole", "", "pods", "list"], ["ClusterRole", "", "pods/exec", "create"], ["ClusterRole", "", "pods/exec", "get"], ["ClusterRole", "storage.k8s.io", "csidrivers", "list"], ["Role", "", "events", "create"], ["Role", "cairn.dev", "backupstoragelocations", "get"], ["Role", "cairn.dev", "podvolumebackups", "get"], ["Role", "cairn.dev", "podvolumebackups", "list"], ["Role", "cairn.dev", "podvolumebackups", "update"], ["Role", "cairn.dev", "podvolumebackups", "watch"], ["Role", "cairn.dev", "podvolumebackups/status", "get"], ["Role", "cairn.dev", "podvolumebackups/status", "update"], ["Role", "cairn.dev", "podvolumerestores", "get"], ["Role", "cairn.dev", "podvolumerestores", "list"], ["Role", "cairn.dev", "podvolumerestores", "watch"], ["Role", "cairn.dev", "podvolumerestores/status", "get"], ["Role", "cairn.dev", "podvolumerestores/status", "update"]]'
t_cmd "RBAC grants exactly what the agent calls (no wildcard, no Secret, no velero.io, no create/delete of work items; exec for backup commands)" test "$rules" = "$want"
# Every API path the agent's code names is covered by a rule above.
paths=$(grep -ho '"/api[^"]*"' "$TOP_SRCDIR"/agent/*.c | sort -u | tr '\n' ' ')
t_cmd "the agent's code names only pods, claims, volumes and csidrivers besides cairn.dev ($paths)" \
	bash -c 'for p in $1; do case $p in *pods*|*persistentvolumeclaims*|*persistentvolumes*|*csidrivers*) ;; *) exit 1 ;; esac; done' _ "$paths"
bind=$(q "sorted((o['kind'], o['roleRef']['name'], s['kind'], s['name'], s['namespace']) for o in objs if o['kind'].endswith('Binding') for s in o['subjects'])")
t_cmd "each component's roles bound to its own ServiceAccount" \
	test "$bind" = '[["ClusterRoleBinding", "cairn-controller", "ServiceAccount", "cairn-controller", "cairn"], ["ClusterRoleBinding", "cairn-node-agent", "ServiceAccount", "cairn-node-agent", "cairn"], ["RoleBinding", "cairn-controller", "ServiceAccount", "cairn-controller", "cairn"], ["RoleBinding", "cairn-node-agent", "ServiceAccount", "cairn-node-agent", "cairn"]]'
# The controller: no wildcard, no velero.io, cluster-wide writes only to pods (helper pods),
# claims (restores) and pods/exec (hooks).
ctl=$(q "sorted(set((o['kind'], g, r) for o in objs if o['kind'] in ('ClusterRole','Role') and o['metadata']['name'] == 'cairn-controller' for ru in o['rules'] for g in ru['apiGroups'] for r in ru['resources'] for v in ru['verbs'] if v in ('create','update','patch','delete') or '*' in (g, r, v)))")
t_cmd "controller: cluster-wide writes only to pods, claims, events and pods/exec; no wildcard ($ctl)" \
	bash -c 'python3 -c "import json,sys; v=json.loads(sys.argv[1]); bad=[x for x in v if \"*\" in x or \"velero\" in x[1] or (x[0]==\"ClusterRole\" and x[2] not in (\"pods\",\"persistentvolumeclaims\",\"events\",\"pods/exec\")) or (x[0]==\"Role\" and x[1] not in (\"cairn.dev\",))]; sys.exit(1 if bad else 0)" "$1"' _ "$ctl"

# --- CRDs ------------------------------------------------------------------
crd=$(q "sorted((o['spec']['group'], o['spec']['names']['kind'], o['spec']['versions'][0]['name'], o['spec']['versions'][0]['served'], o['spec']['versions'][0]['storage'], 'status' in o['spec']['versions'][0].get('subresources', {})) for o in objs if o['kind'] == 'CustomResourceDefinition')")
t_cmd "CRDs: cairn.dev/v1alpha1 Backup, BackupStorageLocation, PodVolumeBackup, PodVolumeRestore, Restore, Schedule, each with a status subresource" \
	test "$crd" = '[["cairn.dev", "Backup", "v1alpha1", true, true, true], ["cairn.dev", "BackupStorageLocation", "v1alpha1", true, true, true], ["cairn.dev", "PodVolumeBackup", "v1alpha1", true, true, true], ["cairn.dev", "PodVolumeRestore", "v1alpha1", true, true, true], ["cairn.dev", "Restore", "v1alpha1", true, true, true], ["cairn.dev", "Schedule", "v1alpha1", true, true, true]]'
# A tiny OpenAPI v3 validator (type, enum, required, properties,
# additionalProperties) checks that what cairn writes fits the schemas.
cat >"$W/validate.py" <<'EOF'
import json, sys
objs = json.load(open(sys.argv[1]))
T = {"string": str, "boolean": bool, "object": dict, "array": list, "integer": int}
def check(s, v, path, errs):
    if v is None and s.get("nullable"):
        return
    t = s.get("type")
    if t and not (isinstance(v, T[t]) and not (t == "integer" and isinstance(v, bool))):
        errs.append("%s: not %s" % (path, t)); return
    if "enum" in s and v not in s["enum"]:
        errs.append("%s: %r not in %s" % (path, v, s["enum"]))
    if isinstance(v, dict):
        for r in s.get("required", []):
            if r not in v:
                errs.append("%s.%s: required" % (path, r))
        props = s.get("properties")
        for k, x in v.items():
            if props is not None and k in props:
                check(props[k], x, path + "." + k, errs)
            elif "additionalProperties" in s:
                check(s["additionalProperties"], x, path + "." + k, errs)
            elif props is not None and path.count(".") > 0 and not s.get("x-kubernetes-preserve-unknown-fields"):
                errs.append("%s.%s: unknown field" % (path, k))
errs = []
for doc in json.load(sys.stdin):
    crd = next(o for o in objs if o["kind"] == "CustomResourceDefinition" and o["spec"]["names"]["kind"] == doc["kind"])
    check(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], doc, doc["kind"], errs)
print("; ".join(errs))
EOF
errs=$(python3 "$W/validate.py" "$W/all.json" <<'EOF' 2>&1
[{"apiVersion": "cairn.dev/v1alpha1", "kind": "PodVolumeBackup", "metadata": {"name": "p"},
  "spec": {"node": "n1", "pod": {"kind": "Pod", "name": "a", "namespace": "ns", "uid": "u"},
           "volume": "data", "backupStorageLocation": "default",
           "tags": {"backup": "b"}, "cancel": false},
  "status": {"phase": "Completed", "snapshotID": "abc", "path": "/host_pods/u/volumes/x/data",
             "message": "", "startTimestamp": "2024-01-01T00:00:00Z",
             "acceptedTimestamp": "2024-01-01T00:00:00Z",
             "completionTimestamp": "2024-01-01T00:01:00Z",
             "progress": {"totalBytes": 10, "bytesDone": 10}, "incrementalBytes": 3}},
 {"apiVersion": "cairn.dev/v1alpha1", "kind": "PodVolumeBackup", "metadata": {"name": "q"},
  "spec": {"node": "n1", "pod": {"name": "a", "namespace": "b", "uid": "u"}, "volume": "v",
           "backupStorageLocation": "d"}, "status": {"phase": "Canceled", "message": "canceled"}},
 {"apiVersion": "cairn.dev/v1alpha1", "kind": "PodVolumeRestore", "metadata": {"name": "r"},
  "spec": {"pod": {"name": "a", "namespace": "ns", "uid": "u"}, "volume": "data",
           "backupStorageLocation": "default", "snapshotID": "abc", "snapshotSize": 10,
           "sourceNamespace": "ns"},
  "status": {"phase": "InProgress", "node": "n1", "progress": {"totalBytes": 10, "bytesDone": 5}}},
 {"apiVersion": "cairn.dev/v1alpha1", "kind": "BackupStorageLocation", "metadata": {"name": "default"},
  "spec": {"provider": "aws", "objectStorage": {"bucket": "b", "prefix": "p", "caCert": "LS0t"},
           "config": {"s3Url": "http://127.0.0.1:9000", "region": "minio", "insecureSkipTLSVerify": "true"},
           "credential": {"name": "cloud-credentials", "key": "cloud"}, "accessMode": "ReadOnly", "default": true},
  "status": {"phase": "Available"}}]
EOF
)
t_cmd "objects as cairn writes them fit the CRD schemas${errs:+ ($errs)}" test -z "$errs"
errs=$(python3 "$W/validate.py" "$W/all.json" <<'EOF' 2>&1
[{"apiVersion": "cairn.dev/v1alpha1", "kind": "PodVolumeBackup", "metadata": {"name": "p"},
  "spec": {"pod": {"name": "a"}, "volume": "data", "cancel": "yes"},
  "status": {"phase": "Prepared", "progress": {"bytesDone": "10"}}}]
EOF
)
t_cmd "and wrong ones do not (missing node, bad enum, bad types: $errs)" \
	bash -c 'for w in node Prepared bytesDone cancel; do grep -q "$w" <<<"$1" || exit 1; done' _ "$errs"

# --- Containerfile ----------------------------------------------------------
cf="$DS/Containerfile"
t_cmd "Containerfile: two stages on BASE (default Debian 12), autotools build, runtime with fuse3 and no -dev package" \
	bash -c 'grep -q "^ARG BASE=docker.io/library/debian:12" "$1" && [ "$(grep -c "^FROM \${BASE}" "$1")" = 2 ] && grep -q "autoreconf -fi" "$1" &&
		grep -q "/configure" "$1" && sed -n "/^FROM .* AS build/,/^FROM/!p" "$1" | grep -qw fuse3 &&
		! sed -n "/^FROM .* AS build/,/^FROM/!p" "$1" | grep -q -- "-dev"' _ "$cf"

# --- load into the double ---------------------------------------------------
ka_start
for f in $(cd "$DS" && find . -name '*.yaml' ! -name kustomization.yaml ! -path './example/*' ! -path './optional/*' | sort); do
	kubectl create --dry-run=client $KUBECTL_VALIDATE -f "$DS/$f" -o name >>"$W/dry.out" 2>&1 ||
		echo "FAILED $f" >>"$W/dry.out"
done
t_cmd "kubectl create --dry-run=client accepts every manifest ($(wc -l <"$W/dry.out") objects)" \
	bash -c '! grep -q FAILED "$1" && [ "$(wc -l <"$1")" = "$2" ]' _ "$W/dry.out" "$n"
out=$(kubectl apply $KUBECTL_VALIDATE -k "$DS" 2>&1)
nc=$(grep -cE ' (created|configured|unchanged)$' <<<"$out")
t_cmd "kubectl apply -k daemonset/ loads every object into the double ($nc of $n)" test "$nc" = "$n"
got=$(kubectl get -f "$W/all.yaml" -o name 2>&1 | sort | tr '\n' ' ')
want=$(q "' '.join(sorted('%s%s/%s' % (o['kind'].lower(), '.' + o['apiVersion'].split('/')[0] if '/' in o['apiVersion'] else '', o['metadata']['name']) for o in objs)) + ' '")
t_cmd "kubectl get returns every object" test "$got" = "$want"
rv1=$(kcurl /_test/dump | jq_py 'd["resourceVersion"]')
out=$(kubectl apply $KUBECTL_VALIDATE -k "$DS" 2>&1)
nu=$(grep -cE ' (unchanged|configured)$' <<<"$out")
rv2=$(kcurl /_test/dump | jq_py 'd["resourceVersion"]')
# kubectl reports the Secrets "configured" (their write-only stringData is
# always in its patch, as against a real server), but nothing may change.
t_cmd "applying again changes no object ($nu of $n applied, resourceVersion $rv1 -> $rv2)" \
	test "$nu $rv1" = "$n $rv2"
kubectl wait --for condition=established --timeout=10s crd/podvolumebackups.cairn.dev >/dev/null 2>&1
est=$?
kubectl create $KUBECTL_VALIDATE -f - >/dev/null 2>&1 <<'EOF'
apiVersion: cairn.dev/v1alpha1
kind: PodVolumeBackup
metadata: {name: sample, namespace: cairn}
spec: {node: n1, pod: {name: a, namespace: b, uid: u}, volume: v, backupStorageLocation: default}
EOF
kcurl /apis/cairn.dev/v1alpha1/namespaces/cairn/podvolumebackups/sample/status -X PATCH \
	-H 'Content-Type: application/merge-patch+json' \
	-d '{"status": {"phase": "InProgress", "progress": {"bytesDone": 5, "totalBytes": 9}}}' >/dev/null
hdr=$(kubectl get podvolumebackups.cairn.dev -n cairn --field-selector spec.node=n1 2>&1)
t_cmd "CRD established; its printer columns and selectableFields are served" \
	bash -c '[ "$1" = 0 ] && grep -q "BYTES DONE" <<<"$2" && grep -Eq "^sample +InProgress" <<<"$2"' _ "$est" "$hdr"
t_done
