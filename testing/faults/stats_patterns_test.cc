// The statistics checked against known allocation patterns: per-class
// allocations, frees and live blocks; bytes in use; large blocks; totals;
// mappings against segments (segments are mapped in batches); per-engine CAS
// retries; the text and XML reports; trimming (RSS falls, nothing stays
// dirty). Nothing else in this test binary allocates with lite_malloc, so the
// figures move only by what each test does.
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/test_util.h"
#include "testing/faults/child_util.h"

namespace {

using lite_faults::kMiB;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr bool kSanitizer = true;
#else
constexpr bool kSanitizer = false;
#endif
#else
constexpr bool kSanitizer = false;
#endif

lite_malloc_stats Stats() {
  lite_malloc_stats s;
  memset(&s, 0xee, sizeof s);
  lite_malloc_get_stats(&s);
  return s;
}

lite_malloc_config Config() {
  lite_malloc_config c;
  lite_malloc_get_config(&c);
  return c;
}

std::vector<lite_malloc_class_stats> ClassStats() {
  const size_t n = Config().size_classes;
  std::vector<lite_malloc_class_stats> v(n + 1);
  memset(&v[n], 0xab, sizeof v[n]);
  EXPECT_EQ(lite_malloc_get_class_stats(v.data(), n), n);
  // The entry past the classes is not written.
  const unsigned char* past = reinterpret_cast<const unsigned char*>(&v[n]);
  for (size_t i = 0; i < sizeof v[n]; i++) EXPECT_EQ(past[i], 0xab);
  v.resize(n);
  return v;
}

// Index of the class whose blocks are `block_size` bytes.
size_t ClassIndex(size_t block_size) {
  std::vector<lite_malloc_class_stats> v = ClassStats();
  for (size_t i = 0; i < v.size(); i++)
    if (v[i].block_size == block_size) return i;
  ADD_FAILURE() << "no class of " << block_size << " bytes";
  return 0;
}

void InThread(const std::function<void()>& f) {
  pthread_t t;
  ASSERT_EQ(pthread_create(
                &t, nullptr,
                [](void* arg) -> void* {
                  (*static_cast<const std::function<void()>*>(arg))();
                  return nullptr;
                },
                const_cast<std::function<void()>*>(&f)),
            0);
  pthread_join(t, nullptr);
}

using lite_test::Rss;

// ---------------------------------------------------------- size classes

TEST(ClassStats, TableDescribesTheClasses) {
  std::vector<lite_malloc_class_stats> v = ClassStats();
  const lite_malloc_config c = Config();
  ASSERT_EQ(v.size(), c.size_classes);
  // Class 0 is never used (sizes 0..16 go to class 1); it reports 16 bytes.
  EXPECT_EQ(v[0].block_size, 16u);
  EXPECT_EQ(v[1].block_size, 16u);
  EXPECT_EQ(v[7].block_size, 112u);
  EXPECT_EQ(v.back().block_size, c.medium_max);
  for (size_t i = 2; i < v.size(); i++) EXPECT_GT(v[i].block_size, v[i - 1].block_size);
  // Asking for fewer classes fills fewer.
  lite_malloc_class_stats two[3];
  memset(two, 0xcd, sizeof two);
  EXPECT_EQ(lite_malloc_get_class_stats(two, 2), c.size_classes);
  EXPECT_EQ(two[1].block_size, 16u);
  EXPECT_EQ(two[2].block_size, 0xcdcdcdcdcdcdcdcdull);
  EXPECT_EQ(lite_malloc_get_class_stats(nullptr, 0), c.size_classes);
}

TEST(ClassStats, ThousandBlocksOf100BytesInAFreshThread) {
  const size_t cls = ClassIndex(112);
  InThread([cls] {
    const lite_malloc_class_stats before = ClassStats()[cls];
    const lite_malloc_stats sbefore = Stats();
    std::vector<void*> blocks;
    for (int i = 0; i < 1000; i++) {
      void* p = lite_malloc(100);
      ASSERT_NE(p, nullptr);
      memset(p, i, 100);
      blocks.push_back(p);
    }
    const lite_malloc_class_stats live = ClassStats()[cls];
    const lite_malloc_stats slive = Stats();
    EXPECT_EQ(live.block_size, 112u);
    EXPECT_GE(live.live, 1000u);
    EXPECT_EQ(live.live, before.live + 1000);
    EXPECT_EQ(live.allocations, before.allocations + 1000);
    EXPECT_EQ(live.frees, before.frees);
    EXPECT_GE(live.pages, 2u);  // 585 blocks of 112 bytes to a 64 KiB page
    EXPECT_EQ(slive.bytes_in_use, sbefore.bytes_in_use + 1000 * 112);
    EXPECT_EQ(slive.allocations, sbefore.allocations + 1000);
    EXPECT_EQ(slive.frees, sbefore.frees);

    for (void* p : blocks) lite_free(p);
    const lite_malloc_class_stats after = ClassStats()[cls];
    const lite_malloc_stats safter = Stats();
    EXPECT_EQ(after.frees, before.frees + 1000);
    EXPECT_EQ(after.allocations, before.allocations + 1000);
    EXPECT_EQ(after.live, before.live);
    EXPECT_EQ(safter.bytes_in_use, sbefore.bytes_in_use);
    EXPECT_EQ(safter.allocations, sbefore.allocations + 1000);
    EXPECT_EQ(safter.frees, sbefore.frees + 1000);
  });
}

// allocations and frees count blocks "ever handed out" and "ever given
// back": they must not fall when the thread that made them exits.
TEST(ClassStats, CountsSurviveTheThreadsExit) {
  const size_t cls = ClassIndex(112);
  const lite_malloc_class_stats before = ClassStats()[cls];
  const lite_malloc_stats sbefore = Stats();
  InThread([] {
    std::vector<void*> blocks;
    for (int i = 0; i < 1000; i++) blocks.push_back(lite_malloc(100));
    for (void* p : blocks) lite_free(p);
  });
  const lite_malloc_class_stats after = ClassStats()[cls];
  const lite_malloc_stats safter = Stats();
  EXPECT_EQ(after.allocations, before.allocations + 1000);
  EXPECT_EQ(after.frees, before.frees + 1000);
  EXPECT_EQ(after.live, before.live);
  EXPECT_EQ(safter.allocations, sbefore.allocations + 1000);
  EXPECT_EQ(safter.frees, sbefore.frees + 1000);
}

TEST(ClassStats, BlocksLeftLiveByAnExitedThreadStayLive) {
  const size_t cls = ClassIndex(112);
  const lite_malloc_class_stats before = ClassStats()[cls];
  std::vector<void*> blocks;
  InThread([&blocks] {
    for (int i = 0; i < 1000; i++) blocks.push_back(lite_malloc(100));
  });
  const lite_malloc_class_stats orphaned = ClassStats()[cls];
  EXPECT_EQ(orphaned.live, before.live + 1000);
  EXPECT_EQ(orphaned.allocations, before.allocations + 1000);
  for (void* p : blocks) lite_free(p);  // frees from another thread
  lite_malloc_trim(0);
  const lite_malloc_class_stats after = ClassStats()[cls];
  EXPECT_EQ(after.frees, before.frees + 1000);
  EXPECT_EQ(after.live, before.live);
}

TEST(ClassStats, MediumClass) {
  const size_t cls = ClassIndex(20480);
  InThread([cls] {
    const lite_malloc_class_stats before = ClassStats()[cls];
    std::vector<void*> blocks;
    for (int i = 0; i < 50; i++) blocks.push_back(lite_malloc(20000));
    const lite_malloc_class_stats live = ClassStats()[cls];
    EXPECT_EQ(live.live, before.live + 50);
    EXPECT_EQ(live.allocations, before.allocations + 50);
    for (void* p : blocks) lite_free(p);
    const lite_malloc_class_stats after = ClassStats()[cls];
    EXPECT_EQ(after.frees, before.frees + 50);
    EXPECT_EQ(after.live, before.live);
  });
}

// ----------------------------------------------------------- large blocks

TEST(Stats, TenMiBBlock) {
  // The first large block also maps the table of large-block descriptors
  // (one mapping, kept): make it exist before the baseline.
  lite_free(lite_malloc(10 * kMiB));
  lite_malloc_trim(0);
  const lite_malloc_stats before = Stats();
  void* p = lite_malloc(10 * kMiB);
  ASSERT_NE(p, nullptr);
  const lite_malloc_stats live = Stats();
  EXPECT_EQ(live.large_blocks, before.large_blocks + 1);
  EXPECT_EQ(live.large_bytes, before.large_bytes + 10 * kMiB);
  EXPECT_EQ(live.bytes_in_use, before.bytes_in_use + 10 * kMiB);
  EXPECT_EQ(live.allocations, before.allocations + 1);
  EXPECT_GE(live.mapped_bytes, before.mapped_bytes + 10 * kMiB);
  EXPECT_GE(live.mappings, before.mappings + 1);
  lite_free(p);
  const lite_malloc_stats after = Stats();
  EXPECT_EQ(after.large_blocks, before.large_blocks);
  EXPECT_EQ(after.large_bytes, before.large_bytes);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  EXPECT_EQ(after.frees, before.frees + 1);
  // The freed mapping may stay cached for reuse until the decay or a trim.
  EXPECT_LE(after.mappings, before.mappings + 1);
  lite_malloc_trim(0);
  EXPECT_EQ(Stats().mappings, before.mappings);
}

// A freed large block may stay mapped for reuse (lite_malloc keeps a few
// freed mappings): as long as its bytes count in mapped_bytes, its mapping
// counts in mappings.
TEST(Stats, MappingsCountWhatMappedBytesCount) {
  lite_malloc_trim(0);  // nothing cached, and the last purge is now
  const lite_malloc_stats before = Stats();
  void* p = lite_malloc(3 * kMiB);
  ASSERT_NE(p, nullptr);
  const lite_malloc_stats live = Stats();
  EXPECT_EQ(live.mappings, before.mappings + 1);
  EXPECT_GE(live.mapped_bytes, before.mapped_bytes + 3 * kMiB);
  lite_free(p);
  const lite_malloc_stats after = Stats();
  if (after.mapped_bytes >= before.mapped_bytes + 3 * kMiB) {
    // Kept for reuse: still mapped, counted as dirty.
    EXPECT_GE(after.dirty_bytes, before.dirty_bytes + 3 * kMiB);
    EXPECT_EQ(after.mappings, before.mappings + 1)
        << "the freed block's mapping is held (mapped_bytes " << after.mapped_bytes
        << ") but not counted";
  } else {
    EXPECT_EQ(after.mappings, before.mappings);
  }
  lite_malloc_trim(0);
  const lite_malloc_stats trimmed = Stats();
  EXPECT_EQ(trimmed.mappings, before.mappings);
  EXPECT_EQ(trimmed.mapped_bytes, before.mapped_bytes);
}

TEST(Stats, MixedTotals) {
  InThread([] {
    const lite_malloc_stats before = Stats();
    std::vector<void*> blocks;
    const size_t sizes[] = {1, 8, 100, 1000, 8000, 20000, 100000, 200000, 3 * kMiB};
    for (int round = 0; round < 10; round++)
      for (size_t size : sizes) blocks.push_back(lite_malloc(size));
    const lite_malloc_stats live = Stats();
    EXPECT_EQ(live.allocations, before.allocations + 90);
    EXPECT_EQ(live.frees, before.frees);
    EXPECT_EQ(live.large_blocks, before.large_blocks + 20);
    for (void* p : blocks) lite_free(p);
    const lite_malloc_stats after = Stats();
    EXPECT_EQ(after.allocations, before.allocations + 90);
    EXPECT_EQ(after.frees, before.frees + 90);
    EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
    EXPECT_EQ(after.large_blocks, before.large_blocks);
  });
}

TEST(Stats, ReallocCountsOneBlockLive) {
  InThread([] {
    const lite_malloc_stats before = Stats();
    void* p = lite_malloc(100);
    for (size_t size = 200; size < 4 * kMiB; size *= 2) p = lite_realloc(p, size);
    ASSERT_NE(p, nullptr);
    const lite_malloc_stats live = Stats();
    EXPECT_EQ(live.allocations - live.frees, before.allocations - before.frees + 1);
    EXPECT_EQ(live.large_blocks, before.large_blocks + 1);
    lite_free(p);
    const lite_malloc_stats after = Stats();
    EXPECT_EQ(after.allocations - after.frees, before.allocations - before.frees);
    EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  });
}

// --------------------------------------------------- mappings and segments

TEST(Stats, SegmentsAreMappedInBatchesAndUnmappedWhenFree) {
  lite_malloc_trim(0);  // nothing cached that the decay could unmap meanwhile
  const lite_malloc_stats before = Stats();
  std::vector<void*> blocks;
  const size_t count = 200 * kMiB / 1024;
  blocks.reserve(count);
  for (size_t i = 0; i < count; i++) {
    void* p = lite_malloc(1024);
    ASSERT_NE(p, nullptr);
    blocks.push_back(p);
  }
  const lite_malloc_stats s = Stats();
  EXPECT_GE(s.segments, before.segments + 50);
  EXPECT_GT(s.mappings, 0u);
  // Four segments to a mapping, plus the radix map's tables.
  // Signed: hollow segments refilled meanwhile (each a mapping less) count down.
  EXPECT_LE(static_cast<long>(s.mappings) - static_cast<long>(before.mappings),
            static_cast<long>((s.segments - before.segments) / 4 + 4))
      << s.mappings << " mappings for " << s.segments << " segments";
  EXPECT_GE(s.mapped_bytes, s.segments * 4 * kMiB);
  for (void* p : blocks) lite_free(p);
  lite_malloc_trim(0);
  const lite_malloc_stats after = Stats();
  // Free segments are unmapped but for their 64 KiB header slice, each then a
  // mapping of its own. Up to three segments of the last batch may wait,
  // untouched, to be handed out (mapped, not resident).
  const size_t hollowed = s.segments - after.segments;
  EXPECT_LE(after.segments, before.segments + 1);
  EXPECT_LE(after.mapped_bytes, before.mapped_bytes + 4 * kMiB + hollowed * 64 * 1024 +
                                    3 * 4 * kMiB /* LITE_MALLOC_SEGMENT_BATCH - 1 */)
      << "mapped " << before.mapped_bytes << " -> " << s.mapped_bytes << " -> " << after.mapped_bytes
      << ", segments " << before.segments << " -> " << s.segments << " -> " << after.segments
      << ", mappings " << before.mappings << " -> " << s.mappings << " -> " << after.mappings
      << ", large " << before.large_bytes << " -> " << after.large_bytes;
  EXPECT_LE(after.mappings, s.mappings + hollowed);
  EXPECT_EQ(after.dirty_bytes, 0u);
}

// ------------------------------------------------------------ contention

TEST(Stats, EngineRetries) {
  const lite_malloc_config c = Config();
  EXPECT_EQ(lite_malloc_engine_retries(c.engines_count), 0u);
  EXPECT_EQ(lite_malloc_engine_retries(c.engines_count + 1000), 0u);
  EXPECT_EQ(lite_malloc_engine_retries(SIZE_MAX), 0u);
  // Threads that allocate at the same time and exit leaving live blocks
  // (their pages go to their engines); whether a CAS ever fails is up to the
  // scheduler, so only the sums are checked.
  for (int round = 0; round < 4; round++) {
    static std::vector<void*> left[2];
    pthread_t t[2];
    for (int k = 0; k < 2; k++) {
      ASSERT_EQ(pthread_create(
                    &t[k], nullptr,
                    [](void* arg) -> void* {
                      auto* v = static_cast<std::vector<void*>*>(arg);
                      for (int i = 0; i < 20000; i++) v->push_back(lite_malloc(48 + i % 64));
                      return nullptr;
                    },
                    &left[k]),
                0);
    }
    for (int k = 0; k < 2; k++) pthread_join(t[k], nullptr);
    for (int k = 0; k < 2; k++) {
      for (void* p : left[k]) lite_free(p);
      left[k].clear();
    }
  }
  size_t sum = 0;
  for (size_t e = 0; e < c.engines_count; e++) sum += lite_malloc_engine_retries(e);
  EXPECT_LE(sum, Stats().cas_retries);
}

// ------------------------------------------------------------- reports

void Append(void* ctx, const char* s, size_t n) { static_cast<std::string*>(ctx)->append(s, n); }

std::string Report(int format) {
  std::string out;
  lite_malloc_stats_write(Append, &out, format);
  return out;
}

// Checks that the XML's tags nest: every <name ...> is closed by </name> or
// is self-closing (<name .../>). Returns "" or the problem.
std::string CheckXmlNesting(const std::string& xml) {
  std::vector<std::string> stack;
  size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string::npos) {
    size_t end = xml.find('>', pos);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(pos);
    std::string tag = xml.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '/') {
      std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return "unbalanced </" + name + ">";
      stack.pop_back();
      continue;
    }
    if (tag.back() == '/') continue;
    stack.push_back(tag.substr(0, tag.find(' ')));
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  return "";
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t pos = 0; (pos = s.find(what, pos)) != std::string::npos; pos += what.size()) n++;
  return n;
}

