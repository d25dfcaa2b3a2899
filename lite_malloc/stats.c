/* Statistics, configuration queries and the one-line fatal error report. All
 * formatting is done here by hand: nothing may call printf inside malloc. */
#include "lite_internal.h"

lite_counters lite_stat;

/* Appends the decimal (base 10) or hex (base 16) digits of v to *out. */
static char* lite_fmt_u64(char* out, uint64_t v, unsigned base) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  while (n) *out++ = tmp[--n];
  return out;
}

static char* lite_fmt_str(char* out, const char* s) {
  while (*s) *out++ = *s++;
  return out;
}

void lite_fatal(const char* what, const void* p, const char* reason) {
  char line[256], *o = line;
  o = lite_fmt_str(o, "lite_malloc: ");
  o = lite_fmt_str(o, what);
  o = lite_fmt_str(o, " of 0x");
  o = lite_fmt_u64(o, (uintptr_t)p, 16);
  o = lite_fmt_str(o, " (");
  o = lite_fmt_str(o, reason);
  o = lite_fmt_str(o, ")\n");
  lite_os_write_stderr(line, (size_t)(o - line));
  lite_os_abort();
}

void lite_malloc_get_config(lite_malloc_config* out) {
  out->engines_count = LITE_MALLOC_ENGINES_COUNT;
  out->miniblock_cache_size = LITE_MALLOC_MINIBLOCK_CACHE_SIZE;
  out->superblock_cache_size = LITE_MALLOC_SUPERBLOCK_CACHE_SIZE;
  out->use_perthread_engines = LITE_MALLOC_USE_PERTHREAD_ENGINES;
  out->small_max = LITE_SMALL_MAX;
  out->medium_max = LITE_MEDIUM_MAX;
  out->size_classes = LITE_CLASSES;
}

void lite_malloc_get_stats(lite_malloc_stats* out) {
  out->mapped_bytes = lite_load_relaxed(&lite_stat.mapped_bytes);
  out->segments = lite_load_relaxed(&lite_stat.segments);
  out->large_blocks = lite_load_relaxed(&lite_stat.large_blocks);
  out->large_bytes = lite_load_relaxed(&lite_stat.large_bytes);
  out->mappings = lite_load_relaxed(&lite_stat.mappings) + out->large_blocks;
  out->dirty_bytes = lite_load_relaxed(&lite_stat.dirty_bytes);
  out->purged_bytes = lite_load_relaxed(&lite_stat.purged_bytes);
  out->pages_in_use = lite_load_relaxed(&lite_stat.pages_in_use);
  out->threads = lite_load_relaxed(&lite_stat.threads);
}

void lite_malloc_stats_print(void) {
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  const struct {
    const char* name;
    size_t value;
  } rows[] = {
      {"mapped bytes", s.mapped_bytes},   {"mappings", s.mappings},
      {"segments", s.segments},           {"large blocks", s.large_blocks},
      {"large bytes", s.large_bytes},     {"dirty bytes", s.dirty_bytes},
      {"purged bytes", s.purged_bytes},   {"slices in use", s.pages_in_use},
      {"threads", s.threads},
  };
  char buf[1024], *o = buf;
  o = lite_fmt_str(o, "lite_malloc statistics:\n");
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    o = lite_fmt_str(o, "  ");
    o = lite_fmt_str(o, rows[i].name);
    o = lite_fmt_str(o, ": ");
    o = lite_fmt_u64(o, rows[i].value, 10);
    *o++ = '\n';
  }
  lite_os_write_stderr(buf, (size_t)(o - buf));
}
