#!/bin/bash
# shellcheck disable=SC2015 # ok and t_fail always succeed: A && ok || t_fail is safe
# Hooks outlive a pass of the controller's loop, against the API double with a real
# `cairn agent`. Backup A's pod has a pre hook that waits for a gate file the test creates;
# Backup B, created after A, has quick hooks and reaches Completed while A's hook still
# waits (its end mark is not written yet), and A stays InProgress with the hook counted in
# status.hooks. The controller is then killed (-9) mid-hook and restarted: it runs A's pre
# hook again (it was recorded in status.hooks.pre), and once the gate opens A completes
# with the volume read after the pre hook's end and the post hook run exactly once, after
# the volume. Backup C, deleted while its pre hook waits, goes only after the hook returned
# and its post hook ran. Nothing here depends on speed: the hook waits for a file, polls are generous.
export CAIRN_PASSWORD=e2e-hooks-async-password
# shellcheck source=tests/e2e/ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"
lines() { [ "$(wc -l 2>/dev/null <"$1" || echo 0)" -ge "$2" ]; }
# The hooks run in the pod's volume root: `gate` is beside volume `data`, not in it. Each
# pre hook run appends its start; the end and post marks are times (date +%s.%N).
SLOW='["sh", "-c", "date +%s.%N >> data/pre-starts; while [ ! -e gate ]; do sleep 0.1; done; date +%s.%N > data/pre-end.ts"]'
QUICK='["sh", "-c", "date +%s.%N > data/pre-end.ts"]'
POST='["sh", "-c", "date +%s.%N >> data/post.ts"]'
# hpod NAME LABEL PRE: a Running pod on n1 labelled case=LABEL with one emptyDir volume
# `data`, pre hook PRE (10 minutes' timeout) and post hook POST. Prints its uid.
hpod() {
	ctl_hook_pod "$1" "$2" "    pre.hook.backup.velero.io/command: '$3'
    pre.hook.backup.velero.io/timeout: 10m
    post.hook.backup.velero.io/command: '$POST'"
}
controller() {
	"$CAIRN_BIN" -r "$REPO" controller --kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 \
		--resync 200ms --validation-interval 1s --sync-interval 0 --hook-concurrency 2 \
		>>"$W/controller.log" 2>&1 &
	echo $! >"$W/controller.pid"
}
epoch() { date -u -d "$1" +%s; }
le() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null; }
mark() { cat "$1" 2>/dev/null || echo x; }

t_cmd "repository initialised" "$CAIRN_BIN" -r "$REPO" init
ka_node1_objects
ka_agent_pod_ready "$W/hp1"
ctl_agent_n1

UA=$(hpod pa slow "$SLOW")
UB=$(hpod pb quick "$QUICK")
DA=$W/hp1/$UA/$ED
DB=$W/hp1/$UB/$ED
controller
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create a --selector case=slow >/dev/null
t_ok "$(wait_for 120 lines "$DA/data/pre-starts" 1 && echo 0 || echo 1)" "A's pre hook started"
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create b --selector case=quick >/dev/null
t_ok "$(wait_for 180 is_phase b Completed && echo 0 || echo 1)" "B Completed while A's pre hook waits" ||
	t_note "b: $(bfield b 'd.get("status")')"
[ ! -e "$DA/data/pre-end.ts" ] && t_pass "A's pre hook had not ended when B completed" ||
	t_fail "A's pre hook ended before B completed (the gate is closed)"
[ "$(wc -l <"$DB/data/post.ts" 2>/dev/null)" = 1 ] && t_pass "B's post hook ran once" ||
	t_fail "B's post hook: $(mark "$DB/data/post.ts")"
is_phase a InProgress && t_pass "A is InProgress" || t_fail "A: $(bphase a)"
h=$(bfield a 'd["status"].get("hooks", {})')
echo "$h" | jq_py 'd.get("running", 0) >= 1 and [p["name"] for p in d.get("pre", [])] == ["pa"] and [p["name"] for p in d.get("pending", [])] == ["pa"]' |
	grep -qx true && t_pass "A's status: a hook running, pod pa mid-pre-hook and its post hook owed" ||
	t_fail "A's hooks: $h"
n=$(kcurl "$API/podvolumebackups?labelSelector=cairn.dev%2Fbackup-name%3Da" 2>/dev/null | jq_py 'len(d["items"])')
[ "$n" = 0 ] && t_pass "no PodVolumeBackup of A before its pre hook returned" || t_fail "A has $n PodVolumeBackups already"

# Killed mid-hook: the restarted controller runs the pre hook again (a second start mark).
kill -9 "$(cat "$W/controller.pid")"
wait "$(cat "$W/controller.pid")" 2>/dev/null
controller
t_ok "$(wait_for 120 lines "$DA/data/pre-starts" 2 && echo 0 || echo 1)" "after kill -9 and a restart A's pre hook ran again" ||
	t_note "pre-starts: $(tr '\n' ' ' <"$DA/data/pre-starts" 2>/dev/null)"
