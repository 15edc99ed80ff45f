#!/bin/bash
# shellcheck disable=SC2015 # t_pass and t_fail always succeed: A && t_pass || t_fail is safe
# A slow API server does not stall a backup: the double holds every InProgress progress PUT
# of the PodVolumeBackup (inject "hold") and the backup still writes its snapshot; the PVB
# stays InProgress until the held write is let go (a late progress write never follows the
# end), then ends Completed with its numbers. Checked by state, never by a clock: the test
# hook CAIRN_TEST_BACKUP_HOLD keeps the backup in its progress callback until a progress
# write is seen held, so that write is always under way while the data path goes on.
set -u
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${CAIRN_BIN:?CAIRN_BIN must name the cairn binary}"
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$TOP_SRCDIR/tests/e2e/kubeapi-lib.sh"
t_need
command -v kubectl >/dev/null || t_require kubectl "tests/kubeapi/deps.sh" false
if [ -z "${CAIRN_TEST_HOOKS:-}" ]; then
	echo "1..0 # SKIP needs a build with --enable-test-hooks (CAIRN_TEST_BACKUP_HOLD)"
	exit 0
fi
W=$T_TMP/w
mkdir -p "$W/hp1"
export CAIRN_PASSWORD=e2e-held-password
REPO=$W/repo
API=/apis/cairn.dev/v1alpha1/namespaces/cairn
HOLD_API=$W/hold-api
HOLD_BACKUP=$W/hold-backup

t_on_exit ka_stop_all
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml

field() { kcurl "$API/podvolumebackups/$1" 2>/dev/null | jq -r "$2" 2>/dev/null; }
# held: how many progress writes the double holds right now.
held() { kcurl /_test/inject 2>/dev/null | jq -r '[.items[].holding // 0] | add // 0'; }
held_some() { [ "$(held)" -ge 1 ]; }
snapshot_written() {
	[ "$("$CAIRN_BIN" -r "$REPO" snapshots --json 2>/dev/null | jq length)" -ge 1 ]
}
phase_is() { [ "$(field "$1" '.status.phase // ""')" = "$2" ]; }

t_cmd "repository initialised" "$CAIRN_BIN" -r "$REPO" init
ka_namespace app
U=$(ka_pod p1 n1 '[{name: data, emptyDir: {}}]')
V=$W/hp1/$U/volumes/kubernetes.io~empty-dir/data
mkdir -p "$V/sub"
head -c 3145728 /dev/urandom >"$V/big.bin"
for i in $(seq 1 20); do echo "small file $i" >"$V/sub/f$i"; done
size=$(find "$V" -type f -printf '%s\n' | awk '{s += $1} END {print s}')

# Every InProgress write that carries progress numbers waits while HOLD_API exists; the
# claim, the first InProgress (no numbers yet) and the end are served at once.
: >"$HOLD_API"
: >"$HOLD_BACKUP"
jq -n --arg hold "$HOLD_API" '{hold: $hold, method: "PUT", count: 1000,
	path: "/podvolumebackups/[^/]+/status$",
	body: "(?s)^(?=.*\"phase\": ?\"InProgress\")(?=.*\"bytesDone\")"}' |
	kcurl /_test/inject -X POST -H 'Content-Type: application/json' --data-binary @- >/dev/null
CAIRN_TEST_BACKUP_HOLD=$HOLD_BACKUP "$CAIRN_BIN" -r "$REPO" agent --node n1 --host-pods "$W/hp1" \
	--kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 --progress-interval 1 \
	--threads 1 >>"$W/agent.log" 2>&1 &
echo $! >"$W/agent.pid"
python3 "$KA_HOME/mkobj.py" "$KA_DIR" backup bk >/dev/null
B=$(python3 "$KA_HOME/mkobj.py" "$KA_DIR" pvb bk app p1 data)

t_ok "$(t_wait 120 held_some && echo 0 || echo 1)" "a progress write of $B is held by the API server"
rm -f "$HOLD_BACKUP"
t_ok "$(t_wait 120 snapshot_written && echo 0 || echo 1)" \
	"the backup writes its snapshot while its progress write is held"
held_some && phase_is "$B" InProgress && t_pass "$B stays InProgress while that write is held" ||
	t_fail "$B is $(field "$B" .status.phase) with $(held) writes held"
rm -f "$HOLD_API"
t_ok "$(t_wait 120 phase_is "$B" Completed && echo 0 || echo 1)" "$B completed once let go"
snap=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq -r '.[0].id')
[ "$(field "$B" .status.snapshotID)" = "$snap" ] && t_pass "$B names the snapshot" ||
	t_fail "$B names snapshot '$(field "$B" .status.snapshotID)', the repository holds $snap"
[ "$(field "$B" '.status.progress.bytesDone == .status.progress.totalBytes and
	.status.progress.bytesDone >= '"$size")" = true ] &&
	t_pass "$B's final progress is whole ($size bytes)" ||
	t_fail "$B's progress: $(field "$B" -c .status.progress)"
t_done
