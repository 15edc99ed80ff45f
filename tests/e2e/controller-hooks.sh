#!/bin/bash
# shellcheck disable=SC2015 # ok and t_fail always succeed: A && ok || t_fail is safe
# Pre and post hooks (Velero's pod annotations and Backup spec.hooks) run through
# pods/exec by `cairn controller`, against the API double (which runs exec commands in the
# folder a pod's kubeapi.cairn.dev/exec-root annotation names) with a real `cairn agent`.
# Ordering is proven by what the hooks write inside the pod: the pre hook's timestamp is
# in the snapshot, the post hook's is not and is later than the volume's completion. A
# failed hook in each mode, a hook timeout, the post hook after a failed backup and after
# the Backup was deleted mid-way.
export CAIRN_PASSWORD=e2e-hooks-password
# shellcheck source=tests/e2e/ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"
wait_backup() { # NAME PHASE...
	wait_for 120 phase_in "$@" || { t_note "backup $1 is '$(bphase "$1")' (wanted ${*#"$1"}): $(bfield "$1" 'd.get("status")')"; return 1; }
}
# hpod NAME ANNOTATIONS [NODE] (YAML lines, 4-space indented): a Running pod (on n1) labelled
# case=NAME with one emptyDir volume `data`; its exec root is its emptyDir folder, created
# with a file in the volume. Prints the pod's uid.
hpod() { ctl_hook_pod "$1" "$1" "$2" "${3:-n1}"; }
backup() { # NAME CASE
	"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create "$1" --selector "case=$2" >/dev/null
}
# epoch RFC3339 -> seconds
epoch() { date -u -d "$1" +%s; }

t_cmd "repository initialised" "$CAIRN_BIN" -r "$REPO" init
ka_node1_objects
ka_agent_pod_ready "$W/hp1"
ctl_agent_n1
"$CAIRN_BIN" -r "$REPO" controller --kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 \
	--resync 200ms --validation-interval 1s --sync-interval 0 >>"$W/controller.log" 2>&1 &
echo $! >"$W/controller.pid"

# ---- ordering: annotations, JSON-array commands ----
U1=$(hpod order "    pre.hook.backup.velero.io/container: c
    pre.hook.backup.velero.io/command: '[\"sh\", \"-c\", \"date +%s.%N > data/pre.ts\"]'
    post.hook.backup.velero.io/command: '[\"sh\", \"-c\", \"date +%s.%N > data/post.ts\"]'")
backup order order
t_cmd "backup with hooks Completed" wait_backup order Completed
D1=$W/hp1/$U1/$ED/data
pvb=$(pvbs_of order | jq_py 'd["items"][0]')
snap=$(echo "$pvb" | jq_py 'd["status"]["snapshotID"]')
done_at=$(epoch "$(echo "$pvb" | jq_py 'd["status"]["completionTimestamp"]')")
created=$(epoch "$(echo "$pvb" | jq_py 'd["metadata"]["creationTimestamp"]')")
"$CAIRN_BIN" -r "$REPO" restore "$snap" --target "$W/r-order" >/dev/null 2>&1
rpre=$(find "$W/r-order" -name pre.ts | head -n 1)
[ -n "$rpre" ] && cmp -s "$rpre" "$D1/pre.ts" &&
	t_pass "the snapshot holds the pre hook's timestamp: the volume was read after it ran" ||
	t_fail "pre.ts in the snapshot: '$rpre'; in the pod: $(cat "$D1/pre.ts" 2>&1)"
[ -z "$(find "$W/r-order" -name post.ts)" ] && [ -s "$D1/post.ts" ] &&
	t_pass "the post hook ran, and not before the volume was read (post.ts not in the snapshot)" ||
	t_fail "post.ts: $(find "$D1" "$W/r-order" 2>&1 | tr "\n" " ")"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' \
	"$(cat "$D1/post.ts" 2>/dev/null || echo 0)" "$done_at" &&
	t_pass "post hook's timestamp ($(cat "$D1/post.ts")) is after the volume's completion ($done_at)" ||
	t_fail "post $(cat "$D1/post.ts" 2>&1) before completion $done_at"
python3 -c 'import sys; sys.exit(0 if int(float(sys.argv[1])) <= int(sys.argv[2]) else 1)' \
	"$(cat "$D1/pre.ts" 2>/dev/null || echo 9e99)" "$created" &&
	t_pass "the PodVolumeBackup was created after the pre hook ran" ||
	t_fail "pre $(cat "$D1/pre.ts" 2>&1), PVB created $created"
h=$(bfield order 'd["status"].get("hooks", {})')
echo "$h" | jq_py 'd.get("attempted") == 2 and d.get("failed", 0) == 0 and not d.get("pending")' |
	grep -qx true && t_pass "status counts 2 hooks attempted, none failed, none owed" || t_fail "hooks: $h"
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup describe order | grep -q 'Hooks: *2 attempted, 0 failed' &&
	t_pass "describe shows the hook counts" || t_fail "describe: $("$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup describe order)"

# ---- on-error Fail, from the Backup's spec.hooks; the post hook still runs ----
U2=$(hpod failing "    note: \"hooks from the Backup spec\"")
kc create -f - >/dev/null <<'EOF'
apiVersion: cairn.dev/v1alpha1
kind: Backup
metadata: {name: failing, namespace: cairn}
spec:
  labelSelector: {matchLabels: {case: failing}}
  hooks:
    resources:
    - name: quiesce
      includedNamespaces: [app]
      labelSelector: {matchLabels: {case: failing}}
      pre:
      - exec: {container: c, command: [sh, -c, "echo cannot-quiesce-db >&2; exit 7"], onError: Fail}
      post:
      - exec: {command: [sh, -c, "date +%s.%N > post.ts"]}
