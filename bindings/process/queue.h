// queue.h — what the rest of the process module needs to know about
// process queues. This file is private to the bindings.
#pragma once

#include <lua.hpp>

#include <string>
#include <vector>

namespace gilrun {

// SharedQueues lists the queues a new child must inherit: every live queue
// of this process, as descriptors to keep and tokens to adopt.
struct SharedQueues {
  std::vector<int> fds;
  std::vector<std::string> tokens;
};
SharedQueues shared_queues();

// adopt_queues() is called by a worker process at start: the queues its
// parent passed (tokens naming descriptors it inherited) become openable.
void adopt_queues(const std::vector<std::string>& tokens);

// install_handle_opener() lets value_codec open process queues in L (the
// registry's kHandleOpenerKey, codec/handles.h).
void install_handle_opener(lua_State* L);

// add_queue_functions() adds process.queue to the table on the top.
void add_queue_functions(lua_State* L);

}  // namespace gilrun
