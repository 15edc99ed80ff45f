libcairn_a_SOURCES += util/attr.h util/banned.h util/ckd.h \
	util/buf.c util/buf.h util/err.c util/err.h util/fsutil.c util/fsutil.h \
	util/hex.c util/hex.h util/log.c util/log.h
libcairn_a_SOURCES += util/wq.c util/wq.h
