// Runtime options (LITE_MALLOC_<NAME>=<number> in the environment, read once
// when the library loads; the table is LITE_RUNTIME_OPTIONS in
// lite_malloc/lite_internal.h). Each case runs the helper program (built
// against //lite_malloc:core) with fork + execve and exactly the environment
// it names, and checks what it writes to stderr and the figures it prints.
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "testing/faults/child_util.h"
#include "testing/test_util.h"

namespace {

using lite_faults::HelperResult;
using lite_faults::LineStartingWith;
using lite_faults::RunHelper;
using lite_faults::ValueOf;

constexpr long long kMiB = 1 << 20;

HelperResult RunOptionsHelper(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  return RunHelper(lite_faults::HelperPath("fault_helper"), args, env);
}

// The block that LITE_MALLOC_VERBOSE=1 prints: a header line, then one line
// per option of the table, in its order,
//   "  LITE_MALLOC_<NAME>=<value>  (<what it does>)"
// Returns "" when `text` is exactly that for the given values (each option's
// description only has to be there), else what differs.
std::string CheckVerboseBlock(const std::string& text, long stats, long verbose, long purge_delay,
                              long purge_bytes, long zero_freed, long reclaim = 1,
                              long background = 0) {
  const std::string header = "lite_malloc: options in force:\n";
  if (text.compare(0, header.size(), header) != 0) return "no header line in:\n" + text;
  const std::pair<const char*, long> options[] = {{"STATS", stats},
                                                  {"VERBOSE", verbose},
                                                  {"PURGE_DELAY", purge_delay},
                                                  {"PURGE_BYTES", purge_bytes},
                                                  {"ZERO_FREED", zero_freed},
                                                  {"RECLAIM", reclaim},
                                                  {"BACKGROUND", background}};
  size_t pos = header.size();
  for (const auto& option : options) {
    const size_t end = text.find('\n', pos);
    if (end == std::string::npos) return std::string("no line for ") + option.first + " in:\n" + text;
    const std::string line = text.substr(pos, end - pos);
    const std::string start =
        std::string("  LITE_MALLOC_") + option.first + "=" + std::to_string(option.second) + "  (";
    if (line.compare(0, start.size(), start) != 0 || line.size() < start.size() + 2 ||
        line.back() != ')')
      return "expected a line \"" + start + "...)\", got \"" + line + "\"";
    pos = end + 1;
  }
  if (pos != text.size()) return "more after the options:\n" + text.substr(pos);
  return "";
}

// Start-up footprint: the first malloc of a process maps one 4 MiB segment,
// one radix-map table and one chunk of handles (about 4.1 MiB), not a batch
// of segments.
TEST(StartUp, FirstMallocMapsOneSegment) {
  HelperResult r = RunOptionsHelper({"startup"}, {});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(ValueOf(r.out, "segments"), 1) << r.out;
  EXPECT_LE(ValueOf(r.out, "mapped"), 4 * kMiB + 256 * 1024) << r.out;
}

TEST(RuntimeOptions, SilentWithoutOptions) {
  HelperResult r = RunOptionsHelper({"noop"}, {"PATH=/usr/bin:/bin", "HOME=/nonexistent"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.out, "ok=1\n");
  EXPECT_EQ(r.err, "");
}

TEST(RuntimeOptions, VerbosePrintsEveryOptionWithDefaults) {
  HelperResult r = RunOptionsHelper({"noop"}, {"LITE_MALLOC_VERBOSE=1"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.out, "ok=1\n");
  EXPECT_EQ(CheckVerboseBlock(r.err, 0, 1, 100, 0, 0), "");
}

TEST(RuntimeOptions, VerboseShowsValuesFromTheEnvironment) {
  HelperResult r = RunOptionsHelper({"noop"}, {"LITE_MALLOC_PURGE_DELAY=250", "LITE_MALLOC_VERBOSE=1",
                                  "LITE_MALLOC_PURGE_BYTES=1048576", "LITE_MALLOC_ZERO_FREED=1",
                                  "LITE_MALLOC_RECLAIM=0", "LITE_MALLOC_BACKGROUND=1"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(CheckVerboseBlock(r.err, 0, 1, 250, kMiB, 1, 0, 1), "");
}

TEST(RuntimeOptions, VerboseZeroIsSilent) {
  HelperResult r = RunOptionsHelper({"noop"}, {"LITE_MALLOC_VERBOSE=0"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.err, "");
}

TEST(RuntimeOptions, StatsPrintedAtExit) {
  HelperResult r = RunOptionsHelper({"stats_exit"}, {"LITE_MALLOC_STATS=1"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.out, "ok=1\n");
  // Printed by a destructor, so after main has returned.
  const std::string exiting = "helper: exiting\n";
  ASSERT_EQ(r.err.compare(0, exiting.size(), exiting), 0) << r.err;
  const std::string stats = r.err.substr(exiting.size());
  // The header's version is checked by stats_patterns_test.
  const std::string header = "lite_malloc statistics (";
  EXPECT_EQ(stats.compare(0, header.size(), header), 0) << stats;
  for (const char* row : {"  bytes in use: ", "  bytes cached: ", "  mapped bytes: ",
                          "  mappings: ", "  segments: ", "  allocations: ", "  frees: ",
                          "  cas retries: ", "  engines (cas retries):"}) {
    EXPECT_NE(LineStartingWith(stats, row), "") << "no line " << row << " in\n" << stats;
  }
  // Five blocks of 100 bytes (class 112) are still live at exit.
  const std::string in_use = LineStartingWith(stats, "  bytes in use: ");
  EXPECT_GE(atoll(in_use.c_str() + 16), 5 * 112) << in_use;
  EXPECT_NE(stats.find("\n    112: "), std::string::npos) << stats;
}

TEST(RuntimeOptions, StatsZeroPrintsNothing) {
  HelperResult r = RunOptionsHelper({"stats_exit"}, {"LITE_MALLOC_STATS=0"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.err, "helper: exiting\n");
}

TEST(RuntimeOptions, UnknownOptionWarns) {
  HelperResult r = RunOptionsHelper({"noop"}, {"LITE_MALLOC_FOO=1"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.out, "ok=1\n");
  EXPECT_EQ(r.err, "lite_malloc: unknown option LITE_MALLOC_FOO (ignored)\n");
}

TEST(RuntimeOptions, NameThatOnlyStartsLikeAnOptionIsUnknown) {
  HelperResult r = RunOptionsHelper({"noop"}, {"LITE_MALLOC_STATSX=1", "LITE_MALLOC_VERBOSE=1"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  const std::string warning = "lite_malloc: unknown option LITE_MALLOC_STATSX (ignored)\n";
  ASSERT_EQ(r.err.compare(0, warning.size(), warning), 0) << r.err;
  EXPECT_EQ(CheckVerboseBlock(r.err.substr(warning.size()), 0, 1, 100, 0, 0), "");
}

TEST(RuntimeOptions, EachUnknownOptionWarnsOnce) {
  HelperResult r = RunOptionsHelper({"noop"}, {"LITE_MALLOC_FOO=1", "OTHER=1", "LITE_MALLOC_BAR=2"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.err,
            "lite_malloc: unknown option LITE_MALLOC_FOO (ignored)\n"
            "lite_malloc: unknown option LITE_MALLOC_BAR (ignored)\n");
}

TEST(RuntimeOptions, OtherPrefixesAreNotOurs) {
  HelperResult r = RunOptionsHelper({"noop"}, {"lite_malloc_stats=1", "XLITE_MALLOC_FOO=1", "LITE_MALLOCFOO=1"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.err, "");
}

TEST(RuntimeOptions, VeryLongUnknownNameWarnsOnOneLine) {
  const std::string name = "LITE_MALLOC_" + std::string(400, 'X');
  HelperResult r = RunOptionsHelper({"noop"}, {name + "=1"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.out, "ok=1\n");
  const std::string start = "lite_malloc: unknown option LITE_MALLOC_XXXX";
  EXPECT_EQ(r.err.compare(0, start.size(), start), 0) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_LE(r.err.size(), 256u);
}

TEST(RuntimeOptions, ValueThatIsNotANumberWarnsAndKeepsTheDefault) {
  for (const char* value : {"abc", "12x", "-5", " 7", "0x10"}) {
    SCOPED_TRACE(value);
    HelperResult r =
        RunOptionsHelper({"noop"}, {std::string("LITE_MALLOC_PURGE_DELAY=") + value, "LITE_MALLOC_VERBOSE=1"});
    ASSERT_TRUE(r.ExitedOk()) << r.Describe();
    const std::string warning =
        "lite_malloc: option value is not a number: LITE_MALLOC_PURGE_DELAY (ignored)\n";
    ASSERT_EQ(r.err.compare(0, warning.size(), warning), 0) << r.err;
    EXPECT_EQ(CheckVerboseBlock(r.err.substr(warning.size()), 0, 1, 100, 0, 0), "");
  }
}

TEST(RuntimeOptions, EmptyValueWarns) {
  HelperResult r = RunOptionsHelper({"stats_exit"}, {"LITE_MALLOC_STATS="});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.err,
            "lite_malloc: option without a value: LITE_MALLOC_STATS (ignored)\n"
            "helper: exiting\n");
}

TEST(RuntimeOptions, HugeValueWarns) {
  HelperResult r = RunOptionsHelper({"noop"}, {"LITE_MALLOC_PURGE_DELAY=99999999999999999999999"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.err,
            "lite_malloc: option value is not a number: LITE_MALLOC_PURGE_DELAY (ignored)\n");
}

// 3 MiB of 1 KiB blocks freed: below the 4 MiB size bound, so only the delay
// decides whether the freed pages are purged.
TEST(RuntimeOptions, PurgeDelayZeroReturnsFreedMemoryAtOnce) {
  HelperResult r = RunOptionsHelper({"bulk_free"}, {"LITE_MALLOC_PURGE_DELAY=0"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(ValueOf(r.out, "dirty"), 0) << r.out;
  EXPECT_GE(ValueOf(r.out, "purged"), 2 * kMiB) << r.out;
}

TEST(RuntimeOptions, LongPurgeDelayKeepsFreedMemoryCached) {
  // 99999999999 ms is about three years: longer than any machine's uptime, so
  // the time bound never fires (the last purge counts from boot).
  HelperResult r = RunOptionsHelper({"bulk_free"}, {"LITE_MALLOC_PURGE_DELAY=99999999999"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_GE(ValueOf(r.out, "dirty"), 2 * kMiB) << r.out;
  EXPECT_LE(ValueOf(r.out, "dirty"), 4 * kMiB) << r.out;
  EXPECT_EQ(ValueOf(r.out, "purged"), 0) << r.out;
}

TEST(RuntimeOptions, PurgeBytesBoundsCachedMemoryWhateverTheDelay) {
  HelperResult r = RunOptionsHelper({"bulk_free"}, {"LITE_MALLOC_PURGE_DELAY=99999999999",
                                       "LITE_MALLOC_PURGE_BYTES=1048576"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_LE(ValueOf(r.out, "dirty"), kMiB) << r.out;
  EXPECT_GE(ValueOf(r.out, "purged"), kMiB) << r.out;
}

TEST(RuntimeOptions, PurgeHappensOnceTheDelayHasPassed) {
  // The first release purges (there was no purge yet); the next ones, within
  // 1 s, do not. Once the delay has passed, a later release purges all that
  // is dirty (the policy reads the clock on every 16th release, and the
  // helper releases 19 pages after its sleep); releases after that purge stay
  // dirty again for the next second.
  HelperResult r = RunOptionsHelper({"purge_delay", "1300"}, {"LITE_MALLOC_PURGE_DELAY=1000"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  const long long dirty_after_free = ValueOf(r.out, "dirty_after_free");
  EXPECT_GE(dirty_after_free, 2 * kMiB) << r.out;
  EXPECT_LE(ValueOf(r.out, "purged_after_free"), 64 * 1024) << r.out;
  EXPECT_GE(ValueOf(r.out, "purged_after_sleep") - ValueOf(r.out, "purged_after_free"),
            dirty_after_free)
      << r.out;
  EXPECT_LE(ValueOf(r.out, "dirty_after_sleep"), 19 * 64 * 1024) << r.out;
}

TEST(RuntimeOptions, TrimReturnsWhatThePurgeBoundsKept) {
  // Nothing is purged by frees (1 GiB bound, 3-year delay): RSS stays up
  // until lite_malloc_trim(0), which hands every free slice back.
  HelperResult r = RunOptionsHelper({"trim_rss"}, {"LITE_MALLOC_PURGE_DELAY=99999999999",
                                      "LITE_MALLOC_PURGE_BYTES=1073741824"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  const long long peak = ValueOf(r.out, "rss_peak");
  const long long after_free = ValueOf(r.out, "rss_after_free");
  const long long after_trim = ValueOf(r.out, "rss_after_trim");
  EXPECT_GE(ValueOf(r.out, "dirty_after_free"), 56 * kMiB) << r.out;
  EXPECT_GE(after_free, peak - 8 * kMiB) << r.out;
  EXPECT_EQ(ValueOf(r.out, "trimmed"), 1) << r.out;
  EXPECT_LE(after_trim, peak - 56 * kMiB) << r.out;
  EXPECT_EQ(ValueOf(r.out, "dirty_after_trim"), 0) << r.out;
  EXPECT_EQ(r.err, "");
}

// A program that frees everything and goes quiet keeps its free memory until
// it next calls the allocator; with LITE_MALLOC_BACKGROUND=1 a thread of
// lite_malloc's own hands it back after the delay, with no call at all.
TEST(Background, QuietProgramKeepsItsFreeMemoryWithoutTheThread) {
  if (lite_test::kTsan) GTEST_SKIP() << "no background thread under ThreadSanitizer";
  HelperResult r = RunOptionsHelper({"quiet", "600"}, {});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(ValueOf(r.out, "background_ticks"), 0) << r.out;
  EXPECT_GE(ValueOf(r.out, "cached_after_quiet"), 4 * kMiB) << r.out;
  EXPECT_GE(ValueOf(r.out, "dirty_after_quiet"), 32 * kMiB) << r.out;
}

TEST(Background, ThreadReturnsTheFreeMemoryOfAQuietProgram) {
  if (lite_test::kTsan) GTEST_SKIP() << "no background thread under ThreadSanitizer";
  HelperResult r = RunOptionsHelper({"quiet", "1500"}, {"LITE_MALLOC_BACKGROUND=1"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_GT(ValueOf(r.out, "background_ticks"), 0) << r.out;
  EXPECT_EQ(ValueOf(r.out, "cached_after_quiet"), 0) << r.out;
  EXPECT_EQ(ValueOf(r.out, "dirty_after_quiet"), 0) << r.out;
  if (!lite_test::kAsan) {
    EXPECT_LE(ValueOf(r.out, "rss_after_quiet"), ValueOf(r.out, "rss_after_free") - 48 * kMiB)
        << r.out;
  }
}

}  // namespace
