#!/bin/bash
# shellcheck disable=SC2015 # t_pass and t_fail always succeed: A && t_pass || t_fail is safe
# shellcheck disable=SC2016 # bash -c scripts get their values as arguments
# The container image, built and run as the DaemonSet runs it. A Debian 12 base made
# offline from Debian's packages (daemonset/image/base.sh: mmdebstrap, cached by date
# under /var/cache/cairn-ci), the image built from this source tree
# (daemonset/Containerfile, podman build --isolation chroot), then the agent run in it
# with the command, arguments, environment, user, capabilities, read-only root, limits
# and mounts of daemonset/node-agent.yaml (read by daemonset/image/ds2podman.py, not
# copied): a simulated kubelet folder read-only with HostToContainer propagation, the
# password Secret, the service account (token, CA, namespace) and KUBERNETES_SERVICE_*
# of a pod. Against the API-server double with cairn's CRDs: PodVolumeBackups of a
# pod's volumes complete, and the host's cairn restores them identical (files of
# another owner with no permission bits too, so the capabilities suffice).
# The only additions to the manifest: CAIRN_REPOSITORY and the repository folder (the
# manifest's repositories are S3 storage locations) and the pod's network, a private
# network namespace of this test (podman --network host inside `unshare -n`), so the
# DaemonSet's fixed metrics port 8085 cannot meet another run's.
# Needs root, podman, runc, mmdebstrap (tests/kubeapi/deps.sh); under CI=true a missing
# one fails the suite. Takes 1 to 2 minutes here, a cold base cache (25 s) included.
set -u
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${CAIRN_BIN:?CAIRN_BIN must name the cairn binary}"
IMG_DS=$TOP_SRCDIR/daemonset/node-agent.yaml
IMG_HELP=$TOP_SRCDIR/daemonset/image
# podman's default runtime (crun) cannot set rlimits above the sandbox's; runc with
# modest limits runs anywhere.
PODMAN_RUN=(podman run --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

if [ -z "${IMAGE_AGENT_NETNS:-}" ]; then
	# Phase 1, on the machine's network (apt-get in the build needs the mirror).
	# shellcheck source=tests/e2e/lib.sh
	. "$TOP_SRCDIR/tests/e2e/lib.sh"
	t_require "root (podman builds and runs the image as root)" "run as root" t_root
	t_require podman "tests/kubeapi/deps.sh" podman --version
	t_require runc "tests/kubeapi/deps.sh" runc --version
	t_require mmdebstrap "tests/kubeapi/deps.sh" mmdebstrap --version
	t_require unshare "util-linux" command -v unshare
	IMAGE=localhost/cairn:e2e-$$
	t_on_exit podman rmi -f "$IMAGE"

	t0=$SECONDS
	run sh "$IMG_HELP/base.sh"
	BASE=$(cat "$OUT")
	t_rc 0 "Debian 12 base image from Debian's packages: $BASE ($((SECONDS - t0)) s)" || t_bail "no base image"

	t0=$SECONDS
	run sh "$IMG_HELP/context.sh" "$T_TMP/ctx" "$TOP_SRCDIR"
	t_rc 0 "clean build context (tracked sources only)" || t_bail "no build context"
	t_cmd "no build output or configured tree in the context" \
		bash -c '! ls -d "$1"/build* "$1"/config.status "$1"/cairn "$1"/.git 2>/dev/null | grep -q .' _ "$T_TMP/ctx"
	run podman build --layers=false --isolation chroot --build-arg "BASE=$BASE" \
		-f "$T_TMP/ctx/daemonset/Containerfile" -t "$IMAGE" "$T_TMP/ctx"
	t_rc 0 "image built from the source tree ($((SECONDS - t0)) s)" || { tail -n 30 "$OUT" | sed 's/^/#   /'; t_bail "image build failed"; }
	rm -rf "$T_TMP/ctx"
	size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
	t_note "image size $((size / 1024 / 1024)) MiB"

	ver=$("${PODMAN_RUN[@]}" --rm "$IMAGE" version 2>&1)
	t_cmd "cairn runs in the image: $ver" grep -q '^cairn ' <<<"$ver"
	u=$("${PODMAN_RUN[@]}" --rm --entrypoint id "$IMAGE" -u 2>&1)
	t_cmd "the image's default user is not root (uid $u)" test "$u" = 65532
	# Only runtime libraries: no compiler, no headers.
	t_cmd "runtime stage holds no compiler and no headers" \
		"${PODMAN_RUN[@]}" --rm --entrypoint sh "$IMAGE" -c \
		'! command -v gcc && ! command -v cc && [ ! -e /usr/include/sodium.h ] && [ ! -e /usr/include/curl ]'
	t_cmd "built without test hooks (no CAIRN_KDF_FAST in the binary)" \
		"${PODMAN_RUN[@]}" --rm --entrypoint sh "$IMAGE" -c '! grep -q CAIRN_KDF_FAST /usr/bin/cairn'
	# configure hardens by default: PIE, full RELRO (BIND_NOW), stack protector, fortify.
	"${PODMAN_RUN[@]}" --rm --entrypoint cat "$IMAGE" /usr/bin/cairn >"$T_TMP/cairn.img"
	hardened() {
		readelf -h "$1" | grep -q 'Type: *DYN' && readelf -lW "$1" | grep -q GNU_RELRO &&
			readelf -dW "$1" | grep -qE 'BIND_NOW|FLAGS_1.*NOW' &&
			readelf -sW --dyn-syms "$1" | grep -q __stack_chk_fail &&
			readelf -sW --dyn-syms "$1" | grep -qE '__[a-z]+_chk@'
	}
	t_cmd "the image's cairn is hardened (PIE, full RELRO, stack protector, fortify)" hardened "$T_TMP/cairn.img"

	# Phase 2 in a private network namespace; lib.sh's exit hooks of this shell do not
	# run on exec, so the image is removed by phase 2's.
	rm -rf "$T_TMP"
	exec unshare -n env IMAGE_AGENT_NETNS=1 IMAGE_AGENT_T_N="$T_N" IMAGE_AGENT_T_FAILED="$T_FAILED" \
		IMAGE="$IMAGE" bash "$0"
fi

# Phase 2.
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$TOP_SRCDIR/tests/e2e/kubeapi-lib.sh"
T_N=$IMAGE_AGENT_T_N
T_FAILED=$IMAGE_AGENT_T_FAILED
t_on_exit podman rmi -f "$IMAGE"
# The namespace's loopback is down until brought up (ioctl: iproute2 may be absent).
lo_up() {
	python3 -c '
import fcntl, socket, struct, sys
s = socket.socket()
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))
sys.exit(0 if [n for _, n in socket.if_nameindex()] == ["lo"] else 1)'
}
t_cmd "a private network namespace holding only its loopback" lo_up || t_bail "no loopback"

