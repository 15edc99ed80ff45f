# daemonset module: deployment manifests, and the Kubernetes API-server double
# (tests/kubeapi/) with its tests. Install script: tests/kubeapi/deps.sh.
KUBEAPI_FILES = tests/kubeapi/kubeapi.py tests/kubeapi/execws.py tests/kubeapi/kinds.py tests/kubeapi/store.py \
	tests/kubeapi/objutil.py tests/kubeapi/table.py tests/kubeapi/openapi.py tests/kubeapi/protobuf.py \
	tests/kubeapi/start.sh tests/kubeapi/stop.sh tests/kubeapi/deps.sh \
	tests/kubeapi/README.md tests/kubeapi/selftest.py tests/e2e/kubeapi-lib.sh
MANIFEST_FILES = daemonset/kustomization.yaml daemonset/namespace.yaml daemonset/rbac.yaml \
	daemonset/node-agent.yaml daemonset/secret-example.yaml daemonset/Containerfile \
	daemonset/crds/podvolumebackups.yaml daemonset/crds/podvolumerestores.yaml \
	daemonset/crds/backupstoragelocations.yaml

TESTS += tests/kubeapi/selftest.py tests/e2e/kubeapi-kubectl.sh tests/e2e/kubeapi-modes.sh \
	tests/e2e/manifests.sh
EXTRA_DIST += $(KUBEAPI_FILES) $(MANIFEST_FILES) docs/kubeapi.md \
	tests/e2e/kubeapi-kubectl.sh tests/e2e/kubeapi-modes.sh tests/e2e/manifests.sh
