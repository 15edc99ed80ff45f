#!/bin/bash
# The cairn binary is built hardened: PIE, full RELRO (BIND_NOW), stack protector and,
# outside sanitizer builds (ASan replaces the checked functions), _FORTIFY_SOURCE.
. "$(dirname "$0")/lib.sh"
[ -x "$CAIRN_BIN" ] || t_bail "cairn binary missing at $CAIRN_BIN"
command -v readelf >/dev/null || t_bail "readelf missing (binutils)"
readelf -h "$CAIRN_BIN" | grep -q 'Type:.*DYN'
t_ok $? "position-independent executable"
readelf -lW "$CAIRN_BIN" | grep -q GNU_RELRO && readelf -d "$CAIRN_BIN" | grep -q BIND_NOW
t_ok $? "full RELRO (GNU_RELRO segment and BIND_NOW)"
readelf -sW "$CAIRN_BIN" | grep -q '__stack_chk_fail'
t_ok $? "stack protector"
if readelf -sW "$CAIRN_BIN" | grep -q '__asan_init'; then
	t_skip "_FORTIFY_SOURCE" "sanitizer build (ASan intercepts the same calls)"
else
	readelf -sW "$CAIRN_BIN" | grep -qE '__(memcpy|snprintf|vsnprintf|read|memset)_chk'
	t_ok $? "_FORTIFY_SOURCE checked calls"
fi
t_done
