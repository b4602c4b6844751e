// child_run.h — the tests' one way to run a child process: a command with
// its arguments, environment, directory and stdin, its stdout and stderr
// captured as they come, its exit status, all within a deadline.
//
//   ChildSpec spec;
//   spec.args = {"args.lua", "a"};
//   const ChildResult r = run_child(spec);
//   EXPECT_EQ(r.exit_status, 0) << r.describe();
//
// or, to talk to it while it runs:
//
//   Child child(spec);
//   ASSERT_TRUE(child.wait_for(Stream::out, "ready"));
//   child.signal(SIGINT);
//   const ChildResult r = child.finish();
//
// One I/O thread per child writes its stdin and drains its stdout and stderr
// (so a chatty child never blocks on a full pipe while the test does
// something else); the test thread waits on what it has read. The child
// starts with no signal blocked and SIGINT and SIGPIPE at their defaults,
// and without the GILRUN_* variables of the test's environment (a test that
// wants one passes it in `env`). Tests synchronise on the child's output,
// never on sleeps; every wait ends at the deadline, after which the child is
// killed (SIGKILL) and the test fails with what it printed.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gilrun_test {

struct ChildSpec {
  std::vector<std::string> args;          // after argv[0]
  std::string program = GILRUN_BINARY;    // the file executed
  std::string argv0 = "gilrun";           // argv[0], as when found on PATH
  std::vector<std::string> env;           // "NAME=value": added, or replacing
  std::string cwd;                        // empty: the test's
  std::string stdin_text;                 // written to stdin, which then closes...
  bool keep_stdin = false;                // ...unless kept for send() and close_stdin()
  rlim_t address_space = 0;               // RLIMIT_AS, if not 0
  std::chrono::milliseconds limit{60000};  // the deadline of every wait, from the start
};

struct ChildResult {
  int exit_status = -1;  // the exit status, or -1 if a signal ended it
  int term_signal = 0;   // the signal that ended it, or 0
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string describe() const;  // all of the above, for failure messages
};

enum class Stream { out, err };

class Child {
 public:
  explicit Child(ChildSpec spec);
  ~Child();  // kills (SIGKILL) and reaps a child still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // wait_for() waits until `needle` has appeared `count` times in the stream
  // after its first `from` bytes; false if the stream closed (or the
  // deadline passed) first.
  bool wait_for(Stream s, const std::string& needle, size_t count = 1, size_t from = 0);
  // line() is the next line of stdout not yet returned by line(), with its
  // "\n"; what is left without one at its end; "" at the end.
  std::string line();
  // send() queues more stdin (keep_stdin); close_stdin() closes it once all
  // of it is written.
  void send(const std::string& text);
  void close_stdin();
  void signal(int sig);
  // finish() waits for the child to close its output and exit, and reaps
  // it; at the deadline it kills it and fails the test.
  ChildResult finish();
  ChildResult so_far() const;  // the output up to now (no exit status yet)

 private:
  void pump(int in, int out, int err, int wake);

  const std::chrono::steady_clock::time_point deadline_;
  std::string command_;  // for messages
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int wake_ = -1;  // an eventfd: send() and close_stdin() wake the I/O thread
  bool reaped_ = false;
  size_t line_at_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string stdin_text_;  // guarded by mutex_, as is all below
  bool keep_stdin_ = false;
  bool closed_ = false;  // stdout and stderr both at their end
  bool killed_ = false;  // by the deadline
  bool stop_ = false;    // ~Child: the I/O thread ends (a grandchild may hold the pipes)
  ChildResult result_;
  std::thread io_;
};

// run_child() runs the child to its end.
ChildResult run_child(ChildSpec spec);
// shell_spec() is `/bin/sh -c command`; run_shell() runs it to its end.
ChildSpec shell_spec(const std::string& command);
ChildResult run_shell(const std::string& command);

}  // namespace gilrun_test
