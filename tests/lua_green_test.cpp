// lua_green_test.cpp — the `green` module through the LuaTest fixture:
// spawn/join/kill/joinall/pool, sleep ordering, the blocking modules (queue,
// sync, thread join, time) inside green threads, green threads on OS
// threads, errors and the wait at exit.
//
// Every wait is a join, a queue or an event; the sleeps are what is tested
// (ordering by deadline), never a way to synchronise.
#include <string>

#include <lua.hpp>

#include "green/fiber.h"
#include "lua_fixture.h"

namespace gilrun_test {
namespace {

using GreenModule = LuaTest;

TEST_F(GreenModule, JoinReturnsResultsAndArguments) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local g = green.spawn(function(a, b) return a + b, nil, "x" end, 40, 2)
    local r = table.pack(g:join())
    assert(r.n == 3 and r[1] == 42 and r[2] == nil and r[3] == "x")
    assert(g:dead() and g:join() == 42)  -- joining twice gives the results again
    assert(select("#", green.spawn(function() end):join()) == 0)
  )")));
}

TEST_F(GreenModule, SpawnTakesHundredsOfArguments) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local args = {}
    for i = 1, 200 do args[i] = i end
    local g = green.spawn(function(...) return select("#", ...), select(200, ...) end,
                          table.unpack(args))
    local n, last = g:join()
    assert(n == 200 and last == 200, tostring(n) .. " " .. tostring(last))
  )")));
}

TEST_F(GreenModule, AGreenThreadRunsOnlyWhenItsSpawnerBlocks) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local ran = false
    local g = green.spawn(function() ran = true end)
    assert(not ran and not g:dead())
    green.yield()
    assert(ran and g:dead())
  )")));
}

TEST_F(GreenModule, SleepersWakeInDeadlineOrder) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local order = {}
    local list = {}
    for _, d in ipairs{0.06, 0.02, 0.04, 0} do
      list[#list + 1] = green.spawn(function() time.sleep(d); order[#order + 1] = d end)
    end
    assert(green.joinall(list) == true)
    assert(table.concat(order, " ") == "0 0.02 0.04 0.06", table.concat(order, " "))
  )")));
}

// A sleeping green thread gives its fiber stack back (green_thread.h's
// "Parking without a stack"); one that sleeps inside a coroutine keeps it.
TEST_F(GreenModule, ASleeperParksWithoutItsStack) {
  interp_.with_lua([](lua_State* L) {
    lua_register(L, "stacks_in_use", [](lua_State* L) {
      lua_pushinteger(L, static_cast<lua_Integer>(gilrun::Fiber::stacks_in_use()));
      return 1;
    });
  });
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local base = stacks_in_use()
    local list = {}
    for i = 1, 50 do
      list[i] = green.spawn(function(x) time.sleep(0.01); return x * 2 end, i)
    end
    list[51] = green.spawn(function() green.sleep(0.01); return 102 end)
    assert(stacks_in_use() - base == 51)  -- each spawn holds a slot until it runs
    green.yield()  -- each runs until it sleeps
    assert(stacks_in_use() - base == 0, stacks_in_use() - base)
    local inner = green.spawn(function()
      return coroutine.wrap(function() time.sleep(0.01); return "inner" end)()
    end)
    green.yield()
    assert(stacks_in_use() - base == 1, stacks_in_use() - base)
    for i = 1, 51 do assert(list[i]:join() == 2 * i) end
    assert(inner:join() == "inner")
    assert(stacks_in_use() - base == 0)
  )")));
}

