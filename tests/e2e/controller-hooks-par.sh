#!/bin/bash
# shellcheck disable=SC2015 # ok and t_fail always succeed: A && ok || t_fail is safe
# Hooks of many pods at once (`cairn controller --hook-concurrency`), against the API
# double with a real `cairn agent`. Three pods whose pre hooks each sleep; with a bound of
# two, the hooks' own recorded start and end times (written inside each pod) show that two
# ran at the same time and that the third waited for one of them; per pod the volume is
# still read after its pre hook returned (its end mark is in the snapshot, the PVB was
# created after it) and its post hook ran after the volume was read. No wall-clock speed
# is asserted: only the order of recorded times.
export CAIRN_PASSWORD=e2e-hooks-par-password
# shellcheck source=tests/e2e/ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"
# The hooks write their marks (date +%s.%N) into the volume: pre-start, pre-end, post.
PRE='["sh", "-c", "date +%s.%N > data/pre-start.ts; sleep 4; date +%s.%N > data/pre-end.ts"]'
POST='["sh", "-c", "date +%s.%N > data/post.ts"]'
# hpod NAME: a Running pod on n1 labelled case=par with one emptyDir volume `data`, pre
# hook PRE and post hook POST. Prints its uid.
hpod() {
	ctl_hook_pod "$1" par "    pre.hook.backup.velero.io/command: '$PRE'
    post.hook.backup.velero.io/command: '$POST'"
}
epoch() { date -u -d "$1" +%s; }
# le A B: A <= B as numbers (a missing mark is "x" and fails)
le() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null; }
lt() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null; }
mark() { cat "$1" 2>/dev/null || echo x; }

t_cmd "repository initialised" "$CAIRN_BIN" -r "$REPO" init
ka_node1_objects
ka_agent_pod_ready "$W/hp1"
ctl_agent_n1

t_cmd "--hook-concurrency 0 is refused" sh -c \
	"! '$CAIRN_BIN' controller --hook-concurrency 0 --kubeconfig '$KUBECONFIG' 2>'$W/bad.err' && grep -q 'hook-concurrency' '$W/bad.err'"

declare -A U
for p in pa pb pc; do U[$p]=$(hpod $p); done
"$CAIRN_BIN" -r "$REPO" controller --kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 \
	--resync 200ms --validation-interval 1s --sync-interval 0 --hook-concurrency 2 \
	>>"$W/controller.log" 2>&1 &
echo $! >"$W/controller.pid"
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create par --selector case=par >/dev/null
t_ok "$(wait_for 180 is_phase par Completed && echo 0 || echo 1)" "backup of three pods with slow pre hooks Completed" ||
	t_note "status: $(bfield par 'd.get("status")')"

uid=$(bfield par 'd["metadata"]["uid"]')
pvbs=$(kcurl "$API/podvolumebackups?labelSelector=cairn.dev%2Fbackup-uid%3D$uid" 2>/dev/null)
declare -A S E
for p in pa pb pc; do
	D=$W/hp1/${U[$p]}/$ED/data
	S[$p]=$(mark "$D/pre-start.ts")
	E[$p]=$(mark "$D/pre-end.ts")
done
t_note "pre hooks (start end): pa ${S[pa]} ${E[pa]}; pb ${S[pb]} ${E[pb]}; pc ${S[pc]} ${E[pc]}"

# Two of them overlapped: some hook started before another one ended.
overlap=0
for a in pa pb pc; do
	for b in pa pb pc; do
		[ $a = $b ] && continue
		le "${S[$a]}" "${S[$b]}" && lt "${S[$b]}" "${E[$a]}" && overlap=1
	done
done
[ $overlap = 1 ] && t_pass "two pods' pre hooks ran at the same time (one started before another ended)" ||
	t_fail "no two pre hooks overlapped"
# Never three at once with a bound of two: the last to start began after one had ended.
last=$(printf '%s pa\n%s pb\n%s pc\n' "${S[pa]}" "${S[pb]}" "${S[pc]}" | sort -g | tail -n 1 | cut -d' ' -f2)
first_end=$(printf '%s\n' "${E[pa]}" "${E[pb]}" "${E[pc]}" | sort -g | head -n 1)
le "$first_end" "${S[$last]}" && t_pass "--hook-concurrency 2: the third pod's hook started after one had ended" ||
	t_fail "three hooks at once: the last ($last) started ${S[$last]}, the first ended $first_end"

for p in pa pb pc; do
	D=$W/hp1/${U[$p]}/$ED/data
	pvb=$(echo "$pvbs" | python3 -c '
import json, sys
for it in json.load(sys.stdin)["items"]:
    if it["spec"]["pod"]["name"] == sys.argv[1]: print(json.dumps(it))' "$p")
	snap=$(echo "$pvb" | jq_py 'd["status"]["snapshotID"]')
	created=$(epoch "$(echo "$pvb" | jq_py 'd["metadata"]["creationTimestamp"]')")
	done_at=$(epoch "$(echo "$pvb" | jq_py 'd["status"]["completionTimestamp"]')")
	le "$(python3 -c 'import sys; print(int(float(sys.argv[1])))' "${E[$p]}" 2>/dev/null || echo x)" "$created" &&
		t_pass "$p: its PodVolumeBackup was created ($created) after its pre hook returned (${E[$p]})" ||
		t_fail "$p: PVB created $created, pre hook ended ${E[$p]}"
	"$CAIRN_BIN" -r "$REPO" restore "$snap" --target "$W/r-$p" >/dev/null 2>&1
	rend=$(find "$W/r-$p" -name pre-end.ts | head -n 1)
	[ -n "$rend" ] && cmp -s "$rend" "$D/pre-end.ts" && [ -z "$(find "$W/r-$p" -name post.ts)" ] &&
		t_pass "$p: the snapshot holds the pre hook's end mark and not the post hook's" ||
		t_fail "$p: restored $(find "$W/r-$p" -type f | tr '\n' ' ')"
	le "$done_at" "$(mark "$D/post.ts")" &&
		t_pass "$p: post hook ran ($(mark "$D/post.ts")) after the volume completed ($done_at)" ||
		t_fail "$p: post $(mark "$D/post.ts"), volume completed $done_at"
done
h=$(bfield par 'd["status"].get("hooks", {})')
echo "$h" | jq_py 'd.get("attempted") == 6 and d.get("failed", 0) == 0 and not d.get("pending")' |
	grep -qx true && t_pass "status counts 6 hooks attempted, none failed, none owed" || t_fail "hooks: $h"
t_done
