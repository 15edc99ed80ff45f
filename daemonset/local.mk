# daemonset module: deployment manifests, and the Kubernetes API-server double
# (tests/kubeapi/) with its tests. Install script: tests/kubeapi/deps.sh.
KUBEAPI_FILES = tests/kubeapi/kubeapi.py tests/kubeapi/execws.py tests/kubeapi/kinds.py tests/kubeapi/store.py \
	tests/kubeapi/objutil.py tests/kubeapi/table.py tests/kubeapi/openapi.py tests/kubeapi/protobuf.py tests/kubeapi/schema.py tests/kubeapi/mkobj.py \
	tests/kubeapi/fixtures/velero.yaml tests/kubeapi/fixtures/velero-open.yaml \
	tests/kubeapi/start.sh tests/kubeapi/stop.sh tests/kubeapi/deps.sh \
	tests/kubeapi/README.md tests/kubeapi/selftest.py tests/e2e/kubeapi-lib.sh
MANIFEST_FILES = daemonset/kustomization.yaml daemonset/namespace.yaml daemonset/rbac.yaml \
	daemonset/node-agent.yaml daemonset/example/secrets.yaml \
	daemonset/Containerfile daemonset/crds/podvolumebackups.yaml \
	daemonset/crds/podvolumerestores.yaml daemonset/crds/backupstoragelocations.yaml \
	daemonset/crds/backups.yaml daemonset/crds/restores.yaml daemonset/crds/schedules.yaml

TESTS += tests/kubeapi/selftest.py tests/e2e/kubeapi-kubectl.sh tests/e2e/kubeapi-modes.sh \
	tests/e2e/manifests.sh tests/e2e/image-agent.sh
EXTRA_DIST += $(KUBEAPI_FILES) $(MANIFEST_FILES) docs/kubeapi.md \
	tests/e2e/kubeapi-kubectl.sh tests/e2e/kubeapi-modes.sh tests/e2e/manifests.sh \
	tests/e2e/image-agent.sh daemonset/image/base.sh daemonset/image/context.sh \
	daemonset/image/ds2podman.py
