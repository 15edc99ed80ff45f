# Maintenance (forget, prune, repair, keys, stats, diff): sources listed here.
libcairn_a_SOURCES += repo/maint.h repo/forget.c repo/prune.c repo/keys.c repo/repair.c \
	repo/stats.c