EOF
t_cmd "pre hook failure (Fail): backup Failed" wait_backup failing Failed
er=$(bfield failing 'd["status"].get("errorMessages", [])')
echo "$er" | grep -q 'pod app/failing volume data: pre hook quiesce\[0\] in container c failed: exit code 7: cannot-quiesce-db' &&
	t_pass "the volume failed with the hook's exit code and stderr" || t_fail "errors: $er"
t_cmd "no PodVolumeBackup for the failed pre hook" test "$(pvbs_of failing | jq_py 'len(d["items"])')" = 0
t_cmd "the post hook ran after the failed pre hook" test -s "$W/hp1/$U2/$ED/post.ts"

# ---- on-error Continue: a warning, the volume is backed up ----
hpod soft "    pre.hook.backup.velero.io/command: '[\"sh\", \"-c\", \"echo just-a-warning >&2; exit 3\"]'
    pre.hook.backup.velero.io/on-error: Continue" >/dev/null
backup soft soft
t_cmd "pre hook failure (Continue): backup Completed" wait_backup soft Completed
w=$(bfield soft 'd["status"].get("warningMessages", [])')
echo "$w" | grep -q 'pod app/soft: pre hook (annotation) in container c failed (on-error Continue): exit code 3: just-a-warning' &&
	t_pass "the failure is a warning with its stderr" || t_fail "warnings: $w"
t_cmd "its volume was backed up" test "$(pvbs_of soft | jq_py '[i["status"]["phase"] for i in d["items"]]')" = '["Completed"]'

# ---- a hook past its timeout ----
hpod slow "    pre.hook.backup.velero.io/command: '[\"sleep\", \"60\"]'
    pre.hook.backup.velero.io/timeout: 2s" >/dev/null
t0=$(date +%s)
backup slow slow
t_cmd "pre hook timeout: backup Failed" wait_backup slow Failed
t1=$(date +%s)
bfield slow 'd["status"].get("errorMessages", [])' | grep -q 'volume data: pre hook (annotation) in container c failed: timed out after 2s' &&
	t_pass "the message names the timeout" || t_fail "errors: $(bfield slow 'd["status"]')"
[ $((t1 - t0)) -lt 50 ] && t_pass "the controller gave up at the timeout, not the command's end ($((t1 - t0))s)" ||
	t_fail "took $((t1 - t0))s"

# ---- the post hook after a failed backup: the volume's folder is missing on the node ----
U5=$(hpod broken "    pre.hook.backup.velero.io/command: '[\"sh\", \"-c\", \"date +%s.%N > pre.ts\"]'
    post.hook.backup.velero.io/command: '[\"sh\", \"-c\", \"date +%s.%N > post.ts\"]'")
R5=$W/hp1/$U5/$ED
mv "$R5/data" "$W/broken-data-moved"
backup broken broken
t_cmd "volume unreadable: backup Failed" wait_backup broken Failed
t_cmd "the pre hook ran" test -s "$R5/pre.ts"
t_cmd "the post hook ran after the failed volume" test -s "$R5/post.ts"
pvb=$(pvbs_of broken | jq_py 'd["items"][0]')
t_cmd "its PodVolumeBackup Failed" test "$(echo "$pvb" | jq_py 'd["status"]["phase"]')" = Failed
done_at=$(epoch "$(echo "$pvb" | jq_py 'd["status"]["completionTimestamp"]')")
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' \
	"$(cat "$R5/post.ts" 2>/dev/null || echo 0)" "$done_at" &&
	t_pass "... and only after the volume failed" || t_fail "post $(cat "$R5/post.ts" 2>&1) before $done_at"

# ---- a Backup deleted while its volume waits (n3's agent never answers) ----
kc create -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: cairn-node-agent-n3, namespace: cairn, labels: {name: cairn-node-agent}}
spec: {nodeName: n3, containers: [{name: agent, image: cairn}]}
EOF
running /api/v1/namespaces/cairn/pods/cairn-node-agent-n3
U6=$(hpod stuck "    pre.hook.backup.velero.io/command: '[\"sh\", \"-c\", \"date +%s.%N > pre.ts\"]'
    post.hook.backup.velero.io/command: '[\"sh\", \"-c\", \"date +%s.%N > post.ts\"]'" n3)
R6=$W/hp1/$U6/$ED
backup stuck stuck
t_cmd "stuck backup InProgress" wait_backup stuck InProgress
t_cmd "its pre hook ran" test -s "$R6/pre.ts"
sleep 1
t_cmd "no post hook while its volume is unfinished" test ! -e "$R6/post.ts"
t_cmd "describe names the owed post hook" sh -c "'$CAIRN_BIN' kube --kubeconfig '$KUBECONFIG' backup describe stuck | grep -q '1 post hooks owed'"
t_cmd "kube backup delete" "$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup delete stuck
gone() { [ "$(obj backups/stuck | jq_py 'd.get("kind", "")')" != Backup ]; }
t_cmd "deleted backup goes once its volume's grace ended" wait_for 150 gone
t_cmd "the deleted backup's post hook ran" test -s "$R6/post.ts"

for f in "$W"/*.pid; do kill "$(cat "$f")" 2>/dev/null; done
for f in "$W"/*.pid; do wait "$(cat "$f")" 2>/dev/null; rm -f "$f"; done
grep -q "$KA_TOKEN" "$W"/*.log && t_fail "token leaked into a log" || t_pass "no token in the logs"
t_done
