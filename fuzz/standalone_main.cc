// A main() for the fuzz targets when they are not linked with libFuzzer: it
// replays inputs from files, generates inputs from a fixed seed ("smoke"
// runs), and is the AFL++ entry point.
//
//   <target> [FILE|DIR]...              replay each file (directories recursively)
//   <target> --smoke=N [--seed=S] [--max_len=L] [--emit=DIR]
//                                       N pseudo-random inputs of up to L bytes
//                                       from seed S; --emit writes them to DIR
//   <target>                            (AFL++ build only) persistent mode:
//                                       inputs come from afl-fuzz's shared memory
//
// Any failed check aborts (see fuzz/shadow.h), so exit status 0 means every
// input passed. Under sanitizers the default smoke count is divided (see
// kSmokeDivisor) to keep test times in seconds.
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>  // read(), which AFL++'s __AFL_FUZZ_TESTCASE_LEN uses

#include <algorithm>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
#endif

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr int kSmokeDivisor = 8;
#elif defined(__SANITIZE_ADDRESS__)
constexpr int kSmokeDivisor = 2;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr int kSmokeDivisor = 8;
#elif __has_feature(address_sanitizer)
constexpr int kSmokeDivisor = 2;
#else
constexpr int kSmokeDivisor = 1;
#endif
#else
constexpr int kSmokeDivisor = 1;
#endif

void ListFiles(const std::string& path, std::vector<std::string>* out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    fprintf(stderr, "lite_fuzz: cannot read %s\n", path.c_str());
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    out->push_back(path);
    return;
  }
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return;
  std::vector<std::string> names;
  while (struct dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) ListFiles(path + "/" + name, out);
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::vector<uint8_t> data;
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) {
    fprintf(stderr, "lite_fuzz: cannot open %s\n", path.c_str());
    exit(2);
  }
  uint8_t buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) data.insert(data.end(), buf, buf + n);
  fclose(f);
  return data;
}

// splitmix64: the same inputs from the same seed on every machine.
uint64_t Next(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int Smoke(long count, uint64_t seed, size_t max_len, const char* emit) {
  uint64_t state = seed;
  std::vector<uint8_t> input;
  for (long i = 0; i < count; i++) {
    input.resize(Next(&state) % (max_len + 1));
    for (uint8_t& b : input) b = static_cast<uint8_t>(Next(&state));
    if (emit != nullptr) {
      char path[4096];
      snprintf(path, sizeof(path), "%s/smoke-%llu-%ld", emit, static_cast<unsigned long long>(seed), i);
      FILE* f = fopen(path, "wb");
      if (f == nullptr || fwrite(input.data(), 1, input.size(), f) != input.size()) {
        fprintf(stderr, "lite_fuzz: cannot write %s\n", path);
        return 2;
      }
      fclose(f);
    }
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  printf("lite_fuzz: %ld smoke inputs of up to %zu bytes from seed %llu passed\n", count, max_len,
         static_cast<unsigned long long>(seed));
  return 0;
}

bool Flag(const char* arg, const char* name, const char** value) {
  const size_t n = strlen(name);
  if (strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  LLVMFuzzerInitialize(&argc, &argv);
#ifdef __AFL_FUZZ_TESTCASE_LEN
  if (argc == 1) {
    __AFL_INIT();
    const unsigned char* buf = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(10000)) LLVMFuzzerTestOneInput(buf, __AFL_FUZZ_TESTCASE_LEN);
    return 0;
  }
#endif
  long smoke = -1;
  uint64_t seed = 1;
  size_t max_len = 1024;
  const char* emit = nullptr;
  std::vector<std::string> files;
  for (int i = 1; i < argc; i++) {
    const char* v;
    if (Flag(argv[i], "--smoke", &v)) {
      smoke = strtol(v, nullptr, 10);
    } else if (Flag(argv[i], "--seed", &v)) {
      seed = strtoull(v, nullptr, 10);
    } else if (Flag(argv[i], "--max_len", &v)) {
      max_len = strtoull(v, nullptr, 10);
    } else if (Flag(argv[i], "--emit", &v)) {
      emit = v;
    } else if (argv[i][0] == '-') {
      fprintf(stderr,
              "usage: %s [FILE|DIR]...\n"
              "       %s --smoke=N [--seed=S] [--max_len=L] [--emit=DIR]\n"
              "(this build has no libFuzzer: build with --config=asan-libfuzzer for that)\n",
              argv[0], argv[0]);
      return 2;
    } else {
      ListFiles(argv[i], &files);
    }
  }
  if (smoke >= 0) return Smoke(smoke / kSmokeDivisor, seed, max_len, emit);
  if (files.empty()) {
    fprintf(stderr, "lite_fuzz: no inputs given (or the directories are empty)\n");
    return 2;
  }
  for (const std::string& path : files) {
    const std::vector<uint8_t> data = ReadFile(path);
    if (getenv("LITE_FUZZ_TRACE") != nullptr) fprintf(stderr, "lite_fuzz: replaying %s\n", path.c_str());
    LLVMFuzzerTestOneInput(data.data(), data.size());
  }
  printf("lite_fuzz: %zu inputs replayed\n", files.size());
  return 0;
}
