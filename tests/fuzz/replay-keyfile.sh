#!/bin/sh
# Replay the keyfile fuzz corpus (with mutations) through the parser.
exec "$TOP_BUILDDIR/tests/fuzz/fuzz-keyfile" "$TOP_SRCDIR/tests/fuzz/corpus/keyfile"
