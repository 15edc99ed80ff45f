#!/bin/sh
# s3rver.sh start DIR PORT | s3rver.sh stop DIR -- the npm s3rver (Minio-like, no
# signature checks) on 127.0.0.1:PORT, data under DIR; credentials S3RVER/S3RVER.
set -e
cmd=${1:?start or stop}; D=${2:?state directory}
here=$(cd "$(dirname "$0")" && pwd)
if [ "$cmd" = stop ]; then
	if [ -f "$D/pid" ]; then kill "$(cat "$D/pid")" 2>/dev/null || true; fi
	rm -f "$D/pid"
	exit 0
fi
P=${3:?port}
rm -rf "$D"
mkdir -p "$D/data"
# Node >= 17 refuses the DES cipher s3rver uses for continuation tokens without this.
NODE_OPTIONS=--openssl-legacy-provider "$here/node_modules/.bin/s3rver" -d "$D/data" \
	-a 127.0.0.1 -p "$P" --silent >"$D/log" 2>&1 &
echo $! >"$D/pid"
i=0
until curl -s -o /dev/null "http://127.0.0.1:$P/"; do
	i=$((i + 1))
	if [ $i -gt 200 ]; then
		echo "s3rver did not start; see $D/log" >&2
		exit 1
	fi
	sleep 0.05
done
