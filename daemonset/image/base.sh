#!/bin/sh
# Makes a Debian 12 base image offline, from Debian's packages, for building
# daemonset/Containerfile where no image registry is reachable (CI):
#   daemonset/image/base.sh [CACHE-DIR]      prints the image's name
# mmdebstrap --variant=minbase writes a rootfs tarball, `podman import` turns it
# into localhost/cairn-base:bookworm-YYYYMMDD-KEY (KEY: a hash of this script, so
# a change here makes a new base). The tarball is kept in CACHE-DIR (default
# /var/cache/cairn-ci, outside any build tree) under today's date, so a rerun the
# same day imports it again in seconds, or finds the image and does nothing;
# older tarballs are removed. Like debian:12-slim it leaves out manual pages,
# documentation (but copyrights) and translations, here and in every package
# installed on it later (dpkg path-exclude), and it is merged-/usr without the
# usrmerge package (which would pull in perl). The rootfs uses the mirrors this machine's
# apt uses (its debian.sources), so `apt-get` in the build reaches them too.
# Needs root, mmdebstrap and podman (tests/kubeapi/deps.sh installs them).
set -eu
cache=${1:-/var/cache/cairn-ci}
key=$(date -u +%Y%m%d)-$(cksum <"$0" | cut -c1-8 | tr ' ' 0)
image=localhost/cairn-base:bookworm-$key
tar=$cache/base-bookworm-$key.tar

mkdir -p "$cache"
# One maker at a time (two test runs on one machine share the cache).
exec 9>"$cache/.lock"
flock 9
if podman image exists "$image"; then
	echo "$image"
	exit 0
fi
if [ ! -s "$tar" ]; then
	# apt options this machine's mirror needs (e.g. a snapshot past its Valid-Until).
	set --
	for o in Acquire::Check-Valid-Until Acquire::Check-Date Acquire::http::Proxy \
		Acquire::https::Proxy; do
		v=$(apt-config dump "$o" 2>/dev/null | sed -n "s/^$o \"\(.*\)\";\$/\1/p")
		[ -n "$v" ] && set -- "$@" "--aptopt=$o \"$v\""
	done
	mirror=""
	[ -f /etc/apt/sources.list.d/debian.sources ] && mirror=/etc/apt/sources.list.d/debian.sources
	# Into a temporary name first: an interrupted run must not leave a half tarball
	# that the next run would take for a cached one.
	rm -f "$tar.part"
	for x in '/usr/share/man/*' '/usr/share/info/*' '/usr/share/locale/*' \
		'/usr/share/doc/*' '/usr/share/lintian/*' '/usr/share/linda/*'; do
		set -- "$@" "--dpkgopt=path-exclude=$x"
	done
	set -- "$@" --dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
	mmdebstrap --quiet --variant=minbase --format=tar "$@" bookworm "$tar.part" \
		${mirror:+"$mirror"} >&2
	mv "$tar.part" "$tar"
	find "$cache" -maxdepth 1 -name 'base-bookworm-*.tar' ! -name "${tar##*/}" -delete
fi
podman import --quiet "$tar" "$image" >/dev/null
# Earlier days' bases (images built on them keep their layers).
podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/cairn-base:' |
	grep -vxF "$image" | xargs -r podman rmi >/dev/null 2>&1 || true
echo "$image"
