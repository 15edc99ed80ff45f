# bench/: benchmarks against restic (not tests; see bench/README.md).
EXTRA_DIST += bench/compare.sh bench/deps.sh bench/README.md bench/agent.sh bench/k8s-scale.sh bench/pvr-overhead.sh \
	bench/idx-shards.c bench/aead.c bench/cdcscan.c bench/backup-ab.sh
