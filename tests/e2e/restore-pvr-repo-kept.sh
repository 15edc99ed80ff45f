#!/bin/bash
# End to end, the repository a restore keeps open for the next PodVolumeRestore of the same
# location (agent/repocache.c):
# - the second restore reuses it (no key derivation, no index read again) and still finds
#   the data of a backup made after the first restore (its index file is read in);
# - after a prune that repacked the snapshot's data and rewrote the index, it is not used
#   (its index would name deleted packs): the repository is opened again and the restore
#   is complete;
# - after the agent's key was removed, it is not used either: the restore fails as a fresh
#   open does (a removed password must not keep working through a kept master key);
# - it is closed once idle (CAIRN_TEST_REPO_IDLE_SEC, test builds), and the next restore
#   opens the repository again.
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$(dirname "$0")/kubeapi-lib.sh"
ka_suite_env hp1 pv src/data
cairn() { "$CAIRN_BIN" -r "$REPO" "$@"; }

t_on_exit ka_stop_all
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml

# X holds big (dropped later) and small files in the same packs; Y only the small ones,
# all deduplicated against X: forgetting X makes prune repack Y's data and rewrite the index.
S=$W/src/data
mkdir -p "$S/big" "$S/keep"
head -c 3000000 /dev/urandom >"$S/big/a.bin"
for i in 1 2 3 4 5; do head -c 20000 /dev/urandom >"$S/keep/f$i"; done
cairn init >/dev/null 2>&1 || t_bail "cairn init failed"
cairn backup "$S" >/dev/null 2>&1 || t_bail "cairn backup failed"
SNAP_X=$(cairn snapshots --json | jq -r '.[-1].id')
rm -rf "$S/big"
cairn backup "$S" >/dev/null 2>&1 || t_bail "cairn backup failed"
SNAP_Y=$(cairn snapshots --json | jq -r '.[-1].id')
cp -a "$S" "$W/want-y"
[ "$SNAP_X" != "$SNAP_Y" ] || t_bail "two snapshots expected"

ka_node1 "$W"
HELPERS="h1 h2 h3 h4 h5 h6"
for h in $HELPERS; do
	ka_restore_helper "$h" "$h"
done
all_running() { for h in $HELPERS; do is_running app "$h" || return 1; done; }
t_wait 120 all_running
t_ok $? "six helper pods Running" || t_bail "no pods"
ka_agent_pod_ready "$W/hp1"

# start_agent LOG: an agent at -vv (the kept repository's decisions are debug lines).
start_agent() {
	"$CAIRN_BIN" -r "$REPO" -vv agent --node n1 --host-pods "$W/hp1" --kubeconfig "$KUBECONFIG" \
		--metrics-address 127.0.0.1:0 --progress-interval 1 --threads 2 >>"$W/$1" 2>&1 &
	echo $! >"$W/agent.pid"
}
port_said() { grep -q "metrics and /healthz on port" "$W/$1"; }
# metric LOG NAME: the agent's counter NAME, from its /metrics.
metric() {
	local port
	port=$(sed -n 's/.*metrics and \/healthz on port \([0-9]*\).*/\1/p' "$W/$1" | tail -n 1)
	curl -s "http://127.0.0.1:$port/metrics" | awk -v n="$2" '$1 == n {print $2}'
}
# pvr NAME POD SNAPSHOT: create a PodVolumeRestore, wait for its end, print its phase.
n_pvr=0
pvr() {
	n_pvr=$((n_pvr + 1))
	ka_pvr "$1" "$2" data "22222222-0000-4000-8000-00000000000$n_pvr" "$3"
	ka_pvr_end "$1"
}
vol() { echo "$W/hp1/$(field "/api/v1/namespaces/app/pods/$1" .metadata.uid)/volumes/kubernetes.io~local-volume/$(pv_of app "$1")"; }
# same DESC WANT POD: the pod's volume holds WANT (the done-file folder aside).
same() {
	rm -rf "$(vol "$3")/.velero"
	# shellcheck disable=SC2046 # t_owner_opt: no word or one
	t_same "$1" --no-atime $(t_owner_opt) --ignore-root-times "$2" "$(vol "$3")"
}

start_agent agent.log
t_wait 60 port_said agent.log || t_bail "the agent did not start"

