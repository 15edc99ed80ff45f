# kube/: the Kubernetes API client (kubeconfig, requests, list+watch, Events); knows
# nothing of backups.
noinst_LIBRARIES += kube/libcairn_kube.a
kube_libcairn_kube_a_SOURCES = kube/kube.h kube/kube-internal.h kube/exec.c kube/kcfg.c kube/kube.c kube/kubeops.c kube/watch.c

KUBE_UNIT_TESTS = tests/unit/test-kubeconfig tests/unit/test-kubewatch tests/unit/test-kubeclient
check_PROGRAMS += $(KUBE_UNIT_TESTS)
TESTS += $(KUBE_UNIT_TESTS)
tests_unit_test_kubeconfig_LDADD = $(CAIRN_LIBS)
tests_unit_test_kubewatch_LDADD = $(CAIRN_LIBS)
tests_unit_test_kubeclient_LDADD = $(CAIRN_LIBS)

# pods/exec over a websocket, against the API double and the real kubectl.
check_PROGRAMS += tests/kube/kexec
tests_kube_kexec_LDADD = $(CAIRN_LIBS)
TESTS += tests/e2e/kube-exec.sh
EXTRA_DIST += tests/e2e/kube-exec.sh
