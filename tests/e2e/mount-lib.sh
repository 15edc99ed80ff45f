# Shared by the mount tests (sourced after lib.sh): start a mount in the background and
# stop it, checking that it stops on SIGTERM without a memory error or crash.

# mount_at DIR LOG [VAR=VALUE...]: mount REPO at DIR in the background (BG), logging to
# LOG, with the environment given; S is the first snapshot's folder.
mount_at() {
	MNT=$1
	MLOG=$2
	shift 2
	mkdir -p "$MNT"
	(exec env CAIRN_PASSWORD="$T_PASS" "$@" "$CAIRN_BIN" -r "$REPO" mount "$MNT") >"$MLOG" 2>&1 &
	BG=$!
	T_MOUNTS+=("$MNT")
	t_on_exit kill "$BG"
	for _ in $(seq 300); do
		grep -q " $MNT fuse" /proc/mounts && break
		sleep 0.1
	done
	grep -q " $MNT fuse" /proc/mounts
	t_ok $? "mount comes up ($*)" || { t_diag "$MLOG"; t_bail "no mount"; }
	S=$(find "$MNT/snapshots" -mindepth 1 -maxdepth 1 -type d | head -n 1)
}
# unmount: SIGTERM to the mount in BG; it must stop.
unmount() {
	kill "$BG" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$BG" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$BG" 2>/dev/null
	t_ok $((!$?)) "the mount stops on SIGTERM"
	s=0
	grep -qi 'AddressSanitizer\|runtime error\|Segmentation' "$MLOG" && s=1
	t_ok $s "no memory error or crash in the mount" || t_diag "$MLOG"
}
