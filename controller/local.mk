# controller/: the cluster controller (Backups, Schedules, expiry, storage locations, DR
# sync). Uses kube/, repo/ and maint/; prints nothing (docs/controller.md).
noinst_LIBRARIES += controller/libcairn_controller.a
controller_libcairn_controller_a_SOURCES = controller/controller.h controller/ctl-internal.h \
	controller/ctl.c controller/backup.c controller/schedule.c controller/gc.c \
	controller/location.c controller/metrics.c controller/cron.c controller/duration.c \
	controller/select.c controller/hookspec.c controller/hooks.c controller/restore.c \
	controller/pvc.c controller/hookpool.c

CONTROLLER_UNIT_TESTS = tests/unit/test-cron tests/unit/test-ctlselect tests/unit/test-ctlhooks \
	tests/unit/test-ctlhookpool
check_PROGRAMS += $(CONTROLLER_UNIT_TESTS)
TESTS += $(CONTROLLER_UNIT_TESTS)
tests_unit_test_cron_LDADD = $(CAIRN_LIBS)
tests_unit_test_ctlselect_LDADD = $(CAIRN_LIBS)
tests_unit_test_ctlhooks_LDADD = $(CAIRN_LIBS)
tests_unit_test_ctlhookpool_LDADD = $(CAIRN_LIBS)

CONTROLLER_E2E = tests/e2e/controller-backup.sh tests/e2e/controller-hooks.sh \
	tests/e2e/controller-hooks-par.sh tests/e2e/controller-ttl-prune.sh \
	tests/e2e/controller-hooks-async.sh
TESTS += $(CONTROLLER_E2E)
EXTRA_DIST += $(CONTROLLER_E2E) tests/e2e/ctl-lib.sh daemonset/controller.yaml daemonset/optional/controller-alerts.yaml docs/controller.md
