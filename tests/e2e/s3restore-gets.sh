#!/bin/bash
# Restore from a real S3 server (Swift's s3api on 127.0.0.1, behind the counting proxy):
# each pack is read with one ranged GET even where the restore cuts its work into
# batches (1024 files each) inside a pack, and a pack whose GETs break off mid-body
# fails the restore with the pack named and leaves no file looking restored that is not
# whole.
. "$(dirname "$0")/lib.sh"
t_need
S=$TOP_SRCDIR/tests/s3
# Free ports (see restore-s3.sh): P..P+3 Swift, P+5 the counting proxy, P+6 the cutting
# one, P+7 the holding one.
P=${CAIRN_S3RESTORE_PORT:-$(t_ports 8)}
t_swift_counted "$P"
# The same server behind a proxy that cuts every pack GET halfway through its body.
FAULTS=reset-body MATCH=/data/ python3 "$S/faultproxy.py" $((P + 6)) "$P" 1 1 \
	2>"$T_TMP/faults.log" &
t_on_exit kill "$!"
t_wait 30 curl -s -o /dev/null "http://127.0.0.1:$((P + 6))/" ||
	t_bail "the proxy on $((P + 6)) did not start"
export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing

# 5000 small files (1-8 KiB) in 4 MiB packs: about five batches of 1024 files, whose
# cuts fall inside packs.
"$MKTREE" "$T_TMP/src" --seed 9 --small 5000 >/dev/null || t_bail "mktree failed"
REPO="s3:http://127.0.0.1:$((P + 5))/cairn-s3restore/repo"
t_cmd "init on S3 with 4 MiB packs" cairn init --pack-size 4194304
t_cmd "backup of 5000 small files to S3" cairn backup "$T_TMP/src"
run cairn --json stats
packs=$(jget "$OUT" .packs)
t_ok $([ "${packs:-0}" -ge 3 ] && echo 0 || echo 1) "the repository has $packs packs"

: >"$T_TMP/requests.log"
t_cmd "restore from S3" cairn restore latest --target "$T_TMP/out"
# Ranged GETs read packs (data runs and the folders' tree windows); every pack is needed
# and smaller than a run, so one each. Before, each batch cut inside a pack cost one more.
# What is counted is the plan: the distinct (object, range) pairs cairn asked for first.
# A retry of the same range after a transient error or a dropped connection, and a
# resume of a cut body (If-Match, a later start), are the transport's business, tested in
# s3-backend.sh; they are shown, not counted. (One such extra GET, in one of three
# clean-clone runs, was the only failure this check ever had; the log below says which.)
grep -a '^ranged ' "$T_TMP/requests.log" >"$T_TMP/ranged.log"
ranged=$(awk '$NF != "if-match" { print $2, $3 }' "$T_TMP/ranged.log" | sort -u | wc -l)
again=$(($(wc -l <"$T_TMP/ranged.log") - ranged))
t_ok $([ "$ranged" -ge 1 ] && [ "$ranged" -le "$packs" ] && echo 0 || echo 1) \
	"the restore reads $packs packs with $ranged ranged GETs (at most one per pack; $again retried or resumed)"
[ "$ranged" -ge 1 ] && [ "$ranged" -le "$packs" ] && [ "$again" -eq 0 ] ||
	t_diag "$T_TMP/ranged.log" 40
t_same "the restored tree is identical (treecmp)" $(t_owner_opt) --no-atime \
	"$T_TMP/src" "$(t_landed "$T_TMP/out" "$T_TMP/src")"

# Every pack GET breaks off mid-body (after the retries): the restore fails, names a
# pack, and each file that appears under its own name is whole.
REPO="s3:http://127.0.0.1:$((P + 6))/cairn-s3restore/repo"
run cairn -o s3.retries=2 -o s3.retry-base-ms=1 restore latest --target "$T_TMP/cut"
t_ok $([ "$RC" -ne 0 ] && echo 0 || echo 1) "a restore whose pack GETs break off fails (exit $RC)"
s=1
grep -q 'pack [0-9a-f]\{64\}' "$ERR" && s=0
t_ok $s "the error names the pack: $(grep -m1 'pack [0-9a-f]\{64\}' "$ERR" | head -c 300)"
s=1
grep -aq '^fault reset-body' "$T_TMP/faults.log" && s=0
t_ok $s "the proxy cut pack GETs ($(grep -ac '^fault reset-body' "$T_TMP/faults.log") cuts)"
bad=0 whole=0
landed=$(t_landed "$T_TMP/cut" "$T_TMP/src")
if [ -d "$landed" ]; then
	while IFS= read -r -d '' f; do
		rel=${f#"$landed"/}
		case $(basename "$rel") in
		*cairn-partial*) bad=$((bad + 1)); continue ;;
		esac
		if cmp -s "$f" "$T_TMP/src/$rel"; then
			whole=$((whole + 1))
		else
			bad=$((bad + 1))
			t_note "not whole: $rel"
		fi
	done < <(find "$landed" -type f -print0)
fi
t_ok $([ "$bad" -eq 0 ] && echo 0 || echo 1) \
	"no file looks restored that is not whole ($whole whole, $bad not)"
# A run's blobs are opened and written as their bytes arrive, not once the whole run is
# in: through a proxy that holds each big pack GET after 6 MiB of its body until told to
# go on, a 12 MiB file gets its first blobs written while the rest are held. Nothing
# here depends on speed: the proxy waits for the test, and the test for the file.
mkdir -p "$T_TMP/big"
python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(5).randbytes(12 << 20))' \
	>"$T_TMP/big/one" || t_bail "python3 failed"
REPO="s3:http://127.0.0.1:$((P + 5))/cairn-s3restore/big"
t_cmd "init on S3 with 32 MiB packs" cairn init --pack-size 33554432
t_cmd "backup of one 12 MiB file" cairn backup "$T_TMP/big"
FAULTS=hold-body MATCH=/data/ CUT=6291456 HOLD="$T_TMP/release" python3 "$S/faultproxy.py" \
	$((P + 7)) "$P" 1 1 2>"$T_TMP/holds.log" &
t_on_exit kill "$!"
t_on_exit touch "$T_TMP/release"
t_wait 30 curl -s -o /dev/null "http://127.0.0.1:$((P + 7))/" ||
	t_bail "the proxy on $((P + 7)) did not start"
REPO="s3:http://127.0.0.1:$((P + 7))/cairn-s3restore/big"
cairn restore latest --target "$T_TMP/held" >"$T_TMP/held.out" 2>"$T_TMP/held.err" &
rpid=$!
written() { # at least 1 MiB of the file is on disk while the proxy holds the pack
	grep -aq '^fault hold-body' "$T_TMP/holds.log" &&
		! grep -aq '^fault release-body' "$T_TMP/holds.log" &&
		[ "$(du -sk "$T_TMP/held" 2>/dev/null | cut -f1)" -ge 1024 ]
}
s=0
t_wait 120 written || s=1
t_ok $s "blobs are written while the rest of their run is held ($(du -sk "$T_TMP/held" 2>/dev/null | cut -f1) KiB on disk, $(grep -ac '^fault hold-body' "$T_TMP/holds.log") held GETs)"
touch "$T_TMP/release"
wait "$rpid"
RC=$?
t_ok $([ "$RC" -eq 0 ] && echo 0 || echo 1) "the held restore completes once released (exit $RC)"
t_same "the held restore is identical (treecmp)" $(t_owner_opt) --no-atime \
	"$T_TMP/big" "$(t_landed "$T_TMP/held" "$T_TMP/big")"
t_done
