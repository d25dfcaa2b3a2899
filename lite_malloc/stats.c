/* Statistics and configuration queries (the counters, digit formatting and the
 * fatal report that every layer uses are in diag.c).
 *
 * Global counters are relaxed atomics touched on slow paths only. Per-class
 * figures are gathered by walking every segment: a page knows its live blocks
 * (used) and the blocks that came back to it (frees); the frees of pages since
 * released are kept per class in lite_stat.retired_frees. Nothing on the fast
 * paths is shared. All formatting
 * is done here by hand: nothing may call printf inside malloc. */
#include "lite_internal.h"


// -----------------------------------------------------------------------------
// Queries
// -----------------------------------------------------------------------------
void lite_malloc_get_config(lite_malloc_config* out) {
  out->engines_count = LITE_MALLOC_ENGINES_COUNT;
  out->miniblock_cache_size = LITE_MALLOC_MINIBLOCK_CACHE_SIZE;
  out->superblock_cache_size = LITE_MALLOC_SUPERBLOCK_CACHE_SIZE;
  out->use_perthread_engines = LITE_MALLOC_USE_PERTHREAD_ENGINES;
  out->small_max = LITE_SMALL_MAX;
  out->medium_max = LITE_MEDIUM_MAX;
  out->size_classes = LITE_CLASSES;
}

size_t lite_malloc_page_size(void) { return lite_os_page_size(); }

/* Calls visit(page) for the head page of every run of slices in every segment. */
static void lite_walk_pages(void (*visit)(lite_page* page, void* ctx), void* ctx) {
  for (size_t e = 0; e < LITE_MALLOC_ENGINES_COUNT; e++) {
    for (lite_segment* seg = lite_load_acquire(&lite_engines[e].segments); seg != NULL;
         seg = seg->next) {
      for (size_t i = 1; i < LITE_SLICES; i++) {
        lite_page* page = lite_load_acquire(&seg->slice_page[i]);
        if (page != &lite_empty_page && LITE_COUNTER_GET(page->slice_index) == i) visit(page, ctx);
      }
    }
  }
}

static void lite_count_page(lite_page* page, void* ctx) {
  lite_malloc_class_stats* out = ctx;
  uint8_t kind = LITE_COUNTER_GET(page->kind);
  if (kind == LITE_PAGE_BLOCKS) {
    lite_malloc_class_stats* c = &out[LITE_COUNTER_GET(page->cls) % LITE_CLASSES];
    uint32_t used = LITE_COUNTER_GET(page->used);
    uint64_t frees = LITE_COUNTER_GET(page->frees);
    /* Blocks freed by other threads are counted by the page once collected;
     * until then they sit on xfree or wait on a handle (pending). */
    uint32_t back = lite_xfree_count(lite_load_acquire(&page->xfree)) +
                    lite_load_acquire(&page->pending);
    if (back > used) back = used;
    c->live += used - back;
    frees += back;
    used -= back;
    c->allocations += frees + used;
    c->frees += frees;
    c->pages++;
  }
}

static void lite_class_stats_all(lite_malloc_class_stats out[LITE_CLASSES]) {
  for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
    out[cls] = (lite_malloc_class_stats){0};
    out[cls].block_size = lite_class_size(cls);
    out[cls].allocations = out[cls].frees = lite_load_relaxed(&lite_stat.retired_frees[cls]);
  }
  lite_walk_pages(lite_count_page, out);
}

size_t lite_malloc_get_class_stats(lite_malloc_class_stats* out, size_t count) {
  lite_malloc_class_stats all[LITE_CLASSES];
  lite_class_stats_all(all);
  for (size_t i = 0; i < count && i < LITE_CLASSES; i++) out[i] = all[i];
  return LITE_CLASSES;
}

size_t lite_malloc_engine_retries(size_t engine) {
  return engine < LITE_MALLOC_ENGINES_COUNT ? lite_load_relaxed(&lite_engines[engine].retries) : 0;
}

void lite_malloc_get_stats(lite_malloc_stats* out) {
  lite_malloc_class_stats all[LITE_CLASSES];
  lite_class_stats_all(all);
  *out = (lite_malloc_stats){0};
  size_t in_pages = 0;
  for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
    out->bytes_in_use += all[cls].live * all[cls].block_size;
    out->allocations += all[cls].allocations;
    out->frees += all[cls].frees;
    in_pages += all[cls].pages;
  }
  (void)in_pages;
  out->mapped_bytes = lite_load_relaxed(&lite_stat.mapped_bytes);
  out->segments = lite_load_relaxed(&lite_stat.segments);
  out->large_blocks = lite_load_relaxed(&lite_stat.large_blocks);
  out->large_bytes = lite_load_relaxed(&lite_stat.large_bytes);
  out->mappings = lite_load_relaxed(&lite_stat.mappings) + out->large_blocks +
                  lite_load_relaxed(&lite_stat.large_cached_blocks);
  out->dirty_bytes = lite_load_relaxed(&lite_stat.dirty_bytes);
  out->purged_bytes = lite_load_relaxed(&lite_stat.purged_bytes);
  out->pages_in_use = lite_load_relaxed(&lite_stat.pages_in_use);
  out->threads = lite_load_relaxed(&lite_stat.threads);
  size_t page_bytes = out->pages_in_use * LITE_SLICE_SIZE;
  out->bytes_cached = (page_bytes > out->bytes_in_use ? page_bytes - out->bytes_in_use : 0) +
                      out->dirty_bytes;
  out->bytes_in_use += out->large_bytes;
  out->allocations += lite_load_relaxed(&lite_stat.large_allocs);
  out->frees += lite_load_relaxed(&lite_stat.large_frees);
  out->cas_retries = lite_load_relaxed(&lite_stat.retries);
  for (size_t e = 0; e < LITE_MALLOC_ENGINES_COUNT; e++)
    out->cas_retries += lite_load_relaxed(&lite_engines[e].retries);
}

