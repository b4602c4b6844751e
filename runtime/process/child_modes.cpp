// child_modes.cpp — see child_modes.h.
#include "process/child_modes.h"

#include "core.h"

namespace gilrun {

std::string child_executable(lua_State* L) {
  const std::string& configured = core_of(L).options.worker_executable;
  return configured.empty() ? "/proc/self/exe" : configured;
}

}  // namespace gilrun