// Its errors after the wake-up still end in join with their traceback: the
// protected call around the function spans the park.
TEST_F(GreenModule, ASleeperFailsAfterWakingWithItsTraceback) {
  ASSERT_TRUE(Ok(run(R"(local green = require "green"
    local g = green.spawn(function()
      time.sleep(0.001)
      local caught = select(2, pcall(function() time.sleep(0.001); error("inner") end))
      assert(caught:match("test.lua:4: inner$"), caught)
      error("boom")
    end)
    local ok, err = pcall(g.join, g)
    assert(not ok)
    message = err
  )")));
  const std::string message = string("message");
  EXPECT_TRUE(RaisedWithTraceback(message, "test.lua:6: boom", "in function <test.lua:2>"));
}

// A green thread's own state may yield to its hub, but to Lua it stays what
// it was before it could: not yieldable, and not a coroutine to resume or
// close while it sleeps.
TEST_F(GreenModule, AGreenThreadsOwnStateIsNoCoroutine) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local state
    local g = green.spawn(function()
      state = coroutine.running()
      assert(coroutine.isyieldable() == false and coroutine.isyieldable(state) == false)
      local ok, err = pcall(coroutine.yield, 1)
      assert(not ok and err == "attempt to yield across a C-call boundary", err)
      time.sleep(0.001)
      return "done"
    end)
    green.yield()  -- it sleeps
    assert(coroutine.status(state) == "normal", coroutine.status(state))
    local ok, err = coroutine.resume(state)
    assert(not ok and err == "cannot resume non-suspended coroutine", err)
    ok, err = pcall(coroutine.wrap(function() return coroutine.resume(state) end))
    assert(ok and err == false)
    ok, err = pcall(coroutine.close, state)
    assert(not ok and err:match("cannot close a normal coroutine$"), err)
    assert(g:join() == "done")
    -- coroutines inside green threads are untouched
    local h = green.spawn(function()
      local co = coroutine.create(function(a) local b = coroutine.yield(a + 1); return b * 2 end)
      assert(coroutine.isyieldable() == false)
      local _, x = coroutine.resume(co, 1)
      assert(coroutine.status(co) == "suspended")
      local _, y = coroutine.resume(co, 10)
      assert(coroutine.status(co) == "dead" and coroutine.close(co))
      return x, y
    end)
    local x, y = h:join()
    assert(x == 2 and y == 20)
  )")));
}

TEST_F(GreenModule, BoundedQueueBetweenGreenThreads) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local q = queue.new(1)
    local consumer = green.spawn(function()
      local sum = 0
      for _ = 1, 1000 do sum = sum + q:get() end
      return sum
    end)
    local producer = green.spawn(function() for i = 1, 1000 do q:put(i) end end)
    assert(consumer:join() == 500500)
    producer:join()
  )")));
}

TEST_F(GreenModule, QueueBetweenAnOSThreadAndGreenThreads) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local to_green, to_thread = queue.new(), queue.new()
    local t = thread.spawn(function()
      for i = 1, 100 do to_green:put(i) end
      local sum = 0
      for _ = 1, 100 do sum = sum + to_thread:get() end
      return sum
    end)
    local g = green.spawn(function()
      for _ = 1, 100 do to_thread:put(to_green:get() * 2) end
    end)
    g:join()
    assert(t:join() == 10100)
  )")));
}

TEST_F(GreenModule, GreenThreadsOnAnOSThreadHaveTheirOwnHub) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local ready = sync.event()
    local t = thread.spawn(function()
      local list = {}
      for i = 1, 50 do list[i] = green.spawn(function() time.sleep(0.001); return i end) end
      local sum = 0
      for i = 1, 50 do sum = sum + list[i]:join() end
      ready:wait()  -- set by a green thread of the main thread
      return sum
    end)
    green.spawn(function() ready:set() end)
    assert(t:join() == 1275)
  )")));
}

TEST_F(GreenModule, AnOSThreadEndsOnlyWhenItsGreenThreadsHave) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local q = queue.new()
    local t = thread.spawn(function()
      green.spawn(function() time.sleep(0.001); q:put("from green") end)
    end)
    t:join()
    assert(q:size() == 1 and q:get() == "from green")
  )")));
}

