# daemonset module: deployment manifests, and the Kubernetes API-server double
# (tests/kubeapi/) with its tests. Install script: tests/kubeapi/deps.sh.
KUBEAPI_FILES = tests/kubeapi/kubeapi.py tests/kubeapi/kinds.py tests/kubeapi/store.py \
	tests/kubeapi/objutil.py tests/kubeapi/table.py tests/kubeapi/openapi.py \
	tests/kubeapi/start.sh tests/kubeapi/stop.sh tests/kubeapi/deps.sh \
	tests/e2e/kubeapi-lib.sh

TESTS += tests/e2e/kubeapi-kubectl.sh
EXTRA_DIST += $(KUBEAPI_FILES) tests/e2e/kubeapi-kubectl.sh
