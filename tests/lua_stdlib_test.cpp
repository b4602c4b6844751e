// lua_stdlib_test.cpp — the standard functions gilrun replaces (coroutine.*,
// debug.sethook/gethook) behave exactly as stock Lua 5.4's, alone and while
// another thread keeps preempting the script. Each case is a divergence Lua's
// own test suite found (db.lua, locals.lua, coroutine.lua).
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

using StockLuaPreempted = LuaTest;

// A coroutine inherits its creator's C hook and count (stock Lua: its Lua
// hook function is per coroutine, so gethook says nil, "", count). Created
// while the breaker's one-shot hook stood in for the script's, it inherited
// the breaker's, and gethook on it said "external hook".
TEST_F(StockLuaPreempted, NewCoroutinesInheritTheScriptsHookNotTheBreakers) {
  ASSERT_TRUE(Ok(run(R"(
    gil.switchinterval(0.00005)
    local h = thread.spawn(function() while not stop do end end)  -- keeps asking
    debug.sethook(function() end, "", 1000000)
    local forced = gil.stats().threads[1].forced_drops
    local i = 0
    while not wrong and gil.stats().threads[1].forced_drops < forced + 200 do
      i = i + 1
      local co = coroutine.create(function() end)
      local fn, mask, count = debug.gethook(co)
      if fn ~= nil or mask ~= "" or count ~= 1000000 then
        wrong = string.format("coroutine %d: hook %s, count %s", i, tostring(fn), tostring(count))
      end
    end
    debug.sethook()
    stop = true
    h:join()
  )")));
  EXPECT_TRUE(is_nil("wrong")) << string("wrong");
}

// The script's line hook sees every line while the breaker keeps stopping
// the VM: the breaker's hook asks for line events too and forwards them.
TEST_F(StockLuaPreempted, ALineHookMissesNoLine) {
  ASSERT_TRUE(Ok(run(R"(
    gil.switchinterval(0.00005)
    local h = thread.spawn(function() while not stop do end end)
    local lines = 0
    local function body()
      local x = 0
      x = x + 1
      x = x + 1
      return x
    end
    debug.sethook(function(e, line) lines = lines + 1 end, "l")
    local before = gil.stats().threads[1].forced_drops
    local runs = 0
    repeat
      lines = 0
      body()
      runs = runs + 1
      -- the call's line, body's four, the next two: lua5.4 counts 7
      if lines ~= 7 then wrong = "run " .. runs .. ": " .. lines .. " line events" end
    until wrong or gil.stats().threads[1].forced_drops >= before + 100
    debug.sethook()
    stop = true
    h:join()
  )")));
  EXPECT_TRUE(is_nil("wrong")) << string("wrong");
}

}  // namespace
}  // namespace gilrun_test