TEST_F(GreenModule, SyncObjectsBlockGreenThreads) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local lock, ev, sem = sync.lock(), sync.event(), sync.semaphore(2)
    local inside, most, log = 0, 0, {}
    local list = {}
    for i = 1, 6 do
      list[i] = green.spawn(function()
        ev:wait()
        sem:acquire()
        inside = inside + 1
        most = math.max(most, inside)
        green.yield()
        inside = inside - 1
        sem:release()
        lock:acquire()
        log[#log + 1] = i
        green.yield()  -- still holding the lock: nobody else may log
        assert(log[#log] == i)
        lock:release()
      end)
    end
    green.yield()
    assert(inside == 0)  -- all wait for the event
    ev:set()
    green.joinall(list)
    assert(most == 2 and #log == 6, most .. " " .. #log)
  )")));
}

TEST_F(GreenModule, JoinReraisesTheErrorWithItsTraceback) {
  ASSERT_TRUE(Ok(run(R"(local green = require "green"
    local g = green.spawn(function() error("boom") end)
    local ok, err = pcall(g.join, g)
    assert(not ok)
    message = err
  )")));
  const std::string message = string("message");
  EXPECT_TRUE(RaisedWithTraceback(message, "test.lua:2: boom", "in function <test.lua:2>"));
}

TEST_F(GreenModule, KillRaisesKilledAtTheNextSwitchPoint) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local cleaned = false
    local g = green.spawn(function()
      local ok, err = pcall(time.sleep, 1000)
      cleaned = not ok and err:match("killed$") ~= nil
      error(err, 0)
    end)
    green.yield()  -- now it sleeps
    g:kill()
    local r, why = g:join()
    assert(r == nil and why == "killed" and cleaned)

    local never = false
    local k = green.spawn(function() never = true end)
    k:kill()  -- before it ever ran
    assert(select(2, k:join()) == "killed" and not never and k:dead())

    local self_kill = green.spawn(function() green.current():kill() end)
    assert(select(2, self_kill:join()) == "killed")
  )")));
}

TEST_F(GreenModule, JoinallAndJoinTimeOut) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local ev = sync.event()
    local g = green.spawn(function() ev:wait() end)
    assert(select(2, g:join(0.01)) == "timeout")
    assert(select(2, green.joinall({g}, 0.01)) == "timeout")
    ev:set()
    assert(green.joinall({g}) == true)
  )")));
}

TEST_F(GreenModule, PoolLimitsConcurrency) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local pool = green.pool(3)
    local inside, most = 0, 0
    for _ = 1, 20 do
      pool:spawn(function()
        inside = inside + 1
        most = math.max(most, inside)
        time.sleep(0.001)
        inside = inside - 1
      end)
      assert(pool:size() <= 3)
    end
    assert(pool:join() == true)
    assert(most == 3 and inside == 0 and pool:size() == 0)
  )")));
}

TEST_F(GreenModule, CurrentIsTheRunningGreenThread) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    assert(green.current() == nil)
    local g
    g = green.spawn(function() return green.current() == g, green.current().id end)
    local same, id = g:join()
    assert(same and id == g.id)
  )")));
}

TEST_F(GreenModule, JoiningAnOSThreadFromAGreenThread) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local ev = sync.event()
    local t = thread.spawn(function() ev:wait(); return "done" end)
    local g = green.spawn(function() return t:join() end)
    local setter = green.spawn(function() ev:set() end)
    assert(g:join() == "done")
    setter:join()
  )")));
}

TEST_F(GreenModule, TheProgramWaitsForGreenThreadsAtExit) {
  ASSERT_TRUE(Ok(run(R"(local green = require "green"
    green.spawn(function() time.sleep(0.001); finished = true end)
  )")));
  EXPECT_TRUE(is_nil("finished"));
  EXPECT_TRUE(Ok(interp_.wait_for_threads()));
  EXPECT_FALSE(is_nil("finished"));
}

// Lua's limit on nested C calls must stop a green thread before its stack
// slot ends (fiber.h): every kind of deep C recursion ends in an error.
TEST_F(GreenModule, DeepCRecursionIsACStackOverflowErrorNotACrash) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local cases = {
      function() local t = setmetatable({}, {__index = function(t, k) return t[k + 1] end})
                 return t[1] end,
      function() local function f() local ok, e = pcall(f); if not ok then error(e, 0) end end
                 f() end,
      function() local function g(s) return (s:gsub(".", g)) end return g("abc") end,
      function() local function cmp(a, b) table.sort({3, 2, 1}, cmp) return a < b end
                 table.sort({3, 2, 1}, cmp) end,
      function() local function c() return tostring(setmetatable({}, {__tostring = c})) end
                 return c() end,
    }
    for i, case in ipairs(cases) do
      local g = green.spawn(case)
      local ok, err = pcall(g.join, g)
      assert(not ok and tostring(err):find("stack overflow"), i .. ": " .. tostring(err))
    end
  )")));
}