W=$KA_DIR/work
mkdir -p "$W"
NODE=node-a
NAME=cairn-image-agent-$$
cleanup() {
	if [ "$T_FAILED" -ne 0 ]; then
		echo "# agent container log:"
		podman logs "$NAME" 2>&1 | tail -n 30 | sed 's/^/#   /'
	fi
	podman rm -f -t 0 "$NAME" >/dev/null 2>&1
	ka_cleanup
}
t_on_exit cleanup
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml
PORT=$(cat "$KA_DIR/port")
NS=cairn
API=/apis/cairn.dev/v1alpha1/namespaces/$NS
pvb_json() { kcurl "$API/podvolumebackups/$1" 2>/dev/null; }
field() { pvb_json "$1" | jq_py "$2" 2>/dev/null; }
phase() { field "$1" 'd.get("status", {}).get("phase", "")'; }
is_phase() { [ "$(phase "$1")" = "$2" ]; }

create_pod() { # NAME VOLUMES-YAML: a Running pod on $NODE; prints its uid
	ka_pod "$1" "$NODE" "$2" >/dev/null
	kcurl "/api/v1/namespaces/app/pods/$1/status" -X PATCH \
		-H 'Content-Type: application/merge-patch+json' -d '{"status":{"phase":"Running"}}' >/dev/null
	kc get pod -n app "$1" -o jsonpath='{.metadata.uid}'
}

