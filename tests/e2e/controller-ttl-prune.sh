#!/bin/bash
# shellcheck disable=SC2015 # ok and t_fail always succeed: A && ok || t_fail is safe
# TTL expiry with the maintenance prune, end to end: against the API double with a real
# `cairn agent`, two Backups of two pods; one with a short spec.ttl. The controller's
# clock (CAIRN_TEST_CLOCK_FILE) moves past that ttl: the controller deletes the Backup,
# its PodVolumeBackups and its snapshots, the next maintenance pass prunes, and the
# repository's pack bytes (du -sb data/) go down by about the expired volume's unique
# data, while the other Backup's snapshot still restores byte for byte and check passes.
export CAIRN_PASSWORD=e2e-ttl-prune-password
# shellcheck source=tests/e2e/ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"
ctl_clock "TTL expiry and prune"
# pvbs_named BACKUP-NAME: its PodVolumeBackups (JSON) by the name label, which still
# answers once the Backup (and so its uid) is gone.
pvbs_named() {
	kcurl "$API/podvolumebackups?labelSelector=cairn.dev%2Fbackup-name%3D$1" 2>/dev/null
}
# vpod NAME KIB: a Running pod on n1 labelled case=NAME, volume `data` holding KIB KiB of
# random (incompressible, unshared) bytes.
vpod() {
	local u
	u=$(ctl_pod "$1" "$1" "")
	head -c $(($2 * 1024)) /dev/urandom >"$W/hp1/$u/$ED/data/blob.bin"
	echo "$u"
}
data_bytes() { du -sb "$REPO/data" | cut -f1; }

t_cmd "repository initialised" "$CAIRN_BIN" -r "$REPO" init
ka_node1_objects
ka_agent_pod_ready "$W/hp1"
UK=$(vpod keep 256)
vpod drop 3072 >/dev/null
ctl_agent_n1
"$CAIRN_BIN" -r "$REPO" controller --kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 \
	--resync 200ms --validation-interval 1s --sync-interval 0 --maintenance-interval 2s \
	>>"$W/controller.log" 2>&1 &
echo $! >"$W/controller.pid"

kb() { "$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" "$@" >/dev/null; }
t_cmd "backup 'keep' (default ttl) created" kb backup create keep --selector case=keep
t_cmd "backup 'drop' (ttl 1h) created" kb backup create drop --selector case=drop --ttl 1h
t_cmd "keep Completed" wait_for 120 is_phase keep Completed
t_cmd "drop Completed" wait_for 120 is_phase drop Completed
SKEEP=$(pvbs_named keep | jq_py 'd["items"][0]["status"]["snapshotID"]')
SDROP=$(pvbs_named drop | jq_py 'd["items"][0]["status"]["snapshotID"]')
# A prune pass with nothing expired (the interval is 2s) must not remove anything live:
# wait for one to be logged after both completed, then measure.
npruned() { grep -c '^pruned ' "$W/controller.log"; }
p0=$(npruned)
more_pruned() { [ "$(npruned)" -gt "$1" ]; }
t_cmd "a maintenance pass ran with nothing expired" wait_for 120 more_pruned "$p0"
BEFORE=$(data_bytes)
t_note "data/ before expiry: $BEFORE bytes"
t_cmd "nothing expired yet: both snapshots listed" sh -c \
	"'$CAIRN_BIN' -r '$REPO' snapshots --json | grep -q '$SKEEP' && '$CAIRN_BIN' -r '$REPO' snapshots --json | grep -q '$SDROP'"

# ---- past drop's ttl, not keep's ----
echo $((NOW + 2 * 3600)) >"$CLOCK"
gone() { [ "$(obj backups/drop | jq_py 'd.get("kind", "")')" != Backup ]; }
t_cmd "expired Backup deleted" wait_for 90 gone
t_cmd "its PodVolumeBackups deleted" test "$(pvbs_named drop | jq_py 'len(d["items"])')" = 0
snaps=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq_py '" ".join(s["id"] for s in d)')
case " $snaps " in *" $SDROP "*) t_fail "expired snapshot $SDROP still listed" ;; *) t_pass "its snapshot forgotten" ;; esac
case " $snaps " in *" $SKEEP "*) t_pass "the other snapshot kept" ;; *) t_fail "snapshot $SKEEP of keep gone: $snaps" ;; esac
t_cmd "the other Backup stays Completed" is_phase keep Completed

# The expired volume held 3 MiB of unshared random bytes: a prune after the forget frees
# most of them (at least 2 MiB, whatever the pack layout and the metadata).
shrunk() { [ "$(data_bytes)" -le $((BEFORE - 2 * 1024 * 1024)) ]; }
t_cmd "maintenance prune shrank data/ by at least 2 MiB" wait_for 90 shrunk
AFTER=$(data_bytes)
t_note "data/ after prune: $AFTER bytes (was $BEFORE)"
grep -q '^pruned .*: [1-9][0-9]* packs deleted' "$W/controller.log" &&
	t_pass "controller logged a prune that deleted packs" || t_fail "no pack deleted in the log"

# The controller's maintenance passes (every 2 s) lock the repository: stop it, and the
# agent, before reading the repository back, or the restore races a prune.
ctl_stop controller agent
t_cmd "the kept snapshot restores" "$CAIRN_BIN" -r "$REPO" restore "$SKEEP" --target "$W/r-keep"
r=$(find "$W/r-keep" -name blob.bin | head -n 1)
[ -n "$r" ] && cmp -s "$r" "$W/hp1/$UK/$ED/data/blob.bin" && t_pass "... byte for byte" ||
	t_fail "restored blob.bin '$r' differs"
t_cmd "cairn check --read-data passes" "$CAIRN_BIN" -r "$REPO" check --read-data
t_done
