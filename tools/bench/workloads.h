/* The benchmark's workloads, one per file, each run by name from main.c:
 *
 *   workloads NAME [SCALE [ARG]]
 *
 * SCALE (default 1) multiplies the amount of work; ARG is the workload's
 * parameter, described next to it below. */
#ifndef LITE_BENCH_WORKLOADS_H
#define LITE_BENCH_WORKLOADS_H

#include "tools/bench/common.h"

/* churn.c: single-thread churn of 8-1024 byte objects. */
int wl_churn(double scale, const char* arg);
/* server.c: ARG worker threads handle requests, freeing each other's objects. */
int wl_server(double scale, const char* arg);
/* prodcons.c: one thread allocates, another frees. */
int wl_prodcons(double scale, const char* arg);
/* larson.c, xmalloc.c and mstress.c: ARG defaults to the number of online
 * cores. */
/* larson.c: ARG chains of threads churn 10-500 B blocks; each round a new
 * thread takes over the blocks of the one before. */
int wl_larson(double scale, const char* arg);
/* xmalloc.c: ARG producer threads hand batches of small blocks to ARG
 * consumer threads, which free them. */
int wl_xmalloc(double scale, const char* arg);
/* mstress.c: rounds of ARG threads that allocate, free and swap objects of
 * mixed sizes through a shared transfer array. */
int wl_mstress(double scale, const char* arg);
/* realloc.c: strings and vectors grown with realloc, small to megabytes. */
int wl_realloc(double scale, const char* arg);
/* large.c: bursts of 64 KiB - 8 MiB blocks. */
int wl_large(double scale, const char* arg);
/* fragment.c: allocate a mix, free a random half, allocate other sizes. */
int wl_fragment(double scale, const char* arg);
/* overhead.c: millions of ARG-byte objects; RSS over live bytes. */
int wl_overhead(double scale, const char* arg);
/* return_os.c: RSS after everything is freed, against RSS at start. */
int wl_return_os(double scale, const char* arg);
/* loop.c: ARG iterations of malloc(SIZE)+free, SIZE = SCALE, for callgrind. */
int wl_loop(double scale, const char* arg);
/* which.c: names the library that malloc resolves to (checks a preload). */
int wl_which(double scale, const char* arg);

#endif
