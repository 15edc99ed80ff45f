#!/bin/bash
# shellcheck disable=SC2015 # t_pass and t_fail always succeed: A && t_pass || t_fail is safe
# The backup command annotation end to end: a `cairn agent` on a simulated node, the API
# double running pods/exec as local processes in each pod's exec-root folder. A pod whose
# cairn.dev/backup-command prints 20 MiB of known bytes gets a Completed PVB whose snapshot
# restores exactly those bytes (as <volume>.dump, no volume folder needed); a JSON argv
# with a container and file name annotation names the file; a command that exits 3 fails
# its PVB with exit code 3 and its stderr in the message, and writes no snapshot; a command
# that pauses mid-output, so that progress updates go out while its stream is open, still
# delivers every byte.
set -u
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${CAIRN_BIN:?CAIRN_BIN must name the cairn binary}"
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$TOP_SRCDIR/tests/e2e/kubeapi-lib.sh"
W=$KA_DIR/work
mkdir -p "$W/hp1" "$W/root/data"
export CAIRN_PASSWORD=e2e-stream-password
REPO=$W/repo

cleanup() {
	[ -f "$W/agent.pid" ] && kill -9 "$(cat "$W/agent.pid")" 2>/dev/null
	if [ "$T_FAILED" -ne 0 ]; then
		echo "# agent log:"
		tail -n 20 "$W/agent.log" 2>/dev/null | sed 's/^/#   /'
	fi
	ka_cleanup
}
t_on_exit cleanup
ka_start --load "$TOP_SRCDIR"/daemonset/crds/*.yaml
API=/apis/cairn.dev/v1alpha1/namespaces/cairn
field() { kcurl "$API/podvolumebackups/$1" 2>/dev/null | jq_py "$2" 2>/dev/null; }
phase() { field "$1" 'd.get("status", {}).get("phase", "")'; }
wait_phase() { # NAME PHASE: up to 180 s (a deadline: each poll costs a python start)
	local end=$((SECONDS + 180)) p=""
	while [ "$SECONDS" -lt "$end" ]; do
		p=$(phase "$1")
		[ "$p" = "$2" ] && return 0
		case $p in Completed | Failed | Canceled) break ;; esac
		sleep 0.2
	done
	t_note "$1 is in phase '$p' (wanted $2): $(field "$1" 'd.get("status", {}).get("message", "")')"
	return 1
}
nsnap() { "$CAIRN_BIN" -r "$REPO" snapshots --json | jq_py 'len(d)'; }

# pod NAME ANNOTATIONS-JSON: a Running pod on n1 with one emptyDir "cache" whose folder
# does not exist on the node (the command replaces it).
pod() {
	local ann
	ann=$(printf '%s' "$2" | jq_py 'dict(d, **{"kubeapi.cairn.dev/exec-root": "'"$W/root"'"})')
	kcurl /api/v1/namespaces/app/pods -X POST -H 'Content-Type: application/json' -d \
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"app\",\"annotations\":$ann},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}],\"volumes\":[{\"name\":\"cache\",\"emptyDir\":{}}]}}" >/dev/null
	kcurl "/api/v1/namespaces/app/pods/$1/status" -X PATCH \
		-H 'Content-Type: application/merge-patch+json' -d '{"status":{"phase":"Running"}}' >/dev/null
	# The agent checks --host-pods against running pods: each has its folder, no volume.
	mkdir -p "$W/hp1/$(kcurl "/api/v1/namespaces/app/pods/$1" | jq_py 'd["metadata"]["uid"]')"
}
mkpvb() { python3 "$KA_HOME/mkobj.py" "$KA_DIR" pvb bk app "$1" cache; }

t_cmd "repository initialised" "$CAIRN_BIN" -r "$REPO" init
kcurl /api/v1/namespaces -X POST -H 'Content-Type: application/json' \
	-d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app"}}' >/dev/null
head -c 30M /dev/urandom >"$W/root/data/payload"
head -c 20M "$W/root/data/payload" >"$W/want"
pod dump '{"cairn.dev/backup-command": "head -c 20M data/payload"}'
pod named '{"cairn.dev/backup-command": "[\"printf\", \"%s\", \"one word; not a shell\"]", "cairn.dev/backup-command-container": "c", "cairn.dev/backup-command-filename": "db.sql"}'
pod bad '{"cairn.dev/backup-command": "echo partial; echo pg_dump: connection refused >&2; exit 3"}'
pod nosuch '{"cairn.dev/backup-command": "true", "cairn.dev/backup-command-container": "nope"}'
# Pauses in the output: the agent records progress (a PUT on its client) while the exec
# stream is open and idle, then more bytes follow on that stream.
head -c 6M "$W/root/data/payload" >"$W/root/data/p1"
tail -c 6M "$W/root/data/payload" >"$W/root/data/p2"
cat "$W/root/data/p1" "$W/root/data/p2" "$W/root/data/p1" >"$W/want-slow"
pod slow '{"cairn.dev/backup-command": "cat data/p1; sleep 2.5; cat data/p2; sleep 2.5; cat data/p1"}'

"$CAIRN_BIN" -r "$REPO" agent --node n1 --host-pods "$W/hp1" --kubeconfig "$KUBECONFIG" \
	--metrics-address 127.0.0.1:0 --progress-interval 1 --threads 1 >>"$W/agent.log" 2>&1 &
echo $! >"$W/agent.pid"
python3 "$KA_HOME/mkobj.py" "$KA_DIR" backup bk >/dev/null

B=$(mkpvb dump)
t_cmd "20 MiB command output: PVB Completed" wait_phase "$B" Completed
id=$(field "$B" 'd["status"]["snapshotID"]')
field "$B" 'd["status"]["path"]' | grep -qx 'backup-command:cache.dump' &&
	t_pass "status.path names the dump, not a kubelet folder" || t_fail "path: $(field "$B" 'd["status"]')"
rm -rf "$W/r1"
"$CAIRN_BIN" -r "$REPO" restore "$id" --target "$W/r1" >"$W/r1.log" 2>&1
t_cmd "the snapshot restores exactly the 20 MiB the command printed" cmp "$W/want" "$W/r1/cache.dump"
t_cmd "the snapshot holds that one file" [ "$(find "$W/r1" -mindepth 1 | wc -l)" -eq 1 ]
tags=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq_py '[s["tags"] for s in d if s["id"] == "'"$id"'"][0]')
for t in ns=app pod=dump volume=cache backup=bk node=n1 backup-command-file=cache.dump; do
	echo "$tags" | grep -q "\"$t" && t_pass "tag $t" || t_fail "tag $t missing: $tags"
done
field "$B" 'd["status"]["progress"]["bytesDone"] == 20 * 1024 * 1024' | grep -qx true &&
	t_pass "progress counts the 20 MiB" || t_fail "progress: $(field "$B" 'd["status"]')"

B=$(mkpvb slow)
t_cmd "a command that pauses while progress is recorded: PVB Completed" wait_phase "$B" Completed
id=$(field "$B" 'd["status"].get("snapshotID", "")')
rm -rf "$W/r3"
"$CAIRN_BIN" -r "$REPO" restore "$id" --target "$W/r3" >"$W/r3.log" 2>&1
t_cmd "the snapshot holds all 18 MiB, those after the progress updates too" \
	cmp "$W/want-slow" "$W/r3/cache.dump"
# InProgress, at least one progress update during the pauses, Completed.
n=$(grep -c "PUT $API/podvolumebackups/$B/status 200" "$KA_DIR/kubeapi.log")
[ "$n" -ge 3 ] && t_pass "progress was recorded while the stream was open ($n status updates)" ||
	t_fail "only $n status updates of $B"
t_cmd "no progress update failed" bash -c "! grep -q 'progress not recorded' '$W/agent.log'"

B=$(mkpvb named)
t_cmd "JSON argv in a named container: PVB Completed" wait_phase "$B" Completed
id=$(field "$B" 'd["status"]["snapshotID"]')
rm -rf "$W/r2"
"$CAIRN_BIN" -r "$REPO" restore "$id" --target "$W/r2" >/dev/null 2>&1
t_cmd "the file annotation names the file; argv words are not split by a shell" \
	[ "$(cat "$W/r2/db.sql" 2>/dev/null)" = "one word; not a shell" ]

before=$(nsnap)
B=$(mkpvb bad)
t_cmd "a command that exits 3: PVB Failed" wait_phase "$B" Failed
msg=$(field "$B" 'd["status"].get("message", "")')
case $msg in *"code 3"*) t_pass "the message names exit code 3" ;; *) t_fail "message: $msg" ;; esac
case $msg in *"pg_dump: connection refused"*) t_pass "the message quotes its stderr" ;; *) t_fail "message: $msg" ;; esac
t_cmd "no snapshot written for the failed command" [ "$(nsnap)" = "$before" ]
field "$B" 'd["status"].get("snapshotID", "")' | grep -qx '' &&
	t_pass "no snapshotID on the failed PVB" || t_fail "snapshotID on $B"

B=$(mkpvb nosuch)
t_cmd "an exec the server refuses: PVB Failed" wait_phase "$B" Failed
msg=$(field "$B" 'd["status"].get("message", "")')
case $msg in *"could not run"*nope*) t_pass "the message says the command could not run, in container nope" ;;
*) t_fail "message: $msg" ;; esac
t_cmd "no snapshot written for the refused exec" [ "$(nsnap)" = "$before" ]
t_cmd "the command is in no log line" bash -c "! grep -q 'connection refused >&2' '$W/agent.log'"
t_done