# ---- reuse, with a backup made in between ----
[ "$(pvr r1 h1 "$SNAP_Y")" = Completed ]
t_ok $? "first restore: Completed"
same "first restore: the volume is the snapshot's" "$W/want-y" h1
head -c 50000 /dev/urandom >"$S/keep/new"
cairn backup "$S" >/dev/null 2>&1 || t_bail "cairn backup failed"
SNAP_Z=$(cairn snapshots --json | jq -r '.[-1].id')
cp -a "$S" "$W/want-z"
[ "$(pvr r2 h2 "$SNAP_Z")" = Completed ]
t_ok $? "second restore, of a snapshot taken after the first: Completed"
same "second restore: the volume is the new snapshot's (its index file was read in)" \
	"$W/want-z" h2
[ "$(metric agent.log cairn_restore_repository_opens_total)" = 1 ] &&
	[ "$(metric agent.log cairn_restore_repository_reuses_total)" = 1 ]
t_ok $? "the second restore reused the repository the first kept open (opens $(metric agent.log cairn_restore_repository_opens_total), reuses $(metric agent.log cairn_restore_repository_reuses_total))"
grep -q "pvr cairn/r2: times (ms): .*(repository kept open)" "$W/agent.log"
t_ok $? "-vv: the step times say the repository was kept open"

# ---- a prune rewrote the index: the kept repository is not used ----
find "$REPO/index" -type f -printf '%f\n' | sort >"$W/index.1"
cairn forget "$SNAP_X" >/dev/null 2>&1 && cairn prune >"$W/prune.log" 2>&1
t_ok $? "forget X and prune" || t_diag "$W/prune.log"
find "$REPO/index" -type f -printf '%f\n' | sort >"$W/index.2"
[ -n "$(comm -23 "$W/index.1" "$W/index.2")" ]
t_ok $? "precondition: the prune removed index files"
[ "$(pvr r3 h3 "$SNAP_Y")" = Completed ]
t_ok $? "restore after the prune: Completed ($(field "$API/podvolumerestores/r3" '.status.message // ""'))"
same "restore after the prune: the volume is the snapshot's" "$W/want-y" h3
grep -q "pvr cairn/r3: the repository kept open is not used: index files were removed" \
	"$W/agent.log" && [ "$(metric agent.log cairn_restore_repository_opens_total)" = 2 ]
t_ok $? "the kept repository was dropped and the repository opened again"

# ---- the agent's key removed: the kept master key does not outlive it ----
echo "another password" >"$W/pw2"
cairn key add --new-password-file "$W/pw2" >/dev/null 2>&1 || t_bail "cairn key add failed"
OLD_KEY=$(cairn key list --json | jq -r '.[] | select(.current) | .id')
CAIRN_PASSWORD="another password" cairn key remove "$OLD_KEY" >"$W/keyrm.log" 2>&1
t_ok $? "the agent's key removed with the other password" || t_diag "$W/keyrm.log"
[ "$(pvr r4 h4 "$SNAP_Y")" = Failed ] &&
	field "$API/podvolumerestores/r4" .status.message | grep -qi "password"
t_ok $? "restore after the key removal fails on the password ($(field "$API/podvolumerestores/r4" '.status.message // ""'))"
grep -q "pvr cairn/r4: the repository kept open is not used: its key file is gone" \
	"$W/agent.log"
t_ok $? "the agent says why it did not use the kept repository"
[ -z "$(find "$(vol h4)" -mindepth 1 ! -name lost+found -print -quit)" ]
t_ok $? "nothing was written into the volume"

# ---- idle: closed ----
kill "$(cat "$W/agent.pid")"
t_wait 60 sh -c "! kill -0 $(cat "$W/agent.pid") 2>/dev/null"
CAIRN_PASSWORD="another password" CAIRN_TEST_REPO_IDLE_SEC=1 start_agent agent2.log
t_wait 60 port_said agent2.log || t_bail "the second agent did not start"
[ "$(pvr r5 h5 "$SNAP_Y")" = Completed ]
t_ok $? "second agent: restore Completed"
closed() { grep -q "the repository kept open went unused for 1 s: closed" "$W/agent2.log"; }
t_wait 60 closed
t_ok $? "the kept repository is closed once idle"
[ "$(pvr r6 h6 "$SNAP_Z")" = Completed ]
t_ok $? "the next restore: Completed"
same "the next restore: the volume is the snapshot's" "$W/want-z" h6
[ "$(metric agent2.log cairn_restore_repository_opens_total)" = 2 ] &&
	[ "$(metric agent2.log cairn_restore_repository_reuses_total)" = 0 ]
t_ok $? "after the close the repository was opened again"
t_done
