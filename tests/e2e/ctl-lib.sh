# shellcheck shell=bash
# The set-up the controller suites share (sourced, not run; set CAIRN_PASSWORD first):
# the API double with cairn's CRDs started, a work folder W (REPO inside it), the clean-up
# (kill -9 of every $W/*.pid, the tail of every $W/*.log when a check failed), and the
# helpers obj (GET under $API), bfield/bphase (a Backup's fields with its status-detail
# annotation folded in), wait_for, ctl_stop, phase_in, is_phase, pvbs_of, running (mark a
# pod Running), ctl_clock (the controller's injected clock), the pods to back up: ctl_pod
# and ctl_hook_pod, and ctl_agent_n1 (a real agent for node n1).
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/kubeapi-lib.sh"
W=$KA_DIR/work
mkdir -p "$W"
REPO=$W/repo
API=/apis/cairn.dev/v1alpha1/namespaces/cairn
ED=volumes/kubernetes.io~empty-dir

ctl_cleanup() {
	for f in "$W"/*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	if [ "$T_FAILED" -ne 0 ]; then
		for l in "$W"/*.log; do
			echo "# $l:"
			tail -n 25 "$l" 2>/dev/null | sed 's/^/#   /'
		done
	fi
	ka_cleanup
}
t_on_exit ctl_cleanup
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml

obj() { kcurl "$API/$1" 2>/dev/null; }
# bfield NAME EXPR: a Python expression over Backup `d`, its detail annotation folded in.
bfield() {
	obj "backups/$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
det = d.get("metadata", {}).get("annotations", {}).get("cairn.dev/status-detail")
if det: d.setdefault("status", {}).update(json.loads(det))
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r))' "$2" 2>/dev/null
}
bphase() { bfield "$1" 'd.get("status", {}).get("phase", "")'; }
wait_for() { # SECONDS COMMAND...: polls every 0.1 s until a deadline SECONDS away (a
	# count of polls would shrink or stretch with the load: each one starts python), and
	# tries once more at the deadline
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && { "$@"; return; }
		sleep 0.1
	done
}
# ctl_stop NAME...: stop the processes of $W/NAME.pid (TERM, then KILL past a 60 s
# deadline) and wait until they are gone, so that what follows never races them.
ctl_stop() {
	local n p end
	for n in "$@"; do
		[ -f "$W/$n.pid" ] || continue
		p=$(cat "$W/$n.pid")
		kill "$p" 2>/dev/null
		end=$((SECONDS + 60))
		while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		rm -f "$W/$n.pid"
	done
}
phase_in() { # NAME PHASE...
	p=$(bphase "$1")
	shift
	for want in "$@"; do [ "$p" = "$want" ] && return 0; done
	return 1
}
is_phase() { [ "$(bphase "$1")" = "$2" ]; }
running() { # OBJECT-PATH
	kcurl "$1/status" -X PATCH -H 'Content-Type: application/merge-patch+json' \
		-d '{"status":{"phase":"Running"}}' >/dev/null
}
# ctl_pod NAME LABEL ANNOTATIONS [NODE]: a Running pod NAME in namespace app on NODE (n1),
# labelled case=LABEL, annotated backup.velero.io/backup-volumes: data and ANNOTATIONS
# (YAML lines, 4-space indented, or ""), with one emptyDir volume `data` whose folder is
# made under $W/hp1. Prints the pod's uid.
ctl_pod() {
	local u
	kc create -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: app
  labels: {case: $2}
  annotations:
    backup.velero.io/backup-volumes: data
$3
spec:
  nodeName: ${4:-n1}
  containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /d}]}]
  volumes: [{name: data, emptyDir: {}}]
EOF
	running "/api/v1/namespaces/app/pods/$1"
	u=$(kc get pod -n app "$1" -o jsonpath='{.metadata.uid}')
	mkdir -p "$W/hp1/$u/$ED/data"
	echo "$u"
}
# ctl_hook_pod NAME LABEL ANNOTATIONS [NODE]: ctl_pod whose volume holds name.txt (NAME)
# and whose exec root (the folder the double runs pods/exec commands in: its
# kubeapi.cairn.dev/exec-root annotation) is its emptyDir folder, so that hooks run
# beside volume `data`. Prints the pod's uid.
ctl_hook_pod() {
	local u
	u=$(ctl_pod "$@")
	echo "$1" >"$W/hp1/$u/$ED/data/name.txt"
	kc annotate pod -n app "$1" "kubeapi.cairn.dev/exec-root=$W/hp1/$u/$ED" >/dev/null
	echo "$u"
}
# ctl_clock WHAT: the controller's injected clock, for a suite (WHAT, named when skipped)
# that moves it: CLOCK (the file CAIRN_TEST_CLOCK_FILE names) holds NOW, the time at the
# start. Only builds with --enable-test-hooks honour the file: elsewhere the suite skips.
ctl_clock() {
	if [ -z "${CAIRN_TEST_HOOKS:-}" ]; then
		t_skip "$1" "the clock file is honoured only with --enable-test-hooks"
		t_done
		exit 0
	fi
	CLOCK=$W/clock
	export CAIRN_TEST_CLOCK_FILE=$CLOCK
	NOW=$(date +%s)
	echo "$NOW" >"$CLOCK"
}
# pvbs_of BACKUP: the PodVolumeBackups of Backup BACKUP (by its uid label), as JSON.
pvbs_of() {
	uid=$(bfield "$1" 'd["metadata"]["uid"]')
	kcurl "$API/podvolumebackups?labelSelector=cairn.dev%2Fbackup-uid%3D$uid" 2>/dev/null
}
# ctl_agent_n1: a real `cairn agent` for node n1 on $REPO, its pods' folders in $W/hp1, one
# thread, its log $W/agent.log, its pid $W/agent.pid (the agent's own pod must be ready:
# ka_agent_pod_ready).
ctl_agent_n1() {
	"$CAIRN_BIN" -r "$REPO" agent --node n1 --host-pods "$W/hp1" --kubeconfig "$KUBECONFIG" \
		--metrics-address 127.0.0.1:0 --progress-interval 1 --threads 1 >>"$W/agent.log" 2>&1 &
	echo $! >"$W/agent.pid"
}
