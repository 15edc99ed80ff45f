#!/bin/bash
# Restore from a real S3 server (Swift's s3api on 127.0.0.1, behind a pass-through proxy
# that counts requests): the restore reads each pack with a bounded number of ranged GETs
# (runs of adjacent blobs), not one GET per blob or per folder, and restores the tree
# identically (every file kind, hardlinks, holes, xattrs), also with --exclude.
. "$(dirname "$0")/lib.sh"
t_need
# Free ports, so a second test run on the machine (a developer's beside CI) cannot share
# the server: P..P+3 Swift, P+5 the counting proxy.
P=${CAIRN_S3_RESTORE_PORT:-$(t_ports 8)}
t_swift_counted "$P"
export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing

# Every file kind (hardlinks, sparse files, xattrs, long names) and 800 small files in
# nested folders: one GET per blob would be about a thousand.
mkdir -p "$T_TMP/src"
"$MKTREE" "$T_TMP/src/kinds" --seed 3 >/dev/null || t_bail "mktree failed"
"$MKTREE" "$T_TMP/src/small" --seed 4 --small 800 >/dev/null || t_bail "mktree failed"
REPO="s3:http://127.0.0.1:$((P + 5))/cairn-restore/repo"
# Small packs, so the tree spans many and the bound below says something per pack.
t_cmd "init on S3 with 1 MiB packs" cairn init --pack-size 1048576
t_cmd "backup to S3" cairn backup "$T_TMP/src"
run cairn --json stats
packs=$(jget "$OUT" .packs)
t_ok $([ "${packs:-0}" -ge 1 ] && echo 0 || echo 1) "the repository has $packs packs"

gets() { grep -c '^request GET' "$T_TMP/requests.log"; }

: >"$T_TMP/requests.log"
t_cmd "restore from S3" cairn restore latest --keep-privileges --target "$T_TMP/out"
n=$(gets)
# Besides the packs: config, key, snapshot, index and lock objects (about 8).
limit=$((2 * packs + 12))
t_ok $([ "$n" -le "$limit" ] && echo 0 || echo 1) \
	"the restore issues $n GETs for $packs packs (at most $limit)"
t_same "the restored tree is identical (treecmp)" $(t_owner_opt) --no-atime \
	"$T_TMP/src" "$(t_landed "$T_TMP/out" "$T_TMP/src")"

: >"$T_TMP/requests.log"
t_cmd "restore from S3 with --exclude" cairn restore latest --keep-privileges --target "$T_TMP/out2" \
	--exclude small
n=$(gets)
t_ok $([ "$n" -le "$limit" ] && echo 0 || echo 1) \
	"the restore with --exclude issues $n GETs (at most $limit)"
t_same "the restored tree is identical without the excluded folder" $(t_owner_opt) \
	--no-atime "$T_TMP/src/kinds" "$(t_landed "$T_TMP/out2" "$T_TMP/src")/kinds"
s=0
[ ! -e "$(t_landed "$T_TMP/out2" "$T_TMP/src")/small" ] || s=1
t_ok $s "the excluded folder is not restored"
t_done
