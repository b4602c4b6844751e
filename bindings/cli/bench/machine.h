// bench/machine.h — the facts about the machine and the build that every
// benchmark result must carry (numbers without them are not comparable).
#pragma once

#include <string>

namespace gilrun::cli::bench {

struct MachineFacts {
  int cores = 0;          // online CPUs
  std::string cpu_model;  // /proc/cpuinfo "model name"
  std::string kernel;     // uname: sysname release
  std::string gilrun_version;
  std::string lua_version;   // LUA_RELEASE of the embedded VM
  std::string date;          // UTC, ISO 8601
  std::string load_average;  // /proc/loadavg's first three fields
};

MachineFacts machine_facts();

// load_average() is the current 1, 5 and 15 minute load averages.
std::string load_average();
// load_1min() is the 1-minute load average (-1 if unknown).
double load_1min();

}  // namespace gilrun::cli::bench
