/* Shared between the chunker's files: the cut-point search of chunker/scan.c. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* The first i in [from, end) whose gear hash has none of mask's bits set: i + 1, or 0.
 * The hash at i is the one of the plain loop that starts with h = 0 at byte `floor` (a
 * chunk's min): h = (h << 1) + gear[data[j]] for j = floor..i. Needs floor <= from, and
 * mask the top bits of a word (chunker_init's mask_s and mask_l are). */
size_t chunker_search(const uint64_t gear[256], const uint8_t *data, size_t floor, size_t from,
                      size_t end, uint64_t mask);