is_phase a InProgress && [ ! -e "$DA/data/post.ts" ] && [ ! -e "$DA/data/pre-end.ts" ] &&
	t_pass "A still InProgress, its pre hook waiting, no post hook yet" ||
	t_fail "A: $(bphase a), pre end: $(mark "$DA/data/pre-end.ts"), post: $(mark "$DA/data/post.ts")"

touch "$DA/gate"
t_ok "$(wait_for 180 is_phase a Completed && echo 0 || echo 1)" "A Completed once its pre hook returned" ||
	t_note "a: $(bfield a 'd.get("status")')"
uid=$(bfield a 'd["metadata"]["uid"]')
pvb=$(kcurl "$API/podvolumebackups?labelSelector=cairn.dev%2Fbackup-uid%3D$uid" 2>/dev/null |
	jq_py 'json.dumps(d["items"][0]) if len(d["items"]) == 1 else ""')
snap=$(echo "$pvb" | jq_py 'd["status"]["snapshotID"]')
created=$(epoch "$(echo "$pvb" | jq_py 'd["metadata"]["creationTimestamp"]')")
done_at=$(epoch "$(echo "$pvb" | jq_py 'd["status"]["completionTimestamp"]')")
END=$(mark "$DA/data/pre-end.ts")
le "$(python3 -c 'import sys; print(int(float(sys.argv[1])))' "$END" 2>/dev/null || echo x)" "$created" &&
	t_pass "A's one PodVolumeBackup was created ($created) after its pre hook returned ($END)" ||
	t_fail "A's PVB created $created, pre hook ended $END"
"$CAIRN_BIN" -r "$REPO" restore "$snap" --target "$W/r-a" >/dev/null 2>&1
rend=$(find "$W/r-a" -name pre-end.ts | head -n 1)
[ -n "$rend" ] && cmp -s "$rend" "$DA/data/pre-end.ts" && [ -z "$(find "$W/r-a" -name post.ts)" ] &&
	t_pass "A's snapshot holds the pre hook's end mark and not the post hook's" ||
	t_fail "A restored: $(find "$W/r-a" -type f | tr '\n' ' ')"
[ "$(wc -l <"$DA/data/post.ts" 2>/dev/null)" = 1 ] && le "$done_at" "$(mark "$DA/data/post.ts")" &&
	t_pass "A's post hook ran exactly once ($(mark "$DA/data/post.ts")), after the volume completed ($done_at)" ||
	t_fail "A's post hook: $(mark "$DA/data/post.ts" | tr '\n' ' '), volume completed $done_at"
h=$(bfield a 'd["status"].get("hooks", {})')
echo "$h" | jq_py 'd.get("failed", 0) == 0 and not d.get("pending") and not d.get("pre") and d.get("running", 0) == 0' |
	grep -qx true && t_pass "A's status: no hook failed, none owed, none running" || t_fail "A's hooks: $h"
# Deleted while its pre hook waits: the deletion waits for the hook, creates no
# PodVolumeBackup, then runs the pod's post hook once, after the pre hook's end.
UC=$(hpod pc del "$SLOW")
DC=$W/hp1/$UC/$ED
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create c --selector case=del >/dev/null
t_ok "$(wait_for 120 lines "$DC/data/pre-starts" 1 && echo 0 || echo 1)" "C's pre hook started"
t_cmd "kube backup delete c while its pre hook waits" "$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup delete c
gone() { [ "$(obj backups/c | jq_py 'd.get("kind", "")')" != Backup ]; }
! gone && [ ! -e "$DC/data/post.ts" ] && t_pass "C is kept while its pre hook waits, no post hook yet" ||
	t_fail "C gone: $(gone && echo yes), post: $(mark "$DC/data/post.ts")"
touch "$DC/gate"
t_cmd "C goes once its pre hook returned" wait_for 180 gone
n=$(kcurl "$API/podvolumebackups?labelSelector=cairn.dev%2Fbackup-name%3Dc" 2>/dev/null | jq_py 'len(d["items"])')
[ "$n" = 0 ] && t_pass "no PodVolumeBackup of the deleted C" || t_fail "C has $n PodVolumeBackups"
[ "$(wc -l <"$DC/data/post.ts" 2>/dev/null)" = 1 ] && le "$(mark "$DC/data/pre-end.ts")" "$(mark "$DC/data/post.ts")" &&
	t_pass "C's post hook ran once, after its pre hook ended" ||
	t_fail "C: pre end $(mark "$DC/data/pre-end.ts"), post $(mark "$DC/data/post.ts" | tr '\n' ' ')"
t_done
