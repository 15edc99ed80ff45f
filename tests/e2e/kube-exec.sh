#!/bin/bash
# pods/exec over a websocket: the real kubectl and cairn's client (tests/kube/kexec, on
# kube_exec) against the API double, which runs the command in the folder a pod's
# annotation names. Checks: output on both streams, exit codes, a 40 MiB stream intact,
# updates made on the same client while a stream runs, a timeout, refusals (no such
# container, pod not running), and that the token never appears in a message.
. "$(dirname "$0")/kubeapi-lib.sh"
t_on_exit ka_cleanup
KEXEC=${TOP_BUILDDIR:-$TOP_SRCDIR}/tests/kube/kexec
[ -x "$KEXEC" ] || { echo "Bail out! $KEXEC missing"; exit 1; }
ka_start
root=$KA_DIR/podroot
mkdir -p "$root/data"
pod() { # pod NAME PHASE [CONTAINERS...]
	local name=$1 phase=$2 cs
	shift 2
	cs=$(printf '{"name":"%s","image":"busybox"},' "$@")
	kcurl /api/v1/namespaces/cairn/pods -X POST -H 'Content-Type: application/json' -d \
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$name\",\"annotations\":{\"kubeapi.cairn.dev/exec-root\":\"$root\"}},\"spec\":{\"containers\":[${cs%,}]}}" >/dev/null
	kcurl "/api/v1/namespaces/cairn/pods/$name/status" -X PATCH \
		-H 'Content-Type: application/merge-patch+json' -d "{\"status\":{\"phase\":\"$phase\"}}" >/dev/null
}
pod app Running app sidecar
pod single Running main
pod pending Pending main

# kubectl keeps the double honest: the same command through the real client.
kubectl exec -n cairn app -c app -- sh -c 'echo out; echo err >&2; exit 3' \
	>"$KA_DIR/k.out" 2>"$KA_DIR/k.err"
rc=$?
t_cmd "kubectl exec: exit code 3 comes back" [ "$rc" -eq 3 ]
t_cmd "kubectl exec: stdout" grep -qx out "$KA_DIR/k.out"
t_cmd "kubectl exec: stderr" grep -qx err "$KA_DIR/k.err"

"$KEXEC" "$KUBECONFIG" cairn app app 30 sh -c 'echo out; echo err >&2; exit 3' \
	>"$KA_DIR/c.out" 2>"$KA_DIR/c.err"
rc=$?
t_cmd "kube_exec: exit code 3 comes back" [ "$rc" -eq 3 ]
t_cmd "kube_exec: stdout as kubectl saw it" cmp -s "$KA_DIR/k.out" "$KA_DIR/c.out"
# kubectl adds its own "command terminated with exit code 3" line
t_cmd "kube_exec: stderr as kubectl saw it" [ "$(head -n1 "$KA_DIR/k.err")" = "$(cat "$KA_DIR/c.err")" ]

"$KEXEC" "$KUBECONFIG" cairn single "" 30 sh -c 'date +%s.%N > data/stamp' 2>"$KA_DIR/e"
t_cmd "kube_exec: the pod's only container without a name; exit 0" [ $? -eq 0 ]
t_cmd "the command ran in the pod's folder" [ -s "$root/data/stamp" ]

KEXEC_THEN_GET=1 "$KEXEC" "$KUBECONFIG" cairn single "" 30 true 2>"$KA_DIR/e"
t_ok $? "the same client serves a request after an exec" || t_diag "$KA_DIR/e"

head -c 40M /dev/urandom >"$root/data/big"
"$KEXEC" "$KUBECONFIG" cairn app app 120 cat data/big >"$KA_DIR/big" 2>"$KA_DIR/e"
t_cmd "kube_exec: 40 MiB of stdout arrive intact" cmp -s "$root/data/big" "$KA_DIR/big"

# The agent records progress (a PUT on the same client) while a backup command streams:
# that request must not touch the exec's connection (it once shared the curl handle, and
# the stream broke or stalled mid-way).
KEXEC_PUT_DURING=/api/v1/namespaces/cairn/pods/app "$KEXEC" "$KUBECONFIG" cairn app app 120 \
	cat data/big >"$KA_DIR/big2" 2>"$KA_DIR/e"
rc=$?
t_ok $rc "kube_exec: updates on the same client during the stream; exit 0" || t_diag "$KA_DIR/e"
t_cmd "kube_exec: the 40 MiB arrive intact across those updates" cmp -s "$root/data/big" "$KA_DIR/big2"
puts=$(sed -n 's/^kexec: \([0-9]*\) updates$/\1/p' "$KA_DIR/e")
stored=$(kcurl /api/v1/namespaces/cairn/pods/app | jq_py \
	'd["metadata"].get("annotations", {}).get("kexec.cairn.dev/updates", "0")')
[ "${puts:-0}" -ge 10 ] && [ "$stored" = "$puts" ]
t_ok $? "the updates ran mid-stream and reached the server (${puts:-?} sent, $stored stored)"

"$KEXEC" "$KUBECONFIG" cairn app app 2 sleep 59.25 2>"$KA_DIR/e"
rc=$?
t_cmd "kube_exec: a command past its timeout ends with exit 124" [ "$rc" -eq 124 ]
t_cmd "kube_exec: the timeout is named" grep -q "timed out" "$KA_DIR/e"
gone() { ! pgrep -f 'sleep 59[.]25' >/dev/null; }
t_wait 60 gone
t_ok $? "the abandoned command is ended when the client goes away"

"$KEXEC" "$KUBECONFIG" cairn app nosuch 30 true 2>"$KA_DIR/e"
rc=$?
t_cmd "kube_exec: no such container is refused (125)" [ "$rc" -eq 125 ]
t_cmd "kube_exec: the refusal names the container" grep -q "nosuch" "$KA_DIR/e"
t_cmd "the token is in no message" bash -c "! grep -qF '$KA_TOKEN' '$KA_DIR/e'"

"$KEXEC" "$KUBECONFIG" cairn pending main 30 true 2>"$KA_DIR/e"
t_cmd "kube_exec: a pod that is not running is refused" [ $? -eq 125 ]
"$KEXEC" "$KUBECONFIG" cairn app "" 30 true 2>"$KA_DIR/e"
t_cmd "kube_exec: two containers and none named is refused with the choice" \
	grep -q "container name must be specified" "$KA_DIR/e"
t_done
