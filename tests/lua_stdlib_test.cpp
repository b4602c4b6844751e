// lua_stdlib_test.cpp — the standard functions gilrun replaces (coroutine.*,
// debug.sethook/gethook) behave exactly as stock Lua 5.4's. Each case is a
// divergence Lua's own test suite found (db.lua, locals.lua, coroutine.lua);
// the same functions under constant preemption are tested for every policy
// in gil_policy_test.cpp.
#include "lua_fixture.h"

namespace gilrun_test {
namespace {

using StockLua = LuaTest;

// db.lua:626. A wrapper around the stock sethook was a C frame of its own:
// the script's hooks saw "return,return,call,...", and the frame above the
// return hook was the wrapper, not sethook.
TEST_F(StockLua, SethookIsOneFrameInTheScriptsOwnHooks) {
  EXPECT_TRUE(Ok(run(R"(
    local events, name = {}
    debug.sethook(function(e)
      events[#events + 1] = e
      if e == "return" and name == nil then name = debug.getinfo(2, "n").name end
    end, "cr")
    local function f() end
    f()
    debug.sethook()
    seen = table.concat(events, ",")
    returned_from = name
  )")));
  EXPECT_EQ(string("seen"), "return,call,return,call");
  EXPECT_EQ(string("returned_from"), "sethook");
}

TEST_F(StockLua, GethookReturnsTheHookTheScriptSet) {
  EXPECT_TRUE(Ok(run(R"(
    local function hook() end
    assert(debug.gethook() == nil)
    debug.sethook(hook, "lc", 7)
    local fn, mask, count = debug.gethook()
    assert(fn == hook and mask == "cl" and count == 7, tostring(fn) .. mask .. count)
    local co = coroutine.create(function() end)
    debug.sethook(co, hook, "r")
    local cfn, cmask = debug.gethook(co)
    assert(cfn == hook and cmask == "r")
    debug.sethook()
    assert(debug.gethook() == nil and debug.gethook(co) == hook)
  )")));
}

// coroutine.lua:468. The dead coroutine kept lua_resetthread's error object
// on its stack, so calling the wrapper again tried to call that value.
TEST_F(StockLua, ADeadWrappedCoroutineSaysSoWhenCalledAgain) {
  EXPECT_TRUE(Ok(run(R"(
    local co = coroutine.wrap(function() error("boom") end)
    local ok, first = pcall(co)
    assert(not ok and first:find("boom"), first)
    local ok2, second = pcall(co)
    assert(not ok2 and second:find("cannot resume dead coroutine"), second)
  )")));
}

TEST_F(StockLua, AWrappedCoroutinesCloseErrorReplacesItsError) {
  EXPECT_TRUE(Ok(run(R"(
    local co = coroutine.wrap(function()
      local x <close> = setmetatable({}, {__close = function() error("in close", 0) end})
      error("in body", 0)
    end)
    local ok, e = pcall(co)
    assert(not ok and e == "in close", e)
  )")));
}

}  // namespace
}  // namespace gilrun_test
