#include "thread_state.h"

#include "core.h"
#include "green/hub.h"

namespace gilrun {
namespace {

// The ThreadState of the calling OS thread. (The break signal's handler
// finds its breaker through its own TLS, eval_breaker_signal.cpp.)
thread_local ThreadState* tls_current = nullptr;

// on_break runs on the owning thread when the eval breaker stopped its VM:
// service a Ctrl-C first, then a GIL drop request.
//
// Ctrl-C is the root's (hub.h). When it stops a green thread that is
// running, that green thread steps aside to the back of the run queue, and
// the root's wait (join, joinall, sleep...) sees the pending interrupt and
// raises it, with the root's traceback. Raising it in the green thread
// instead killed that green thread without a word and let the root's wait
// go on.
bool on_break(void* context) {
  auto& ts = *static_cast<ThreadState*>(context);
  if (Hub* hub = ts.hub.load(std::memory_order_relaxed)) hub->report_block();
  if (ts.green != nullptr && ts.interrupt_pending.load(std::memory_order_relaxed)) {
    Hub::of(ts).yield();
    return false;
  }
  if (ts.take_interrupt()) return true;
  ts.gil().yield_if_requested(ts);
  return ts.take_interrupt();
}

}  // namespace

ThreadState::ThreadState(std::shared_ptr<Core> core_, uint64_t id_, std::string name_)
    : core(std::move(core_)), id(id_), name(std::move(name_)) {
  if (core->trace) trace = core->trace->add_thread(id, name);
}

ThreadState::~ThreadState() {
  destroy_hub(*this);
  if (tls_current == this) detach();
}

ThreadState* ThreadState::current() { return tls_current; }

void ThreadState::attach(lua_State* L) {
  tls_current = this;
  breaker.bind(on_break, this);
  breaker.set_running(L);
}

void ThreadState::detach() {
  breaker.unbind();
  tls_current = nullptr;
}

Gil& ThreadState::gil() const { return *core->gil; }

}  // namespace gilrun