# The simulated kubelet root. Like a kubelet's, its folder is a shared mount, so a
# volume mounted under it after the agent started reaches the agent's rslave mount.
KUBELET=$W/kubelet
mkdir -p "$KUBELET/pods"
mount --bind "$KUBELET" "$KUBELET" && mount --make-rshared "$KUBELET" && T_MOUNTS+=("$KUBELET")
ka_namespace app
U1=$(create_pod p1 '[{name: data, emptyDir: {}}, {name: late, emptyDir: {}}]')
t_cmd "a Running pod on $NODE ($U1)" test -n "$U1"
V1=$KUBELET/pods/$U1/volumes/kubernetes.io~empty-dir/data
VL=$KUBELET/pods/$U1/volumes/kubernetes.io~empty-dir/late
mkdir -p "$V1/app" "$VL"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$V1/app/big.bin"
echo "plain text" >"$V1/app/notes.txt"
ln -s notes.txt "$V1/app/link"
# A hard link in each tree (kept by backup and restore; treecmp checks link groups).
ln "$V1/app/notes.txt" "$V1/app/notes.again"
# Another owner's files with no permission bits: only root with the capabilities the
# DaemonSet leaves can read them (DAC_READ_SEARCH).
private() { # DIR: DIR/private/key of uid 1234, mode 000 in a 700 folder
	mkdir -p "$1/private"
	echo "secret of uid 1234" >"$1/private/key"
	chmod 000 "$1/private/key"
	chmod 700 "$1/private"
	chown -R 1234:1234 "$1/private"
}
private "$V1/app"

# The Secrets and the service account as the kubelet mounts them.
mkdir -p "$W/secret-repo" "$W/secret-cloud" "$W/sa" "$W/repo"
printf 'image-e2e-password' >"$W/secret-repo/repository-password"
printf '[default]\naws_access_key_id = unused\naws_secret_access_key = unused\n' >"$W/secret-cloud/cloud"
chmod 400 "$W/secret-repo/repository-password" "$W/secret-cloud/cloud"
cp "$KA_DIR/token" "$W/sa/token"
cp "$KA_DIR/ca.crt" "$W/sa/ca.crt"
printf '%s' "$NS" >"$W/sa/namespace"
# The repository at the release KDF cost, as a user's would be.
REPO=$W/repo/r
t_cmd "repository initialised (host cairn)" env -u CAIRN_KDF_FAST \
	CAIRN_PASSWORD_FILE="$W/secret-repo/repository-password" "$CAIRN_BIN" -r "$REPO" init

run python3 "$IMG_HELP/ds2podman.py" "$IMG_DS" --image "$IMAGE" --node "$NODE" \
	--namespace "$NS" --volume "host-pods=$KUBELET/pods" --volume "repo-password=$W/secret-repo" \
	--volume "cloud-credentials=$W/secret-cloud"
t_rc 0 "podman arguments read from daemonset/node-agent.yaml" || t_bail "cannot map the DaemonSet"
mapfile -d '' DSARGS <"$OUT"
t_note "from the manifest: $(tr '\0' ' ' <"$OUT")"
read -r HPORT HPATH < <(python3 "$IMG_HELP/ds2podman.py" "$IMG_DS" --probe readiness)

run "${PODMAN_RUN[@]}" -d --name "$NAME" --network host \
	--env KUBERNETES_SERVICE_HOST=127.0.0.1 --env "KUBERNETES_SERVICE_PORT=$PORT" \
	--mount "type=bind,source=$W/sa,destination=/var/run/secrets/kubernetes.io/serviceaccount,ro=true" \
	--env CAIRN_REPOSITORY=/repository --mount "type=bind,source=$W/repo/r,destination=/repository" \
	"${DSARGS[@]}"
t_rc 0 "agent container started" || t_bail "podman run failed"
ready() { curl -sf "http://127.0.0.1:$HPORT$HPATH" | grep -q ok; }
t_cmd "readiness probe $HPATH on port $HPORT answers ok (watch synced)" t_wait 120 ready
cfg=$(podman inspect "$NAME" --format '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{json .EffectiveCaps}}')
t_note "container: user, read-only root, capabilities: $cfg"
t_cmd "runs as root (runAsUser 0) on a read-only root filesystem" bash -c '[[ $1 == "0 true "* ]]' _ "$cfg"

