#!/bin/bash
# backup --compression: off stores the data raw (a repository about the data's size), max
# stores no more than auto, fastest and numeric levels work, every mode restores the same
# tree; a bad value is one line on stderr and exit 2.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
t_need
cd "$T_TMP" || t_bail "no scratch dir"

# Log-like text (compresses about 4×) and random bytes (does not), in files large enough
# for the compressibility probe (256 KiB and more) and small ones.
mkdir -p src/logs src/bin src/small
for f in 1 2 3; do
	awk -v f="$f" 'BEGIN { for (i = 0; i < 40000; i++)
		printf "2026-11-30T12:%02d:%02d INFO svc%d request id=%d path=/api/v1/items/%d status=%d ms=%d\n",
			i / 60 % 60, i % 60, f, i * 7 + f, i % 977, i % 13 ? 200 : 404, i % 91 }' \
		>"src/logs/app$f.log"
done
head -c 3000000 /dev/urandom >src/bin/blob
for i in $(seq 1 30); do head -c $((i * 100)) /dev/urandom >"src/small/r$i"; done
for i in $(seq 1 30); do seq "$i" 500 >"src/small/t$i"; done
data=$(find src -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')

size() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }'; }

# backup_in MODE: a new repository repo-MODE holding one backup of src with --compression
# MODE ("" for no flag); restored into r-MODE and compared with src.
backup_in() {
	local mode=$1 name=${1:-default} own
	own=$(t_owner_opt)
	REPO=$T_TMP/repo-$name
	run cairn init
	[ "$RC" -eq 0 ] || { t_diag "$ERR"; t_bail "cairn init failed (exit $RC)"; }
	if [ -n "$mode" ]; then
		run cairn backup --compression "$mode" src
	else
		run cairn backup src
	fi
	t_rc 0 "backup --compression ${mode:-(default)}"
	run cairn restore latest --target "$T_TMP/r-$name"
	t_rc 0 "restore of the ${mode:-default} backup"
	t_same "the ${mode:-default} backup restores identically" --no-atime ${own:+"$own"} \
		src "$(t_landed "$T_TMP/r-$name" "$T_TMP/src")"
}

for m in off auto max fastest 3 "" -7; do backup_in "$m"; done

off=$(size "$T_TMP/repo-off") auto=$(size "$T_TMP/repo-auto") max=$(size "$T_TMP/repo-max")
def=$(size "$T_TMP/repo-default")
# Raw blobs in packs cost a nonce, a tag and a header entry each; config, keys, index and
# the snapshot a few KiB.
[ "$off" -ge "$data" ] && [ "$off" -le $((data + data / 50 + 65536)) ]
t_ok $? "off: the repository ($off bytes) is about the data's size ($data)"
[ "$auto" -lt $((off * 3 / 4)) ]
t_ok $? "auto compresses the text ($auto bytes against $off raw)"
[ "$max" -le "$auto" ]
t_ok $? "max stores no more than auto ($max <= $auto bytes)"
[ "$def" -le $((auto + auto / 100)) ] && [ "$auto" -le $((def + def / 100)) ]
t_ok $? "auto is the default ($auto and $def bytes)"
REPO=$T_TMP/repo-auto
run cairn check --read-data
t_rc 0 "check --read-data after an auto backup"

# A stream takes the flag too.
REPO=$T_TMP/repo-off
run cairn backup --compression off --stdin --stdin-filename app1.log <src/logs/app1.log
t_rc 0 "backup --stdin --compression off"
run cairn restore latest --target "$T_TMP/r-stream"
cmp -s src/logs/app1.log "$T_TMP/r-stream/app1.log"
t_ok $? "the stream restores identically"

REPO=$T_TMP/repo-auto
bad() { # bad VALUE: exit 2, one line on stderr naming the value
	run cairn backup --compression "$1" src
	[ "$RC" -eq 2 ] && [ "$(wc -l <"$ERR")" -eq 1 ] &&
		grep -q "bad --compression '$1' (auto, off, fastest, max or a zstd level" "$ERR"
	t_ok $? "--compression '$1': one line naming it, exit 2" || { echo "#   exit $RC"; t_diag "$ERR"; }
}
for v in bogus 23 -200000 1.5 ""; do bad "$v"; done
t_done
