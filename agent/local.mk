# agent: Kubernetes client, watch, kubelet paths, PodVolumeBackup jobs, metrics.
libcairn_a_SOURCES += agent/agent.h agent/agent-internal.h \
	agent/kcfg.c agent/kube.c agent/kubeops.c agent/watch.c agent/kubelet.c \
	agent/pvb.c agent/bsl.c agent/metrics.c agent/jobprep.c agent/job.c agent/agent.c

AGENT_UNIT_TESTS = tests/unit/test-kubeconfig tests/unit/test-kubewatch tests/unit/test-kubelet \
	tests/unit/test-pvb tests/unit/test-kubeclient
check_PROGRAMS += $(AGENT_UNIT_TESTS)
TESTS += $(AGENT_UNIT_TESTS)
tests_unit_test_kubeconfig_LDADD = $(CAIRN_LIBS)
tests_unit_test_kubewatch_LDADD = $(CAIRN_LIBS)
tests_unit_test_kubelet_LDADD = $(CAIRN_LIBS)
tests_unit_test_pvb_LDADD = $(CAIRN_LIBS)
tests_unit_test_kubeclient_LDADD = $(CAIRN_LIBS)

TESTS += tests/e2e/agent-e2e.sh
EXTRA_DIST += tests/e2e/agent-e2e.sh bench/agent.sh docs/agent.md
