#include "bench/machine.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>

#include "gilrun/gilrun.h"
#include "lua.hpp"

namespace gilrun::cli::bench {

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return in ? one + " " + five + " " + fifteen : "unknown";
}

double load_1min() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  in >> one;
  return in ? one : -1;
}

namespace {

double seconds_of(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

double rusage_seconds(int who) {
  rusage u{};
  if (getrusage(who, &u) != 0) return 0;
  return seconds_of(u.ru_utime) + seconds_of(u.ru_stime);
}

// machine_busy_seconds() sums the first line of /proc/stat: user nice system
// idle iowait irq softirq steal (guest time is already in user).
double machine_busy_seconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user, nice, system, idle, iowait, irq, softirq, steal;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
      cpu != "cpu") {
    return -1;
  }
  return (user + nice + system + irq + softirq + steal) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

CpuClock cpu_clock() {
  CpuClock c;
  c.machine_busy = machine_busy_seconds();
  c.ours = rusage_seconds(RUSAGE_SELF) + rusage_seconds(RUSAGE_CHILDREN);
  c.wall = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  return c;
}

double others_cpus(const CpuClock& before, const CpuClock& after) {
  const double wall = after.wall - before.wall;
  if (before.machine_busy < 0 || after.machine_busy < 0 || wall <= 0) return -1;
  const double others = (after.machine_busy - before.machine_busy) - (after.ours - before.ours);
  return std::max(0.0, others / wall);  // jiffies are coarse: never below nothing
}

MachineFacts machine_facts() {
  MachineFacts m;
  m.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      m.cpu_model = line.substr(line.find(':') + 2);
      break;
    }
  }
  if (m.cpu_model.empty()) m.cpu_model = "unknown";
  struct utsname u {};
  m.kernel = uname(&u) == 0 ? std::string(u.sysname) + " " + u.release : "unknown";
  m.gilrun_version = gilrun::version();
  m.lua_version = LUA_RELEASE;
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  m.date = date;
  m.load_average = load_average();
  return m;
}

}  // namespace gilrun::cli::bench
