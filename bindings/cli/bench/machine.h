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

// CpuClock is a snapshot of CPU time spent, in seconds: by the whole machine
// (every CPU's non-idle time in /proc/stat, steal included — time the
// hypervisor gave to other guests) and by us (this process and its reaped
// children, getrusage), with the wall clock beside them.
struct CpuClock {
  double machine_busy = -1;  // -1: /proc/stat unreadable
  double ours = 0;
  double wall = 0;
};
CpuClock cpu_clock();
// others_cpus() is how many CPUs, on average, work that is not ours kept busy
// between two snapshots (-1 if unknown). Unlike the load average it does not
// count the benchmark's own threads: the suite's 10,000-thread sleepers push
// the 1-minute load past 200 for minutes, though nothing else runs.
double others_cpus(const CpuClock& before, const CpuClock& after);

}  // namespace gilrun::cli::bench
