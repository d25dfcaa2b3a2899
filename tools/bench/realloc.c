/* realloc growth: the ways programs build strings and arrays.
 *  - strings: many strings, each grown by appending short pieces (1-64 bytes)
 *    with realloc to the exact length, up to a few KiB;
 *  - vectors: arrays of 8-byte elements whose capacity doubles from 16 bytes
 *    to 1-4 MiB;
 *  - buffers: a few buffers grown by 64 KiB steps to 4 MiB, as when reading a
 *    file of unknown size.
 * Contents follow a formula and are checked in full at the end, so a realloc
 * that loses or moves bytes wrongly fails the run. */
#include <stdlib.h>

#include "tools/bench/workloads.h"

enum { STRINGS = 4096, VECTORS = 16, BUFFERS = 4, BUFFER_STEP = 64 << 10 };

static unsigned char string_byte(size_t id, size_t i) {
  return (unsigned char)(id * 131 + i * 7 + (i >> 8));
}

static void grow_strings(size_t rounds, uint64_t* rng) {
  static unsigned char* s[STRINGS];
  static size_t len[STRINGS];
  for (size_t r = 0; r < rounds; r++) {
    size_t id = (size_t)bench_rand(rng) % STRINGS;
    size_t add = bench_range(rng, 1, 64);
    if (len[id] + add > 16384) { /* long enough: start a new string */
      free(s[id]);
      s[id] = NULL;
      len[id] = 0;
    }
    unsigned char* grown = realloc(s[id], len[id] + add);
    if (grown == NULL) bench_fail("realloc strings: NULL");
    for (size_t i = len[id]; i < len[id] + add; i++) grown[i] = string_byte(id, i);
    s[id] = grown;
    len[id] += add;
  }
  for (size_t id = 0; id < STRINGS; id++) {
    for (size_t i = 0; i < len[id]; i++) {
      if (s[id][i] != string_byte(id, i)) {
        bench_fail("realloc strings: string %zu byte %zu of %zu is wrong", id, i, len[id]);
      }
    }
    free(s[id]);
  }
}

static void grow_vectors(size_t rounds, uint64_t* rng) {
  for (size_t r = 0; r < rounds; r++) {
    uint64_t* v[VECTORS] = {0};
    size_t cap[VECTORS] = {0}, len[VECTORS] = {0}, want[VECTORS];
    for (size_t k = 0; k < VECTORS; k++) want[k] = bench_range(rng, 1 << 17, 1 << 19); /* 1-4 MiB */
    /* Grow all vectors side by side, as a program filling several arrays. */
    for (int more = 1; more;) {
      more = 0;
      for (size_t k = 0; k < VECTORS; k++) {
        for (size_t step = 0; step < 64 && len[k] < want[k]; step++) {
          if (len[k] == cap[k]) {
            cap[k] = cap[k] ? cap[k] * 2 : 2;
            v[k] = realloc(v[k], cap[k] * sizeof(uint64_t));
            if (v[k] == NULL) bench_fail("realloc vectors: NULL");
          }
          v[k][len[k]] = len[k] * 2654435761u + k;
          len[k]++;
        }
        more |= len[k] < want[k];
      }
    }
    for (size_t k = 0; k < VECTORS; k++) {
      for (size_t i = 0; i < len[k]; i++) {
        if (v[k][i] != i * 2654435761u + k) bench_fail("realloc vectors: element %zu is wrong", i);
      }
      free(v[k]);
    }
  }
}

static void grow_buffers(size_t rounds) {
  for (size_t r = 0; r < rounds; r++) {
    unsigned char* b[BUFFERS] = {0};
    size_t len = 0;
    for (; len < (4u << 20); len += BUFFER_STEP) {
      for (size_t k = 0; k < BUFFERS; k++) {
        b[k] = realloc(b[k], len + BUFFER_STEP);
        if (b[k] == NULL) bench_fail("realloc buffers: NULL");
        memset(b[k] + len, (int)(k + len / BUFFER_STEP), BUFFER_STEP);
      }
    }
    for (size_t k = 0; k < BUFFERS; k++) {
      for (size_t off = 0; off < len; off += 4096) {
        if (b[k][off] != (unsigned char)(k + off / BUFFER_STEP)) {
          bench_fail("realloc buffers: byte %zu is wrong", off);
        }
      }
      free(b[k]);
    }
  }
}

int wl_realloc(double scale, const char* arg) {
  (void)arg;
  uint64_t rng = 5;
  grow_strings(bench_scaled(4000000, scale), &rng);
  grow_vectors(bench_scaled(8, scale), &rng);
  grow_buffers(bench_scaled(16, scale));
  return 0;
}
