#!/bin/sh
# Makes a Debian 12 base image offline, from Debian's packages, for building
# daemonset/Containerfile where no image registry is reachable (CI):
#   daemonset/image/base.sh [CACHE-DIR]      prints the image's name
# mmdebstrap --variant=minbase writes a rootfs tarball, `podman import` turns it
# into localhost/cairn-base:bookworm-YYYYMMDD. The tarball is kept in CACHE-DIR
# (default /var/cache/cairn-ci, outside any build tree) under today's date, so a
# rerun the same day imports it again in seconds, or finds the image and does
# nothing; older tarballs are removed. The rootfs uses the mirrors this machine's
# apt uses (its debian.sources), so `apt-get` in the build reaches them too.
# Needs root, mmdebstrap and podman (tests/kubeapi/deps.sh installs them).
set -eu
cache=${1:-/var/cache/cairn-ci}
day=$(date -u +%Y%m%d)
image=localhost/cairn-base:bookworm-$day
tar=$cache/base-bookworm-$day.tar

if podman image exists "$image"; then
	echo "$image"
	exit 0
fi
mkdir -p "$cache"
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
	mmdebstrap --quiet --variant=minbase --format=tar "$@" bookworm "$tar.part" \
		${mirror:+"$mirror"} >&2
	mv "$tar.part" "$tar"
	find "$cache" -maxdepth 1 -name 'base-bookworm-*.tar' ! -name "${tar##*/}" -delete
fi
podman import --quiet "$tar" "$image" >/dev/null
echo "$image"
