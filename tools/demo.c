/* A small demonstration of lite_malloc in a real program: several threads build
 * and tear down word-frequency tables (strings and hash nodes of many sizes),
 * handing half of their strings to a neighbour thread to free. Prints the time
 * taken and lite_malloc's statistics before and after everything is freed. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "lite_malloc/lite_malloc.h"

enum { THREADS = 4, WORDS = 400000, BUCKETS = 1 << 16 };

typedef struct node {
  struct node* next;
  char* word;
  size_t count;
} node;

typedef struct {
  int id;
  char** handoff; /* strings this thread leaves for the next one to free */
  size_t handed;
  size_t distinct;
} job;

static job jobs[THREADS];
static pthread_barrier_t barrier;

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  return x ^ (x >> 29);
}

static void* work(void* arg) {
  job* j = arg;
  node** table = lite_calloc(BUCKETS, sizeof(node*));
  j->handoff = lite_malloc(WORDS * sizeof(char*));
  for (size_t i = 0; i < WORDS; i++) {
    uint64_t r = mix(i * 7919 + (uint64_t)j->id);
    char buf[96];
    int len = snprintf(buf, sizeof buf, "w%llu-%.*s", (unsigned long long)(r % 50000),
                       (int)(r % 60), "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh");
    uint64_t h = 1469598103934665603ULL;
    for (int k = 0; k < len; k++) h = (h ^ (unsigned char)buf[k]) * 1099511628211ULL;
    node** slot = &table[h & (BUCKETS - 1)];
    node* n = *slot;
    while (n && strcmp(n->word, buf) != 0) n = n->next;
    if (n == NULL) {
      n = lite_malloc(sizeof(node));
      n->word = lite_malloc((size_t)len + 1);
      memcpy(n->word, buf, (size_t)len + 1);
      n->count = 0;
      n->next = *slot;
      *slot = n;
      j->distinct++;
    }
    n->count++;
  }
  for (size_t b = 0; b < BUCKETS; b++) {
    for (node* n = table[b]; n;) {
      node* next = n->next;
      j->handoff[j->handed++] = n->word;
      lite_free(n);
      n = next;
    }
  }
  lite_free(table);
  pthread_barrier_wait(&barrier);
  job* prev = &jobs[(j->id + THREADS - 1) % THREADS];
  for (size_t i = 0; i < prev->handed; i++) lite_free(prev->handoff[i]);
  pthread_barrier_wait(&barrier);
  lite_free(j->handoff);
  return NULL;
}

int main(void) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pthread_barrier_init(&barrier, NULL, THREADS);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    jobs[i].id = i;
    pthread_create(&t[i], NULL, work, &jobs[i]);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  size_t distinct = 0;
  for (int i = 0; i < THREADS; i++) distinct += jobs[i].distinct;
  printf("lite_malloc demo: %d threads counted %d words each (%zu distinct in all), "
         "freeing across threads, in %.3f s\n",
         THREADS, WORDS, distinct, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  fflush(stdout);
  lite_malloc_stats_print();
  lite_malloc_trim(0);
  fprintf(stderr, "after lite_malloc_trim(0):\n");
  lite_malloc_stats_print();
  return 0;
}
