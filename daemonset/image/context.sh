#!/bin/sh
# shellcheck disable=SC2016 # the sh -c script gets its values as arguments
# Makes a clean build context for daemonset/Containerfile:
#   daemonset/image/context.sh DIR [SRCDIR]
# DIR gets the source tree's files that git tracks or would track (untracked files
# that .gitignore does not exclude are in, so work not yet committed is built too),
# and nothing else: no build folders, no generated configure, no node_modules, no
# .git. Outside a git checkout (a release tarball) the tree is copied as it is.
# DIR is emptied first.
set -eu
dir=${1:?usage: context.sh DIR [SRCDIR]}
src=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
rm -rf "$dir"
mkdir -p "$dir"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	top=$(git -C "$src" rev-parse --show-toplevel)
	# Deleted-but-tracked files are listed too: keep only those that exist.
	git -C "$top" ls-files -z --cached --others --exclude-standard |
		(cd "$top" && xargs -0 sh -c 'for f; do [ -e "$f" ] || [ -L "$f" ] && printf "%s\0" "$f"; done' _) |
		(cd "$top" && tar --null -T - -cf -) | tar -xf - -C "$dir"
else
	(cd "$src" && tar -cf - .) | tar -xf - -C "$dir"
fi