python3 "$KA_HOME/mkobj.py" "$KA_DIR" backup bk >/dev/null
B1=$(python3 "$KA_HOME/mkobj.py" "$KA_DIR" pvb bk app p1 data)
t_cmd "PodVolumeBackup $B1 Completed" t_wait 180 is_phase "$B1" Completed ||
	t_note "$B1: $(phase "$B1"): $(field "$B1" 'd.get("status", {}).get("message", "")')"
t_cmd "status.path is the DaemonSet's mount of the kubelet folder" \
	test "$(field "$B1" 'd["status"]["path"]')" = "/host_pods/$U1/volumes/kubernetes.io~empty-dir/data"
id=$(field "$B1" 'd["status"]["snapshotID"]')
run env CAIRN_PASSWORD_FILE="$W/secret-repo/repository-password" "$CAIRN_BIN" -r "$REPO" \
	restore "$id" --target "$W/restore1"
t_rc 0 "host cairn restores snapshot ${id:0:12}"
t_same "restored tree identical to the volume (contents, modes, owners, links)" \
	--no-atime "$V1" "$(t_landed "$W/restore1" "$V1")"

# HostToContainer: a volume mounted after the agent started (as CSI and NFS volumes
# are) is seen through the agent's read-only rslave mount. Such a mount comes into the
# container as the host made it, writable (readOnly does not reach mounts propagated
# later), so reads would move atimes: the old atime of another owner's file must
# survive (O_NOATIME on a file the agent does not own needs FOWNER).
mount -t tmpfs -o size=16m cairn-late "$VL" && T_MOUNTS+=("$VL")
mkdir -p "$VL/x" && echo "mounted after the agent started" >"$VL/x/late.txt"
ln "$VL/x/late.txt" "$VL/x/late.again"
private "$VL/x"
touch -a -d '2001-01-01 00:00:00' "$VL/x/private/key"
atime0=$(stat -c %X "$VL/x/private/key")
B2=$(python3 "$KA_HOME/mkobj.py" "$KA_DIR" pvb bk app p1 late)
t_cmd "PodVolumeBackup of a volume mounted after the agent started Completed" \
	t_wait 180 is_phase "$B2" Completed ||
	t_note "$B2: $(phase "$B2"): $(field "$B2" 'd.get("status", {}).get("message", "")')"
t_cmd "another owner's unreadable file kept its old atime (FOWNER: O_NOATIME)" \
	test "$(stat -c %X "$VL/x/private/key")" = "$atime0"
id2=$(field "$B2" 'd["status"]["snapshotID"]')
run env CAIRN_PASSWORD_FILE="$W/secret-repo/repository-password" "$CAIRN_BIN" -r "$REPO" \
	restore "$id2" --target "$W/restore2"
t_same "and restores identical" --no-atime --ignore-root-times "$VL" "$(t_landed "$W/restore2" "$VL")"

t_cmd "the kubelet folder is read-only in the agent" bash -c \
	'podman exec "$1" sh -c "ls /host_pods >/dev/null && ! touch /host_pods/probe 2>/dev/null" && [ ! -e "$2/probe" ]' _ "$NAME" "$KUBELET/pods"
metrics=$(curl -s "http://127.0.0.1:$HPORT/metrics")
grep -q 'cairn_pvb_total{phase="Completed"} 2' <<<"$metrics" &&
	t_pass "metrics count 2 completed backups" || t_fail "metrics: $(grep cairn_pvb_total <<<"$metrics" | tr '\n' ' ')"

t0=$SECONDS
podman stop -t 30 "$NAME" >/dev/null 2>&1
rc=$(podman inspect "$NAME" --format '{{.State.ExitCode}}')
t_cmd "SIGTERM stops the agent within the grace period, exit $rc ($((SECONDS - t0)) s)" test "$rc" = 0
podman logs "$NAME" >"$W/agent.log" 2>&1
t_cmd "no token or password in the agent's log" bash -c \
	'! grep -qF -e "$1" -e image-e2e-password "$2"' _ "$KA_TOKEN" "$W/agent.log"
t_cmd "cairn check passes" env CAIRN_PASSWORD_FILE="$W/secret-repo/repository-password" \
	"$CAIRN_BIN" -r "$REPO" check
t_done
