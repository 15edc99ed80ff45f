# Layer enforcement: each module linked alone with the closure of what it may use
# (docs/design.md). A forbidden call is an undefined reference at `make check` time.
LAYER_TESTS = tests/layers/layer-util tests/layers/layer-chunker tests/layers/layer-crypto tests/layers/layer-repo tests/layers/layer-s3 tests/layers/layer-maint tests/layers/layer-backup tests/layers/layer-restore tests/layers/layer-fuse tests/layers/layer-kube tests/layers/layer-agent tests/layers/layer-controller
check_PROGRAMS += $(LAYER_TESTS)
TESTS += $(LAYER_TESTS) tests/layers/includes.sh
EXTRA_DIST += tests/layers/includes.sh tests/layers/rules
tests_layers_layer_util_SOURCES = tests/layers/main.c
tests_layers_layer_util_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"util\"
tests_layers_layer_util_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive util/libcairn_util.a -Wl,--no-whole-archive
tests_layers_layer_util_LDADD =  $(EXT_LIBS)
EXTRA_tests_layers_layer_util_DEPENDENCIES = util/libcairn_util.a
tests_layers_layer_chunker_SOURCES = tests/layers/main.c
tests_layers_layer_chunker_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"chunker\"
tests_layers_layer_chunker_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive chunker/libcairn_chunker.a -Wl,--no-whole-archive
tests_layers_layer_chunker_LDADD = util/libcairn_util.a $(EXT_LIBS)
EXTRA_tests_layers_layer_chunker_DEPENDENCIES = chunker/libcairn_chunker.a
tests_layers_layer_crypto_SOURCES = tests/layers/main.c
tests_layers_layer_crypto_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"crypto\"
tests_layers_layer_crypto_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive crypto/libcairn_crypto.a -Wl,--no-whole-archive
tests_layers_layer_crypto_LDADD = util/libcairn_util.a $(EXT_LIBS)
EXTRA_tests_layers_layer_crypto_DEPENDENCIES = crypto/libcairn_crypto.a
tests_layers_layer_repo_SOURCES = tests/layers/main.c
tests_layers_layer_repo_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"repo\"
tests_layers_layer_repo_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive repo/libcairn_repo.a -Wl,--no-whole-archive
tests_layers_layer_repo_LDADD = chunker/libcairn_chunker.a crypto/libcairn_crypto.a util/libcairn_util.a $(EXT_LIBS)
EXTRA_tests_layers_layer_repo_DEPENDENCIES = repo/libcairn_repo.a
tests_layers_layer_s3_SOURCES = tests/layers/main.c
tests_layers_layer_s3_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"s3\"
tests_layers_layer_s3_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive s3/libcairn_s3.a -Wl,--no-whole-archive
tests_layers_layer_s3_LDADD = repo/libcairn_repo.a chunker/libcairn_chunker.a crypto/libcairn_crypto.a util/libcairn_util.a $(EXT_LIBS)
EXTRA_tests_layers_layer_s3_DEPENDENCIES = s3/libcairn_s3.a
tests_layers_layer_maint_SOURCES = tests/layers/main.c
tests_layers_layer_maint_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"maint\"
tests_layers_layer_maint_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive maint/libcairn_maint.a -Wl,--no-whole-archive
tests_layers_layer_maint_LDADD = repo/libcairn_repo.a chunker/libcairn_chunker.a crypto/libcairn_crypto.a util/libcairn_util.a $(EXT_LIBS)
EXTRA_tests_layers_layer_maint_DEPENDENCIES = maint/libcairn_maint.a
tests_layers_layer_backup_SOURCES = tests/layers/main.c
tests_layers_layer_backup_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"backup\"
tests_layers_layer_backup_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive backup/libcairn_backup.a -Wl,--no-whole-archive
tests_layers_layer_backup_LDADD = repo/libcairn_repo.a chunker/libcairn_chunker.a crypto/libcairn_crypto.a util/libcairn_util.a $(EXT_LIBS)
EXTRA_tests_layers_layer_backup_DEPENDENCIES = backup/libcairn_backup.a
tests_layers_layer_restore_SOURCES = tests/layers/main.c
tests_layers_layer_restore_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"restore\"
tests_layers_layer_restore_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive restore/libcairn_restore.a -Wl,--no-whole-archive
tests_layers_layer_restore_LDADD = repo/libcairn_repo.a chunker/libcairn_chunker.a crypto/libcairn_crypto.a util/libcairn_util.a $(EXT_LIBS)
EXTRA_tests_layers_layer_restore_DEPENDENCIES = restore/libcairn_restore.a
tests_layers_layer_fuse_SOURCES = tests/layers/main.c
tests_layers_layer_fuse_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"fuse\"
tests_layers_layer_fuse_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive fuse/libcairn_fuse.a -Wl,--no-whole-archive
tests_layers_layer_fuse_LDADD = repo/libcairn_repo.a chunker/libcairn_chunker.a crypto/libcairn_crypto.a util/libcairn_util.a $(EXT_LIBS)
EXTRA_tests_layers_layer_fuse_DEPENDENCIES = fuse/libcairn_fuse.a
tests_layers_layer_kube_SOURCES = tests/layers/main.c
tests_layers_layer_kube_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"kube\"
tests_layers_layer_kube_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive kube/libcairn_kube.a -Wl,--no-whole-archive
tests_layers_layer_kube_LDADD = util/libcairn_util.a $(EXT_LIBS)
EXTRA_tests_layers_layer_kube_DEPENDENCIES = kube/libcairn_kube.a
tests_layers_layer_agent_SOURCES = tests/layers/main.c
tests_layers_layer_agent_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"agent\"
tests_layers_layer_agent_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive agent/libcairn_agent.a -Wl,--no-whole-archive
tests_layers_layer_agent_LDADD = backup/libcairn_backup.a restore/libcairn_restore.a repo/libcairn_repo.a kube/libcairn_kube.a chunker/libcairn_chunker.a crypto/libcairn_crypto.a util/libcairn_util.a $(EXT_LIBS)
EXTRA_tests_layers_layer_agent_DEPENDENCIES = agent/libcairn_agent.a
tests_layers_layer_controller_SOURCES = tests/layers/main.c
tests_layers_layer_controller_CPPFLAGS = $(AM_CPPFLAGS) -DLAYER_NAME=\"controller\"
tests_layers_layer_controller_LDFLAGS = $(AM_LDFLAGS) -Wl,--whole-archive controller/libcairn_controller.a -Wl,--no-whole-archive
tests_layers_layer_controller_LDADD = maint/libcairn_maint.a repo/libcairn_repo.a kube/libcairn_kube.a chunker/libcairn_chunker.a crypto/libcairn_crypto.a util/libcairn_util.a $(EXT_LIBS)
EXTRA_tests_layers_layer_controller_DEPENDENCIES = controller/libcairn_controller.a
