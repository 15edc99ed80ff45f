/* The one entry point every fuzz target defines. fuzz_decode returns 1 when the input
 * decoded completely and 0 when the parser refused it; it must never crash, leak or
 * hang. The replay (fuzz-main.c) requires 1 for every seed of the corpus, so a format
 * change that makes the seeds fail turns the replay red instead of leaving it fuzzing
 * only the refusal path. */
#pragma once
#include <stddef.h>
#include <stdint.h>

int fuzz_decode(const uint8_t *data, size_t size);
