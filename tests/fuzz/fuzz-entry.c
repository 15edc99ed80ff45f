/* libFuzzer's entry point over fuzz_decode (libFuzzer wants 0 whatever the outcome). */
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)fuzz_decode(data, size);
	return 0;
}
