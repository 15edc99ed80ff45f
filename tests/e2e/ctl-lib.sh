# shellcheck shell=bash
# The set-up the controller suites share (sourced, not run; set CAIRN_PASSWORD first):
# the API double with cairn's CRDs started, a work folder W (REPO inside it), the clean-up
# (kill -9 of every $W/*.pid, the tail of every $W/*.log when a check failed), and the
# helpers obj (GET under $API), bfield/bphase (a Backup's fields with its status-detail
# annotation folded in), wait_for, ctl_stop, is_phase and running (mark a pod Running).
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
is_phase() { [ "$(bphase "$1")" = "$2" ]; }
running() { # OBJECT-PATH
	kcurl "$1/status" -X PATCH -H 'Content-Type: application/merge-patch+json' \
		-d '{"status":{"phase":"Running"}}' >/dev/null
}
