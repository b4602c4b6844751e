// eval_breaker_test.cpp — the eval breaker (runtime/gil/eval_breaker.cpp)
// seen from a script: what arming its hook costs the thread it stops.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "lua_fixture.h"
#include "thread_state.h"

namespace {

using gilrun_test::Ok;

// Requester asks the calling thread's breaker to break, over and over, from
// a thread of its own, as fast as it can: a waiter that never lets up.
struct Requester {
  std::atomic<bool> stop{false};
  std::thread thread;
};

Requester& requester_of(lua_State* L) {
  return *static_cast<Requester*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// start_requests() starts the requester on the calling thread's breaker.
int start_requests(lua_State* L) {
  Requester& r = requester_of(L);
  gilrun::EvalBreaker* breaker = &gilrun::ThreadState::current()->breaker;
  r.thread = std::thread([&r, breaker] {
    while (!r.stop.load()) breaker->request_break();
  });
  return 0;
}

int stop_requests(lua_State* L) {
  Requester& r = requester_of(L);
  r.stop = true;
  r.thread.join();
  return 0;
}

// arming() returns what the calling thread's breaker has spent arming its
// hook so far, and the breaker's clock now: both in the breaker's ticks.
int arming(lua_State* L) {
  lua_pushinteger(L, static_cast<lua_Integer>(gilrun::ThreadState::current()->breaker.arming_ticks()));
  lua_pushinteger(L, static_cast<lua_Integer>(gilrun::EvalBreaker::ticks_now()));
  return 2;
}

class EvalBreakerTest : public gilrun_test::LuaTest {
 protected:
  EvalBreakerTest() {
    interp_.with_lua([this](lua_State* L) {
      for (const luaL_Reg& f : {luaL_Reg{"start_requests", start_requests},
                                luaL_Reg{"stop_requests", stop_requests}}) {
        lua_pushlightuserdata(L, &requester_);
        lua_pushcclosure(L, f.func, 1);
        lua_setglobal(L, f.name);
      }
      lua_register(L, "arming", arming);
    });
  }
  ~EvalBreakerTest() override {
    if (requester_.thread.joinable()) {
      requester_.stop = true;
      requester_.thread.join();
    }
  }
  Requester requester_;
};

// Arming the hook walks every frame of the running state (Lua's
// lua_sethook), so a holder 200,000 frames deep that was armed each time a
// waiter asked spent nearly all its time arming: Lua's own test suite timed
// out in CI under a spinning thread (locals.lua's deep recursion, stop 21).
// A waiter's request now arms a holder only once it has run four times what
// arming it last cost (eval_breaker_signal.cpp, worth_arming()).
TEST_F(EvalBreakerTest, ADeepStackRunsMoreThanItSpendsBeingArmed) {
  EXPECT_TRUE(Ok(run(R"(
    local function deep(n)
      if n > 0 then
        local share, armed = deep(n - 1)
        return share, armed  -- not a tail call: the frames stay
      end
      local armed0, clock0 = arming()
      start_requests()
      local x = 0
      for i = 1, 3e7 do x = x + i end
      stop_requests()
      local armed1, clock1 = arming()
      return (armed1 - armed0) / (clock1 - clock0), armed1 > armed0
    end
    local share, armed = deep(200000)
    assert(armed, "the breaker never armed")
    assert(share < 0.5, ("%.0f%% of the deep loop went to arming the breaker"):format(share * 100))
  )")));
}

}  // namespace
