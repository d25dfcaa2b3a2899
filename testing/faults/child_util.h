// Helpers of the fault and misuse suites for work that must not happen in the
// test process itself:
//  - RunInChild forks; the child runs a function that may set resource limits,
//    exhaust address space or mappings, or inject faults, and reports each
//    failed CHILD_CHECK as one line through a pipe. Nothing it does leaks into
//    the other tests.
//  - RunHelper runs one of the helper programs of this package (a data
//    dependency of the test) with fork + execve and exactly the environment
//    given, and captures its stdout and stderr. Runtime options are read from
//    the environment when the library loads, so they can only be tested this way.
#ifndef LITE_MALLOC_TESTING_FAULTS_CHILD_UTIL_H
#define LITE_MALLOC_TESTING_FAULTS_CHILD_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

namespace lite_faults {

// ---------------------------------------------------------------------------
// Byte patterns (as in testing/test_util.h, which is private to //testing):
// the byte at offset i depends only on (seed, i), so a prefix of a pattern
// can be checked after realloc with the seed that filled the block.
// ---------------------------------------------------------------------------
constexpr size_t kKiB = size_t{1} << 10;
constexpr size_t kMiB = size_t{1} << 20;

inline uint64_t PatternWord(uint64_t seed, size_t word_index) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + word_index * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return x;
}

inline unsigned char PatternByte(uint64_t seed, size_t i) {
  return static_cast<unsigned char>(PatternWord(seed, i / 8) >> (8 * (i % 8)));
}

inline void FillPattern(void* p, size_t n, uint64_t seed) {
  unsigned char* b = static_cast<unsigned char*>(p);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t w = PatternWord(seed, i / 8);
    memcpy(b + i, &w, 8);
  }
  for (; i < n; i++) b[i] = PatternByte(seed, i);
}

inline bool CheckPattern(const void* p, size_t n, uint64_t seed) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t want = PatternWord(seed, i / 8);
    if (memcmp(b + i, &want, 8) != 0) return false;
  }
  for (; i < n; i++)
    if (b[i] != PatternByte(seed, i)) return false;
  return true;
}

// "0x..." as lite_malloc prints pointers in its messages (and %p does).
inline std::string Hex(const void* p) {
  char buf[32];
  snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(reinterpret_cast<uintptr_t>(p)));
  return buf;
}

// The write end of the child's report pipe (-1 outside a child).
inline int& ChildReportFd() {
  static int fd = -1;
  return fd;
}
inline int& ChildFailures() {
  static int n = 0;
  return n;
}

// Reports one line from the child: formatted on the stack and written with
// write(2), so it works when no memory can be allocated.
__attribute__((format(printf, 1, 2))) inline void ChildReport(const char* fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > static_cast<int>(sizeof line) - 2) n = sizeof line - 2;
  line[n++] = '\n';
  const int fd = ChildReportFd() >= 0 ? ChildReportFd() : 2;
  for (int off = 0; off < n;) {
    ssize_t w = write(fd, line + off, n - off);
    if (w <= 0) break;
    off += static_cast<int>(w);
  }
}

