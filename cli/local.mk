bin_PROGRAMS += cairn
cairn_SOURCES = cli/main.c
cairn_LDADD = $(CAIRN_LIBS)
noinst_LIBRARIES += cli/libcairn_cli.a
cli_libcairn_cli_a_SOURCES = cli/cli.h cli/common.c cli/output.c cli/output.h \
	cli/cmd_backup.c cli/cmd_cat.c cli/cmd_check.c cli/cmd_init.c cli/cmd_ls.c \
	cli/cmd_restore.c cli/cmd_snapshots.c cli/cmd_unlock.c cli/cmd_version.c \
	cli/cmd_mount.c cli/cmd_agent.c cli/cmd_restore_wait.c \
	cli/cmdtab.h cli/cmdtab.c cli/cmdlookup.c cli/help.c \
	cli/progress.h cli/progress.c cli/progress_maint.c cli/scan.c
# Cluster controller and its kubectl-like commands (docs/controller.md).
cli_libcairn_cli_a_SOURCES += cli/cmd_controller.c cli/cmd_kube.c
# Maintenance commands (docs/maintenance.md).
cli_libcairn_cli_a_SOURCES += cli/cmd_forget.c cli/cmd_prune.c cli/cmd_key.c cli/cmd_stats.c \
	cli/cmd_diff.c cli/cmd_repair.c

# Man pages and completions are generated from the command table (cli/cmdtab.c) at build
# time by cairn-docgen, a small program that links only the table and its renderers.
EXTRA_PROGRAMS = cli/cairn-docgen
cli_cairn_docgen_SOURCES = cli/docgen.c cli/complete.c cli/cmdtab.c cli/cmdlookup.c \
	cli/cmdtab.h
CLI_MANS = cli/man/cairn.1 cli/man/cairn-init.1 cli/man/cairn-backup.1 \
	cli/man/cairn-restore.1 cli/man/cairn-snapshots.1 cli/man/cairn-ls.1 \
	cli/man/cairn-cat.1 cli/man/cairn-check.1 cli/man/cairn-mount.1 cli/man/cairn-forget.1 \
	cli/man/cairn-prune.1 cli/man/cairn-unlock.1 cli/man/cairn-key.1 cli/man/cairn-stats.1 \
	cli/man/cairn-diff.1 cli/man/cairn-repair.1 cli/man/cairn-agent.1 \
	cli/man/cairn-controller.1 cli/man/cairn-kube.1 \
	cli/man/cairn-version.1 cli/man/cairn-help.1
man_MANS = $(CLI_MANS)
bashcompdir = $(datadir)/bash-completion/completions
nodist_bashcomp_DATA = cli/completion/cairn
zshcompdir = $(datadir)/zsh/site-functions
nodist_zshcomp_DATA = cli/completion/_cairn
CLEANFILES += $(CLI_MANS) cli/man.stamp cli/completion/cairn cli/completion/_cairn \
	cli/cairn-docgen$(EXEEXT)

cli/man.stamp: cli/cairn-docgen$(EXEEXT)
	@$(MKDIR_P) cli/man
	$(AM_V_GEN)cli/cairn-docgen$(EXEEXT) man cli/man && touch $@
$(CLI_MANS): cli/man.stamp
cli/completion/cairn: cli/cairn-docgen$(EXEEXT)
	@$(MKDIR_P) cli/completion
	$(AM_V_GEN)cli/cairn-docgen$(EXEEXT) bash >$@.tmp && mv $@.tmp $@
cli/completion/_cairn: cli/cairn-docgen$(EXEEXT)
	@$(MKDIR_P) cli/completion
	$(AM_V_GEN)cli/cairn-docgen$(EXEEXT) zsh >$@.tmp && mv $@.tmp $@
all-local: cli/man.stamp cli/completion/cairn cli/completion/_cairn

# --help against the man pages, docs/cli.md against the table, completions, typos.
# Progress in a pseudo-terminal, the snapshots table, hostile names.
TESTS += tests/e2e/cli-help.sh tests/e2e/cli-output.sh
EXTRA_DIST += tests/e2e/cli-help.sh tests/e2e/cli-output.sh
# backup --compression: off, auto, max, fastest, levels; all restore identically.
TESTS += tests/e2e/compression.sh
EXTRA_DIST += tests/e2e/compression.sh bench/zlevels.c

# restore-wait: the init container of pods whose volumes are being restored.
TESTS += tests/e2e/restore-wait.sh
EXTRA_DIST += tests/e2e/restore-wait.sh
