#!/bin/bash
# pods/exec over a websocket: the real kubectl and cairn's client (tests/kube/kexec, on
# kube_exec) against the API double, which runs the command in the folder a pod's
# annotation names. Checks: output on both streams, exit codes, a 40 MiB stream intact,
# a timeout, refusals (no such container, pod not running), and that the token never
# appears in a message.
. "$(dirname "$0")/kubeapi-lib.sh"
trap ka_cleanup EXIT
KEXEC=${TOP_BUILDDIR:-$TOP_SRCDIR}/tests/kube/kexec
[ -x "$KEXEC" ] || { echo "Bail out! $KEXEC missing"; exit 1; }
ka_start
root=$KA_DIR/podroot
mkdir -p "$root/data"
pod() { # pod NAME PHASE [CONTAINERS...]
	local name=$1 phase=$2 cs
	shift 2
	cs=$(printf '{"name":"%s","image":"busybox"},' "$@")
	kcurl /api/v1/namespaces/velero/pods -X POST -H 'Content-Type: application/json' -d \
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$name\",\"annotations\":{\"kubeapi.cairn.dev/exec-root\":\"$root\"}},\"spec\":{\"containers\":[${cs%,}]}}" >/dev/null
	kcurl "/api/v1/namespaces/velero/pods/$name/status" -X PATCH \
		-H 'Content-Type: application/merge-patch+json' -d "{\"status\":{\"phase\":\"$phase\"}}" >/dev/null
}
pod app Running app sidecar
pod single Running main
pod pending Pending main

# kubectl keeps the double honest: the same command through the real client.
kubectl exec -n velero app -c app -- sh -c 'echo out; echo err >&2; exit 3' \
	>"$KA_DIR/k.out" 2>"$KA_DIR/k.err"
rc=$?
check "kubectl exec: exit code 3 comes back" [ "$rc" -eq 3 ]
check "kubectl exec: stdout" grep -qx out "$KA_DIR/k.out"
check "kubectl exec: stderr" grep -qx err "$KA_DIR/k.err"

"$KEXEC" "$KUBECONFIG" velero app app 30 sh -c 'echo out; echo err >&2; exit 3' \
	>"$KA_DIR/c.out" 2>"$KA_DIR/c.err"
rc=$?
check "kube_exec: exit code 3 comes back" [ "$rc" -eq 3 ]
check "kube_exec: stdout as kubectl saw it" cmp -s "$KA_DIR/k.out" "$KA_DIR/c.out"
# kubectl adds its own "command terminated with exit code 3" line
check "kube_exec: stderr as kubectl saw it" [ "$(head -n1 "$KA_DIR/k.err")" = "$(cat "$KA_DIR/c.err")" ]

"$KEXEC" "$KUBECONFIG" velero single "" 30 sh -c 'date +%s.%N > data/stamp' 2>"$KA_DIR/e"
check "kube_exec: the pod's only container without a name; exit 0" [ $? -eq 0 ]
check "the command ran in the pod's folder" [ -s "$root/data/stamp" ]

head -c 40M /dev/urandom >"$root/data/big"
"$KEXEC" "$KUBECONFIG" velero app app 120 cat data/big >"$KA_DIR/big" 2>"$KA_DIR/e"
check "kube_exec: 40 MiB of stdout arrive intact" cmp -s "$root/data/big" "$KA_DIR/big"

"$KEXEC" "$KUBECONFIG" velero app app 2 sleep 60 2>"$KA_DIR/e"
rc=$?
check "kube_exec: a command past its timeout ends with exit 124" [ "$rc" -eq 124 ]
check "kube_exec: the timeout is named" grep -q "timed out" "$KA_DIR/e"

"$KEXEC" "$KUBECONFIG" velero app nosuch 30 true 2>"$KA_DIR/e"
rc=$?
check "kube_exec: no such container is refused (125)" [ "$rc" -eq 125 ]
check "kube_exec: the refusal names the container" grep -q "nosuch" "$KA_DIR/e"
check "the token is in no message" bash -c "! grep -qF '$KA_TOKEN' '$KA_DIR/e'"

"$KEXEC" "$KUBECONFIG" velero pending main 30 true 2>"$KA_DIR/e"
check "kube_exec: a pod that is not running is refused" [ $? -eq 125 ]
"$KEXEC" "$KUBECONFIG" velero app "" 30 true 2>"$KA_DIR/e"
check "kube_exec: two containers and none named is refused with the choice" \
	grep -q "container name must be specified" "$KA_DIR/e"
echo "1..$T"
[ "$FAILED" -eq 0 ]