// CHILD_CHECK(cond): in a child of RunInChild, reports a failed condition
// (the child goes on, and exits 1 at the end). Evaluates to cond.
// CHILD_CHECK_MSG(cond, fmt, ...) adds a printf-style explanation.
#define CHILD_CHECK(cond) CHILD_CHECK_MSG(cond, "%s", "")
#define CHILD_CHECK_MSG(cond, fmt, ...)                                                       \
  ([&]() -> bool {                                                                            \
    if (cond) return true;                                                                    \
    ::lite_faults::ChildFailures()++;                                                         \
    ::lite_faults::ChildReport("%s:%d: check failed: %s " fmt, __FILE__, __LINE__, #cond, \
                               ##__VA_ARGS__);                                                \
    return false;                                                                             \
  }())

struct ChildResult {
  int status = -1;      // as from waitpid
  std::string report;   // the lines CHILD_CHECK and ChildReport wrote
  bool Passed() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  std::string Describe() const {
    std::string s;
    if (WIFEXITED(status)) {
      s = "child exited with status " + std::to_string(WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
      s = "child killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
          strsignal(WTERMSIG(status)) + ")";
    } else {
      s = "child status " + std::to_string(status);
    }
    return s + "\n" + report;
  }
};

// Reads everything from fd until EOF.
inline std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Runs body in a forked child, which exits 0 if no CHILD_CHECK failed. The
// child's stdout and stderr stay those of the test. timeout_s bounds the
// child's run (it is killed with SIGKILL after that).
inline ChildResult RunInChild(const std::function<void()>& body, int timeout_s = 60) {
  ChildResult result;
  int fds[2];
  if (pipe(fds) != 0) {
    result.report = "pipe failed";
    return result;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    result.report = "fork failed";
    close(fds[0]);
    close(fds[1]);
    return result;
  }
  if (pid == 0) {
    close(fds[0]);
    ChildReportFd() = fds[1];
    ChildFailures() = 0;
    alarm(static_cast<unsigned>(timeout_s));
    body();
    _exit(ChildFailures() == 0 ? 0 : 1);
  }
  close(fds[1]);
  result.report = ReadAll(fds[0]);
  close(fds[0]);
  while (waitpid(pid, &result.status, 0) < 0 && errno == EINTR) {
  }
  return result;
}

// Where the helper program `name` of this package is: in the test's runfiles
// under Bazel, else next to the test binary.
inline std::string HelperPath(const std::string& name) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  if (srcdir != nullptr) {
    std::string p = std::string(srcdir) + "/" + (workspace ? workspace : "lite_malloc") +
                    "/testing/faults/" + name;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  std::string p = "testing/faults/" + name;
  if (access(p.c_str(), X_OK) == 0) return p;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir(self);
    dir.resize(dir.rfind('/') + 1);
    return dir + name;
  }
  return name;
}

struct HelperResult {
  int status = -1;
  std::string out;  // stdout
  std::string err;  // stderr
  bool ExitedOk() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  std::string Describe() const {
    return "status " + std::to_string(status) + "\n--- stdout ---\n" + out + "--- stderr ---\n" + err;
  }
};

// Runs the helper with argv = {path, args...} and exactly the environment env
// (strings NAME=VALUE), capturing stdout and stderr.
inline HelperResult RunHelper(const std::string& path, const std::vector<std::string>& args,
                              const std::vector<std::string>& env) {
  HelperResult r;
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return r;
  std::vector<std::string> argv_s = {path};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  for (auto& s : env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(out[1]);
    close(err[0]);
    close(err[1]);
    execve(path.c_str(), argv.data(), envp.data());
    const char msg[] = "execve of the helper failed\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  // Read both pipes until both are closed.
  struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* dst[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(p, 2, 60000) <= 0) break;
    for (int i = 0; i < 2; i++) {
      if (p[i].fd < 0 || p[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = read(p[i].fd, buf, sizeof buf);
      if (n > 0) {
        dst[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(p[i].fd);
        p[i].fd = -1;
        open_fds--;
      }
    }
  }
  for (auto& q : p)
    if (q.fd >= 0) close(q.fd);
  if (pid > 0) {
    while (waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
    }
  }
  return r;
}

// The line of `text` that starts with `prefix` (without its newline), or "".
inline std::string LineStartingWith(const std::string& text, const std::string& prefix) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (text.compare(pos, prefix.size(), prefix) == 0) return text.substr(pos, end - pos);
    pos = end + 1;
  }
  return "";
}

// The number after "name=" on the line of `text` starting with "name=", or -1.
inline long long ValueOf(const std::string& text, const std::string& name) {
  std::string line = LineStartingWith(text, name + "=");
  if (line.empty()) return -1;
  return strtoll(line.c_str() + name.size() + 1, nullptr, 10);
}

}  // namespace lite_faults

#endif  // LITE_MALLOC_TESTING_FAULTS_CHILD_UTIL_H
