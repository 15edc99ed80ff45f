bin_PROGRAMS += cairn
cairn_SOURCES = cli/main.c
cairn_LDADD = $(CAIRN_LIBS)
noinst_LIBRARIES += cli/libcairn_cli.a
cli_libcairn_cli_a_SOURCES = cli/cli.h cli/common.c cli/output.c cli/output.h \
	cli/cmd_backup.c cli/cmd_cat.c cli/cmd_check.c cli/cmd_init.c cli/cmd_ls.c \
	cli/cmd_restore.c cli/cmd_snapshots.c cli/cmd_unlock.c cli/cmd_version.c \
	cli/cmd_mount.c cli/cmd_agent.c
# Maintenance commands (docs/maintenance.md).
cli_libcairn_cli_a_SOURCES += cli/cmd_forget.c cli/cmd_prune.c cli/cmd_key.c cli/cmd_stats.c \
	cli/cmd_diff.c cli/cmd_repair.c