TEST(Report, Text) {
  void* p = lite_malloc(100);
  const std::string text = Report(0);
  const lite_malloc_stats s = Stats();
  const std::string header = "lite_malloc statistics (" LITE_MALLOC_VERSION_STRING "):\n";
  EXPECT_EQ(text.compare(0, header.size(), header), 0) << text;
  EXPECT_NE(text.find("\n  bytes in use: " + std::to_string(s.bytes_in_use) + "\n"),
            std::string::npos)
      << text;
  for (const char* row : {"bytes cached", "mapped bytes", "mappings", "segments", "large blocks",
                          "large bytes", "dirty bytes", "purged bytes", "slices in use",
                          "threads", "allocations", "frees", "cas retries"}) {
    EXPECT_NE(text.find(std::string("\n  ") + row + ": "), std::string::npos) << row;
  }
  EXPECT_NE(text.find("\n  engines (cas retries): 0:"), std::string::npos) << text;
  EXPECT_NE(text.find("\n    112: "), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n');
  lite_free(p);
}

// The version the library reports is its header's, and the header's parts agree.
TEST(Report, Version) {
  EXPECT_EQ(lite_malloc_version(), LITE_MALLOC_VERSION);
  EXPECT_EQ(LITE_MALLOC_VERSION_STRING, std::to_string(LITE_MALLOC_VERSION_MAJOR) + "." +
                                            std::to_string(LITE_MALLOC_VERSION_MINOR) + "." +
                                            std::to_string(LITE_MALLOC_VERSION_PATCH));
}

TEST(Report, Xml) {
  void* p = lite_malloc(100);
  void* q = lite_malloc(5 * kMiB);
  const std::string xml = Report(1);
  const lite_malloc_stats s = Stats();
  EXPECT_EQ(xml.compare(0, 7, "<malloc"), 0) << xml;
  const std::string tail = "</malloc>\n";
  ASSERT_GE(xml.size(), tail.size());
  EXPECT_EQ(xml.compare(xml.size() - tail.size(), tail.size(), tail), 0) << xml;
  EXPECT_EQ(CheckXmlNesting(xml), "") << xml;
  EXPECT_EQ(Count(xml, "<engines>"), 1u);
  EXPECT_EQ(Count(xml, "</engines>"), 1u);
  EXPECT_EQ(Count(xml, "<classes>"), 1u);
  EXPECT_EQ(Count(xml, "</classes>"), 1u);
  EXPECT_EQ(Count(xml, "<engine id="), Config().engines_count);
  EXPECT_LT(xml.find("</engines>"), xml.find("<classes>"));
  EXPECT_NE(xml.find("<in_use value=\"" + std::to_string(s.bytes_in_use) + "\"/>"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<large_blocks value=\"" + std::to_string(s.large_blocks) + "\"/>"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<class size=\"112\" allocations=\""), std::string::npos) << xml;
  lite_free(p);
  lite_free(q);
}

TEST(Report, PrintWritesTheTextReportToStderr) {
  void* p = lite_malloc(100);
  const std::string expected = Report(0);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  fflush(stderr);
  const int saved = dup(2);
  dup2(fds[1], 2);
  lite_malloc_stats_print();
  dup2(saved, 2);
  close(saved);
  close(fds[1]);
  const std::string printed = lite_faults::ReadAll(fds[0]);
  close(fds[0]);
  EXPECT_EQ(printed, expected);
  lite_free(p);
}

// ---------------------------------------------------------------- trim

TEST(Trim, RssFallsAndNothingStaysDirty) {
  if (kSanitizer) GTEST_SKIP() << "sanitizer shadow memory makes RSS meaningless";
  const size_t count = 64 * 1024;  // 62.5 MiB of 1000-byte blocks
  std::vector<void*> blocks(count);
  const size_t rss_before = Rss();
  for (auto& p : blocks) {
    p = lite_malloc(1000);
    ASSERT_NE(p, nullptr);
    memset(p, 0x5a, 1000);
  }
  const size_t rss_peak = Rss();
  EXPECT_GE(rss_peak, rss_before + 56 * kMiB);
  for (void* p : blocks) lite_free(p);
  EXPECT_EQ(lite_malloc_trim(0), 1);
  const size_t rss_after = Rss();
  const lite_malloc_stats s = Stats();
  EXPECT_EQ(s.dirty_bytes, 0u);
  EXPECT_LE(rss_after + 56 * kMiB, rss_peak)
      << "before " << rss_before << " peak " << rss_peak << " after " << rss_after;
  // Nothing left to give back.
  EXPECT_EQ(lite_malloc_trim(0), 0);
}

TEST(Trim, CachedLargeBlocksGoBack) {
  const lite_malloc_stats before = Stats();
  void* p = lite_malloc(3 * kMiB);
  ASSERT_NE(p, nullptr);
  memset(p, 1, 3 * kMiB);
  lite_free(p);
  lite_malloc_trim(0);
  const lite_malloc_stats after = Stats();
  EXPECT_EQ(after.dirty_bytes, 0u);
  EXPECT_LE(after.mapped_bytes, before.mapped_bytes);
}

TEST(Stats, FiguresAreConsistent) {
  void* p = lite_malloc(100);
  const lite_malloc_stats s = Stats();
  EXPECT_GE(s.mapped_bytes, s.large_bytes + s.segments * 4 * kMiB);
  EXPECT_GE(s.mapped_bytes, s.dirty_bytes);
  EXPECT_GE(s.allocations, s.frees);
  EXPECT_GE(s.bytes_in_use, 112u);
  EXPECT_LE(s.large_blocks, s.mappings);
  EXPECT_GE(s.threads, 1u);
  EXPECT_LE(s.bytes_in_use + s.bytes_cached, s.mapped_bytes);
  lite_free(p);
}

}  // namespace
