#!/bin/sh
# Replay the tree fuzz corpus (with mutations) through the parser.
exec "$TOP_BUILDDIR/tests/fuzz/fuzz-tree" "$TOP_SRCDIR/tests/fuzz/corpus/tree"
