// leak_check.h — LeakCheck: what a Lua-level test must leave as it found it,
// checked once everything the test made is gone (marl's tests check the same
// when their scheduler ends). A fixture holds one as a member declared
// before its Interpreter: the baseline is taken before the interpreter
// exists and the check runs after its close, so a process handle or a hub
// that only the close would free is not a leak, and one the close misses is.
//
// Checked, against the baseline:
//  - child processes: the ChildProcess objects alive (a spawned or adopted
//    child not yet reaped and destroyed) less the fork servers' own, the
//    children of this process (/proc/self/task/*/children) less the fork
//    servers, and no zombie among them;
//  - hubs: the open ones (Hub::open_hubs(), an abandoned hub included).
//
// The fork server is a long-lived child by design (fork_server.h: started on
// first use, one per gilrun executable, living as long as the process), so
// it is not counted: the first test to use one would otherwise move the
// baseline. Its forked children are not ours (no /proc entry under us) but
// each is an adopted ChildProcess, which the count sees. A dead fork server
// not yet reaped is still a zombie and fails the check.
//
// Thread and fiber-stack checks need the running interpreter: they stay in
// LuaTest::TearDown (lua_fixture.h).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <set>
#include <string>

namespace gilrun_test {

// The children of this process (every thread's), as /proc lists them.
std::set<pid_t> child_pids();
// /proc/PID/stat's state letter ('Z': zombie), '?' if it is gone.
char process_state(pid_t pid);
// True for a child running the fork server (`gilrun --fork-server ...`).
bool is_fork_server(pid_t pid);

class LeakCheck {
 public:
  LeakCheck();
  ~LeakCheck();  // EXPECTs: fails the current test on a leak
  LeakCheck(const LeakCheck&) = delete;
  LeakCheck& operator=(const LeakCheck&) = delete;

 private:
  std::size_t processes_before_;
  std::set<pid_t> children_before_;
  std::size_t hubs_before_;
};

}  // namespace gilrun_test