void lite_malloc_get_os_stats(lite_malloc_os_stats* out) {
  out->maps = lite_load_relaxed(&lite_stat.os_maps);
  out->unmaps = lite_load_relaxed(&lite_stat.os_unmaps);
  out->purges = lite_load_relaxed(&lite_stat.os_purges);
  out->remaps = lite_load_relaxed(&lite_stat.os_remaps);
  out->large_cached_bytes = lite_load_relaxed(&lite_stat.large_cached);
  out->large_cached_blocks = lite_load_relaxed(&lite_stat.large_cached_blocks);
  out->background_ticks = lite_background_ticks();
}

// -----------------------------------------------------------------------------
// Reports
// -----------------------------------------------------------------------------
typedef struct lite_report {
  void (*write)(void* ctx, const char* s, size_t n);
  void* ctx;
  char buf[512];
  char* o;
} lite_report;

static void lite_report_flush(lite_report* r) {
  if (r->o > r->buf) r->write(r->ctx, r->buf, (size_t)(r->o - r->buf));
  r->o = r->buf;
}
static void lite_report_str(lite_report* r, const char* s) {
  while (*s) {
    if (r->o == r->buf + sizeof r->buf) lite_report_flush(r);
    *r->o++ = *s++;
  }
}
static void lite_report_num(lite_report* r, uint64_t v) {
  char digits[24];
  *lite_fmt_u64(digits, v, 10) = '\0';
  lite_report_str(r, digits);
}
/* One "name value" pair: `  name: value\n` as text, `<name value="..."/>` as XML. */
static void lite_report_row(lite_report* r, int xml, const char* name, uint64_t v) {
  lite_report_str(r, xml ? "  <" : "  ");
  lite_report_str(r, name);
  lite_report_str(r, xml ? " value=\"" : ": ");
  lite_report_num(r, v);
  lite_report_str(r, xml ? "\"/>\n" : "\n");
}

void lite_malloc_stats_write(void (*write)(void* ctx, const char* s, size_t n), void* ctx,
                             int format) {
  lite_report r = {.write = write, .ctx = ctx};
  r.o = r.buf;
  int xml = format == 1;
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  lite_report_str(&r, xml ? "<malloc version=\"lite_malloc-" LITE_MALLOC_VERSION_STRING "\">\n"
                          : "lite_malloc statistics (" LITE_MALLOC_VERSION_STRING "):\n");
  const struct {
    const char *text, *xml;
    uint64_t value;
  } rows[] = {
      {"bytes in use", "in_use", s.bytes_in_use},   {"bytes cached", "cached", s.bytes_cached},
      {"mapped bytes", "mapped", s.mapped_bytes},   {"mappings", "mappings", s.mappings},
      {"segments", "segments", s.segments},         {"large blocks", "large_blocks", s.large_blocks},
      {"large bytes", "large_bytes", s.large_bytes}, {"dirty bytes", "dirty", s.dirty_bytes},
      {"purged bytes", "purged", s.purged_bytes},   {"slices in use", "slices", s.pages_in_use},
      {"threads", "threads", s.threads},            {"allocations", "allocations", s.allocations},
      {"frees", "frees", s.frees},                  {"cas retries", "cas_retries", s.cas_retries},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    lite_report_row(&r, xml, xml ? rows[i].xml : rows[i].text, rows[i].value);
  lite_report_str(&r, xml ? "  <engines>\n" : "  engines (cas retries):");
  for (size_t e = 0; e < LITE_MALLOC_ENGINES_COUNT; e++) {
    lite_report_str(&r, xml ? "    <engine id=\"" : " ");
    lite_report_num(&r, e);
    lite_report_str(&r, xml ? "\" cas_retries=\"" : ":");
    lite_report_num(&r, lite_load_relaxed(&lite_engines[e].retries));
    if (xml) lite_report_str(&r, "\"/>\n");
  }
  lite_report_str(&r, xml ? "  </engines>\n  <classes>\n"
                          : "\n  size classes in use (size: allocations frees live pages):\n");
  lite_malloc_class_stats all[LITE_CLASSES];
  lite_class_stats_all(all);
  for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
    const lite_malloc_class_stats* c = &all[cls];
    if (c->allocations == 0 && c->pages == 0) continue;
    const uint64_t v[5] = {c->block_size, c->allocations, c->frees, c->live, c->pages};
    static const char* const xml_names[5] = {"size", "allocations", "frees", "live", "pages"};
    lite_report_str(&r, xml ? "    <class" : "    ");
    for (int k = 0; k < 5; k++) {
      if (xml) {
        lite_report_str(&r, " ");
        lite_report_str(&r, xml_names[k]);
        lite_report_str(&r, "=\"");
      }
      lite_report_num(&r, v[k]);
      lite_report_str(&r, xml ? "\"" : (k == 0 ? ": " : " "));
    }
    lite_report_str(&r, xml ? "/>\n" : "\n");
  }
  lite_report_str(&r, xml ? "  </classes>\n</malloc>\n" : "");
  lite_report_flush(&r);
}

static void lite_write_stderr_cb(void* ctx, const char* s, size_t n) {
  (void)ctx;
  lite_os_write_stderr(s, n);
}

void lite_malloc_stats_print(void) { lite_malloc_stats_write(lite_write_stderr_cb, NULL, 0); }

/* LITE_MALLOC_STATS=1: the report, once the program is done. */
__attribute__((destructor)) static void lite_stats_at_exit(void) {
  if (lite_options[LITE_OPT_STATS]) lite_malloc_stats_print();
}