TEST_F(GreenModule, BadArgumentsAreClearErrors) {
  auto r = run(R"(local green = require "green"; green.spawn(42))");
  EXPECT_TRUE(Contains(r.message, "bad argument #1 to 'spawn' (function expected"));
  r = run(R"(local green = require "green"; green.pool(0))");
  EXPECT_TRUE(Contains(r.message, "at least 1"));
  r = run(R"(local green = require "green"; green.joinall({1}))");
  EXPECT_TRUE(Contains(r.message, "list of green threads"));
  r = run(R"(local green = require "green"
    local g; g = green.spawn(function() return g:join() end); g:join())");
  EXPECT_TRUE(Contains(r.message, "cannot join itself"));
}

using NetModule = LuaTest;

// An echo server in green threads: one per connection, lines echoed back.
constexpr const char* kEchoServer = R"(local green, net = require "green", require "net"
  server = assert(net.listen("127.0.0.1", 0))
  host, port = server:getsockname()
  local function serve(c)
    while true do
      local line = c:receive("*l")
      if not line then break end
      assert(c:send(line .. "\n"))
    end
    c:close()
  end
  acceptor = green.spawn(function()
    while true do
      local c = server:accept()
      if not c then return end
      green.spawn(serve, c)
    end
  end)
)";

TEST_F(NetModule, EchoWith100ConcurrentGreenClients) {
  ASSERT_TRUE(Ok(run(kEchoServer)));
  EXPECT_TRUE(Ok(run(R"(local green, net = require "green", require "net"
    assert(host == "127.0.0.1" and port > 0)
    local clients = {}
    for i = 1, 100 do
      clients[i] = green.spawn(function()
        local c = assert(net.connect(host, port))
        for j = 1, 10 do
          local msg = "client " .. i .. " request " .. j
          assert(c:send(msg .. "\n") == #msg + 1)
          local reply = c:receive("*l")
          assert(reply == msg, reply)
        end
        c:close()
        return i
      end)
    end
    local sum = 0
    for i = 1, 100 do sum = sum + clients[i]:join() end
    assert(sum == 5050)
    acceptor:kill()
    assert(select(2, acceptor:join()) == "killed")
    server:close()
  )")));
}

TEST_F(NetModule, AnOSThreadClientTalksToAGreenServer) {
  ASSERT_TRUE(Ok(run(kEchoServer)));
  EXPECT_TRUE(Ok(run(R"(local net = require "net"
    local t = thread.spawn(function()
      local c = assert(net.connect(host, port))
      c:send("one\r\ntwo\n")
      local a, b = c:receive("*l"), c:receive(3)
      c:close()
      return a, b
    end)
    local a, b = t:join()
    assert(a == "one" and b == "two", tostring(a) .. " " .. tostring(b))
    acceptor:kill()
    server:close()
  )")));
}

TEST_F(NetModule, ErrorsAreNilAndAMessage) {
  EXPECT_TRUE(Ok(run(R"(local green, net = require "green", require "net"
    local server = assert(net.listen("127.0.0.1", 0))
    local host, port = server:getsockname()
    local g = green.spawn(function()
      local c = assert(server:accept())
      local data, err, partial = c:receive(10)   -- the peer sends 3 bytes and closes
      assert(data == nil and err == "closed" and partial == "abc", tostring(err))
      c:settimeout(0.01)
      return c
    end)
    local c = assert(net.connect(host, port))
    c:send("abc")
    c:close()
    g:join()
    assert(select(2, c:send("x")) == "closed")   -- our own side is closed
    server:settimeout(0.01)
    assert(select(2, server:accept()) == "timeout")
    server:close()
    local none, err = net.connect("127.0.0.1", port)  -- nobody listens there now
    assert(none == nil and type(err) == "string", tostring(err))
    assert(select(2, net.listen("no.such.host.invalid", 0)) ~= nil)
    local ok, msg = pcall(net.connect, "127.0.0.1", 70000)
    assert(not ok and msg:find("port must be 0..65535"), msg)
    local a = assert(net.listen("127.0.0.1", 0))
    local all = green.spawn(function()
      local s = assert(a:accept())
      return s:receive("*a")
    end)
    local w = assert(net.connect(a:getsockname()))
    w:send("everything\nuntil close")
    w:close()
    assert(all:join() == "everything\nuntil close")
  )")));
}

}  // namespace
}  // namespace gilrun_test
