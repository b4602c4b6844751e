// leak_check.cpp — see leak_check.h.
#include "leak_check.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "green/hub.h"
#include "process/child_modes.h"
#include "process/child_process.h"
#include "process/fork_server.h"

namespace gilrun_test {

std::set<pid_t> child_pids() {
  std::set<pid_t> pids;
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return pids;
  while (dirent* e = readdir(tasks)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/children");
    for (pid_t pid; in >> pid;) pids.insert(pid);
  }
  closedir(tasks);
  return pids;
}

char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t paren = stat.rfind(')');  // the name may hold spaces and ')'
  if (paren == std::string::npos || paren + 2 >= stat.size()) return '?';
  return stat[paren + 2];
}

bool is_fork_server(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string argv0, argv1;
  std::getline(in, argv0, '\0');
  std::getline(in, argv1, '\0');
  return argv1 == gilrun::kForkServerMode;
}

namespace {

std::size_t processes_alive() { return gilrun::ChildProcess::live() - gilrun::fork_servers(); }

}  // namespace

LeakCheck::LeakCheck()
    : processes_before_(processes_alive()),
      children_before_(child_pids()),
      hubs_before_(gilrun::Hub::open_hubs()) {}

LeakCheck::~LeakCheck() {
  if (::testing::Test::HasFatalFailure()) return;  // an ASSERT already failed: the rest is noise
  EXPECT_EQ(processes_alive(), processes_before_)
      << "child processes (ChildProcess objects) are still alive after the interpreter closed";
  for (const pid_t pid : child_pids()) {
    if (children_before_.count(pid) != 0) continue;
    const char state = process_state(pid);
    EXPECT_NE(state, 'Z') << "child process " << pid << " is a zombie after the test";
    EXPECT_TRUE(state == 'Z' || state == '?' || is_fork_server(pid))
        << "child process " << pid << " still runs after the test";
  }
  EXPECT_EQ(gilrun::Hub::open_hubs(), hubs_before_)
      << "green-thread hubs are still open after the interpreter closed";
}

}  // namespace gilrun_test
