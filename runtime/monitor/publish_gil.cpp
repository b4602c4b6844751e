// publish_gil.cpp — wiring a Core's lock to a monitor page.
#include "monitor/publish_gil.h"

#include <cstdlib>
#include <cstring>

#include "core.h"

namespace gilrun {

void publish_gil(Core& core) {
  // GILRUN_MONITOR=off: unpublished, for side-by-side overhead runs
  // (bench/top_overhead.sh) and hosts that cannot set Options.
  if (const char* env = std::getenv("GILRUN_MONITOR"); env != nullptr && std::strcmp(env, "off") == 0) {
    return;
  }
  core.publisher = monitor::Publisher::create(
      policy_name(core.gil_settings.policy),
      static_cast<uint64_t>(core.gil->switch_interval().count()), 0, 0);
  if (core.publisher) core.gil->set_publisher(core.publisher.get());
}

}  // namespace gilrun
