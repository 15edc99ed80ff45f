#!/bin/bash
# Format versions (docs/format.md): init writes version 2 (algorithms named in config,
# HMAC-SHA-256 content ids) and, with --format-version 1, version 1 (keyed BLAKE2b ids);
# both back up, restore, check --read-data, forget and prune, and keep their version.
# A config of a version or algorithm this cairn does not know, or with fields out of
# place, gives one line and exit 14 and writes nothing.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
cd "$T_TMP" || exit 1
SETCONFIG=${SETCONFIG:-$TOP_BUILDDIR/tests/tools/setconfig}
[ -x "$SETCONFIG" ] || t_bail "setconfig missing at $SETCONFIG"
OWN=$(t_owner_opt)

"$MKTREE" src --seed 7 --files 30 --big-mib 6 2>/dev/null || t_bail "mktree failed"
"$MKTREE" ref --seed 7 --files 30 --big-mib 6 2>/dev/null || t_bail "mktree failed"

for v in 1 2; do
	REPO=$T_TMP/repo$v
	if [ "$v" = 1 ]; then
		run cairn init --format-version 1
	else
		run cairn init
	fi
	t_rc 0 "init v$v" || t_bail "init failed"
	run cairn --json cat config
	ver=$(jq -r .version "$OUT")
	alg=$(jq -r '.algorithms.id // "none"' "$OUT")
	if [ "$v" = 1 ]; then want="1 none"; else want="2 hmac-sha256"; fi
	[ "$ver $alg" = "$want" ]
	t_ok $? "v$v config: version and id algorithm are '$want'" || t_diag "$OUT"
	[ "$v" = 1 ] || [ "$(jq -c .algorithms "$OUT")" = \
		'{"compression":"zstd","id":"hmac-sha256","names":"sha256","seal":"xchacha20-poly1305"}' ]
	t_ok $? "v$v config names its object names, seal and compression (v2 only)" ||
		t_diag "$OUT"

	run cairn --json backup "$T_TMP/src"
	t_rc 0 "v$v: backup" || continue
	run cairn restore latest --keep-privileges --target "$T_TMP/r$v"
	t_rc 0 "v$v: restore"
	t_same "v$v: the restored tree equals the original" --no-atime ${OWN:+"$OWN"} ref \
		"$(t_landed "$T_TMP/r$v" "$T_TMP/src")"
	run cairn check --read-data
	t_rc 0 "v$v: check --read-data reads and verifies every blob"
	# A second snapshot, then drop the first: prune rewrites packs and the index with the
	# repository's own ids.
	echo "changed in v$v" >"$T_TMP/src/added.txt"
	rm -f "$(find "$T_TMP/src" -type f -size +1M | head -n 1)"
	run cairn backup "$T_TMP/src"
	t_rc 0 "v$v: second backup"
	run cairn forget --keep-last 1 --prune
	t_rc 0 "v$v: forget --keep-last 1 --prune"
	run cairn check --read-data
	t_rc 0 "v$v: check --read-data after prune"
	run cairn restore latest --keep-privileges --target "$T_TMP/s$v"
	t_rc 0 "v$v: restore after prune"
	t_same "v$v: the restore after prune equals the changed tree" --no-atime ${OWN:+"$OWN"} \
		"$T_TMP/src" "$(t_landed "$T_TMP/s$v" "$T_TMP/src")"
	run cairn --json cat config
	[ "$(jq -r .version "$OUT")" = "$v" ]
	t_ok $? "v$v: still version $v after backups and prune" || t_diag "$OUT"
	# Every pack, index file and snapshot is named by the hash of its stored bytes:
	# SHA-256 in v2, BLAKE2b-256 in v1 (coreutils compute it here).
	if [ "$v" = 1 ]; then sum="b2sum -l 256"; else sum=sha256sum; fi
	s=0
	for f in "$REPO"/data/*/* "$REPO"/index/* "$REPO"/snapshots/*; do
		[ "$($sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || { s=1; echo "#   $f"; }
	done
	t_ok $s "v$v: every pack, index file and snapshot is named by ${sum%% *} of its bytes"
	# The id on disk is the one docs/format.md defines, computed without cairn's code.
	mkdir -p "$T_TMP/probe$v" && printf 'one chunk of format %s\n' "$v" >"$T_TMP/probe$v/p.txt"
	run cairn backup "$T_TMP/probe$v"
	root=$(cairn cat snapshot latest | jq -r '.tree[0].id')
	sub=$(cairn cat tree "$root" | jq -r '.nodes[0].subtree[0].id')
	got=$(cairn cat tree "$sub" | jq -r '.nodes[] | select(.name == "p.txt") | .content[0].id')
	if [ "$v" = 1 ]; then alg=blake2b-256; else alg=hmac-sha256; fi
	want=$(CAIRN_PASSWORD=$T_PASS python3 "$T_HERE/format-v2-ids.py" "$REPO"/keys/* "$alg" \
		"$T_TMP/probe$v/p.txt")
	prc=$?
	if [ "$prc" = 3 ]; then
		t_skip "v$v: content id is $alg" "python3 cryptography without Argon2id"
	else
		[ -n "$got" ] && [ "$got" = "$want" ]
		t_ok $? "v$v: a content id on disk is $alg(subkey, plaintext), computed in Python" ||
			echo "#   got '$got', want '$want'"
	fi
	# put the source back for the next version
	rm -rf "$T_TMP/src" && cp -a "$T_TMP/ref" "$T_TMP/src"
done

run cairn --json version
[ "$(jq -r .format "$OUT")" = 2 ]
t_ok $? "version --json names format 2" || t_diag "$OUT"

REPO=$T_TMP/bad
for arg in 0 3 99 x; do
	run cairn init --format-version "$arg"
	[ "$RC" -eq 2 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && ! [ -e "$REPO" ]
	t_ok $? "init --format-version $arg: exit 2, one line, nothing created" ||
		{ echo "#   exit $RC"; t_diag "$ERR"; }
done

# Hostile configs, sealed with the right key (any key holder can write one).
cfg() { # cfg JQ-EXPR: repo2's config transformed by JQ-EXPR, installed in a copy at bad/
	rm -rf "$T_TMP/bad"
	cp -a "$T_TMP/repo2" "$T_TMP/bad"
	REPO=$T_TMP/repo2 cairn cat config | jq -c "$1" |
		CAIRN_PASSWORD=$T_PASS "$SETCONFIG" "$T_TMP/bad" || t_bail "setconfig failed"
}
cfg_raw() { # cfg_raw TEXT: the config replaced by TEXT verbatim
	rm -rf "$T_TMP/bad"
	cp -a "$T_TMP/repo2" "$T_TMP/bad"
	printf '%s' "$1" | CAIRN_PASSWORD=$T_PASS "$SETCONFIG" "$T_TMP/bad" ||
		t_bail "setconfig failed"
}
refused() { # refused DESC [EXACT-LINE]: every command fails alike, one line, exit 14
	local before cmd s=0
	before=$(t_repo_state "$T_TMP/bad")
	for cmd in snapshots "backup $T_TMP/src" check; do
		# shellcheck disable=SC2086
		run cairn $cmd
		[ "$RC" -eq 14 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && ! [ -s "$OUT" ] || s=1
		[ $# -lt 2 ] || [ "$(cat "$ERR")" = "cairn: $2" ] || s=1
		[ $s = 0 ] || break
	done
	[ "$(t_repo_state "$T_TMP/bad")" = "$before" ] || s=1
	t_ok $s "$1: exit 14, one line, nothing written" ||
		{ echo "#   $cmd: exit $RC"; t_diag "$ERR"; }
}

cfg '.version = 3'
refused "version 3" \
	"repository format version 3 is not supported (this cairn reads 1 and 2)"
cfg '.version = 0'
refused "version 0" \
	"repository format version 0 is not supported (this cairn reads 1 and 2)"
cfg '.algorithms.id = "md5"'
refused "id md5" 'unknown id algorithm "md5" in config'
cfg '.algorithms.names = "md5"'
refused "names md5" 'unknown names algorithm "md5" in config'
cfg 'del(.algorithms.names)'
refused "algorithms without names"
cfg '.algorithms.id = "HMAC-SHA256"'
refused "an id name in other case" 'unknown id algorithm "HMAC-SHA256" in config'
cfg '.algorithms.seal = "aes-256-gcm"'
refused "an unknown seal" 'unknown seal algorithm "aes-256-gcm" in config'
cfg '.algorithms.compression = "lz4"'
refused "an unknown compression" 'unknown compression algorithm "lz4" in config'
cfg '.algorithms.id = 5'
refused "an id algorithm that is not a string"
cfg '.algorithms.mac = "x"'
refused "an unknown field in algorithms"
cfg 'del(.algorithms.seal)'
refused "algorithms without seal"
cfg 'del(.algorithms)'
refused "version 2 without algorithms"
cfg '.algorithms = "hmac-sha256"'
refused "algorithms as a string"
cfg '.extra = 1'
refused "an unknown top-level field in version 2"
cfg '.chunker.step = 1'
refused "an unknown chunker field in version 2"
cfg '.version = 1'
refused "version 1 naming algorithms"
cfg '.version = "2"'
refused "version as a string"
cfg '.pack_size = 4294967296000'
refused "a pack size out of range"
cfg '.chunker.avg = 4294967296 + 1048576'
refused "a chunker average that wraps to a valid one in 32 bits"
cfg '.chunker.min = 4294967296 + 524288'
refused "a chunker minimum that wraps to a valid one in 32 bits"
cfg '.algorithms.id = ("x" * 5000)'
refused "a 5000-byte algorithm name"
cfg_raw '{"version":2,"version":2}'
refused "duplicate keys"
cfg_raw '[2]'
refused "a config that is not an object"
cfg_raw '{"version":99999999999999999999999}'
refused "a version beyond any integer"

# The config alone says which hashes a repository uses: a version 2 repository relabeled
# version 1 is read with BLAKE2b names and refused at its first snapshot.
cfg 'del(.algorithms) | .version = 1'
run cairn snapshots
[ "$RC" -eq 14 ] && grep -q 'does not match its name' "$ERR"
t_ok $? "a version 2 repository relabeled version 1: its objects do not match their names" ||
	{ echo "#   exit $RC"; t_diag "$ERR"; }

t_done
