// lua_threads_test.cpp — the `thread` and `gil` modules, and preemption of
// CPU-bound Lua code, through the LuaTest fixture.
//
// The preemption tests end a busy loop only when another thread changes a
// flag. The main thread holds the GIL from the start of run() and never
// blocks inside those loops, so the other thread can only get to run if the
// eval breaker preempts the loop: if preemption is broken they hang (and
// ctest's timeout fails them).
#include <cstdio>
#include <string>

#include "lua_contexts.h"
#include "lua_fixture.h"

namespace gilrun_test {
namespace {

using ThreadModule = LuaTest;
using Preemption = LuaTest;
using GilModule = LuaTest;

TEST_F(ThreadModule, JoinReturnsEveryResultIncludingNilHoles) {
  EXPECT_TRUE(Ok(run(R"(
    local h = thread.spawn(function(a, b) return a, nil, b, nil end, 1, "x")
    local r = table.pack(h:join())
    assert(r.n == 4, "got " .. r.n .. " results")
    assert(r[1] == 1 and r[2] == nil and r[3] == "x" and r[4] == nil)
    assert(select("#", thread.spawn(function() end):join()) == 0)
  )")));
}

// thread.spawn releases the GIL around pthread_create() (os_thread.cpp), so
// threads started earlier run meanwhile: one voluntary drop per spawn. The
// handle still gets the thread's results when the thread ends before the
// spawner has the GIL back.
TEST_F(ThreadModule, SpawnReleasesTheGilWhileTheThreadIsCreated) {
  EXPECT_TRUE(Ok(run(R"(
    local function drops() return gil.stats().threads[thread.current().id].voluntary_drops end
    local before = drops()
    local handles = {}
    for i = 1, 20 do handles[i] = thread.spawn(function() return i end) end
    assert(drops() == before + 20, drops() - before)
    for i = 1, 20 do assert(handles[i]:join() == i) end
  )")));
}

TEST_F(ThreadModule, StackSizeCanBeChanged) {
  EXPECT_TRUE(Ok(run(R"(
    assert(thread.stack_size() == 0, thread.stack_size())  -- the system's default
    assert(thread.stack_size(100000) == 0)
    assert(thread.stack_size() == 102400, thread.stack_size())  -- whole pages
    -- a thread on the small stack runs Lua, C calls and all
    local h = thread.spawn(function()
      return (string.gsub("abc", "%w", function(c) return string.format("%q", c:upper()) end))
    end)
    assert(h:join() == '"A""B""C"')
    assert(thread.stack_size(0) == 102400)
    assert(thread.spawn(function() return 7 end):join() == 7)
    local ok, err = pcall(thread.stack_size, 1000)
    assert(not ok and err:find("at least 65536 bytes"), err)
    assert(thread.stack_size() == 0)
  )")));
}

TEST_F(ThreadModule, JoinReraisesTheThreadsErrorWithItsTraceback) {
  ASSERT_TRUE(Ok(run(R"(local h = thread.spawn(function() error("boom") end)
    local ok, err = pcall(h.join, h)
    assert(not ok)
    message = err
  )")));
  const std::string message = string("message");
  EXPECT_TRUE(RaisedWithTraceback(message, "test.lua:1: boom", "in function <test.lua:1>"));
}

TEST_F(ThreadModule, JoinReraisesANonStringErrorObjectUnchanged) {
  EXPECT_TRUE(Ok(run(R"(
    local object = {code = 42}
    local h = thread.spawn(function() error(object) end)
    local ok, err = pcall(h.join, h)
    assert(not ok and err == object)
  )")));
}

// The waits below run in an OS thread and in a green thread (lua_contexts.h):
// `thread.spawn` makes green threads in the second, whose handles say dead()
// where an OS thread's say alive().
using ThreadWaits = ContextTest;

TEST_P(ThreadWaits, JoinWithTimeoutReturnsNilTimeoutWhileTheThreadRuns) {
  EXPECT_TRUE(Ok(run(R"(
    local function alive(h) if h.alive then return h:alive() end return not h:dead() end
    local gate = sync.event()  -- set only after the timed join
    local h = thread.spawn(function() gate:wait() return "done" end)
    local a, b = h:join(0.01)
    assert(a == nil and b == "timeout", tostring(a) .. ", " .. tostring(b))
    assert(alive(h))
    gate:set()
    assert(h:join() == "done")
    assert(not alive(h))
  )")));
}

// A sleeper lets the others run: the other thread can only set `done` while
// this one sleeps. It waits for `go`, set just before the loop, so it cannot
// finish while thread.spawn has the GIL released (it does, around
// pthread_create); and with an hour's switch interval no forced switch hands
// it the GIL in between — only a sleep can.
TEST_P(ThreadWaits, SleepLetsTheOtherThreadsRun) {
  EXPECT_TRUE(Ok(run(R"(
    gil.switchinterval(3600)
    local done, go = false, sync.event()
    local h = thread.spawn(function() go:wait() done = true end)
    go:set()
    local sleeps = 0
    while not done do time.sleep(0.001) sleeps = sleeps + 1 end
    assert(sleeps >= 1, "the other thread ran before any sleep")
    h:join()
  )")));
}

GILRUN_CONTEXTS(ThreadWaits);

TEST_F(ThreadModule, ThreadCannotJoinItself) {
  EXPECT_TRUE(Ok(run(R"(
    local h = thread.spawn(function() return pcall(function() thread.current():join() end) end)
    local ok, err = h:join()
    assert(not ok and err:find("cannot join itself"), err)
  )")));
}

TEST_F(ThreadModule, SpawnTableFormSetsNameDaemonAndArguments) {
  EXPECT_TRUE(Ok(run(R"(
    local h = thread.spawn{function(a, b) return a + b end, 2, 3, name = "adder", daemon = true}
    assert(h.name == "adder" and h.daemon == true)
    assert(math.type(h.id) == "integer" and h.id > 1)
    assert(tostring(h):find("adder", 1, true))
    assert(h:join() == 5)

    local plain = thread.spawn(function() end)
    assert(plain.name == "thread-" .. plain.id, plain.name)
    assert(plain.daemon == false)
    plain:join()
  )")));
}

// A new thread's Lua stack starts with room for about 40 values: spawning
// moved the function and its arguments there without asking for more, so
// with 200 arguments they were written past its end and the function saw
// nils ("attempt to perform arithmetic on a nil value").
TEST_F(ThreadModule, SpawnTakesHundredsOfArgumentsInBothForms) {
  EXPECT_TRUE(Ok(run(R"(
    local args = {}
    for i = 1, 200 do args[i] = i end
    local function sum(...)
      local total = 0
      for i = 1, select("#", ...) do total = total + select(i, ...) end
      return total, select("#", ...)
    end
    local total, n = thread.spawn(sum, table.unpack(args)):join()
    assert(total == 20100 and n == 200, tostring(total) .. " " .. tostring(n))
    table.insert(args, 1, sum)
    total, n = thread.spawn(args):join()
    assert(total == 20100 and n == 200, tostring(total) .. " " .. tostring(n))
  )")));
}

TEST_F(ThreadModule, CurrentIdentifiesTheCallingThread) {
  EXPECT_TRUE(Ok(run(R"(
    local me = thread.current()
    assert(me.id == 1 and me.name == "main" and me:alive())
    local h = thread.spawn{function() return thread.current() end, name = "worker"}
    local inside = h:join()
    assert(inside == h, "thread.current() in the thread is its own handle")
    assert(inside.name == "worker" and inside.id == h.id)
  )")));
}

TEST_F(ThreadModule, CountIncludesMainAndLiveThreadsOnly) {
  EXPECT_TRUE(Ok(run(R"(
    assert(thread.count() == 1)
    local gate = sync.event()
    local a = thread.spawn(function() gate:wait() end)
    local b = thread.spawn(function() gate:wait() end)
    assert(thread.count() == 3, thread.count())
    assert(a:alive() and b:alive())
    gate:set()
    a:join()
    b:join()
    assert(thread.count() == 1, thread.count())
  )")));
}

TEST_F(ThreadModule, ThreadsShareGlobalsAndUpvalues) {
  ASSERT_TRUE(Ok(run(R"(
    local counter = 0
    shared = {}
    local h = thread.spawn(function()
      counter = counter + 1
      shared.from_thread = "hello"
      return counter
    end)
    assert(h:join() == 1)
    assert(counter == 1, "the upvalue is shared")
    from_thread = shared.from_thread
  )")));
  EXPECT_EQ(string("from_thread"), "hello");
}

// Only a forced drop of the main thread can let the flag be set.
TEST_F(Preemption, BusyLoopInMainEndsWhenAnotherThreadSetsAFlag) {
  ASSERT_TRUE(Ok(run(R"(
    flag = false
    local go = false  -- the thread may run while spawn creates it
    local h = thread.spawn(function() while not go do end flag = true end)
    go = true
    while not flag do end
    h:join()
    forced_drops = gil.stats().forced_drops
  )")));
  EXPECT_GE(integer("forced_drops"), 1);
}

// Ping-pong between two busy loops: each step needs the other preempted.
TEST_F(Preemption, TwoCpuBoundThreadsBothMakeProgress) {
  ASSERT_TRUE(Ok(run(R"(
    local h = thread.spawn(function()
      ready = true
      while not go do end
      done = true
    end)
    while not ready do end
    go = true
    while not done do end
    h:join()
    local s = gil.stats()
    main_forced = s.threads[1].forced_drops
    thread_forced = s.threads[h.id].forced_drops
  )")));
  EXPECT_GE(integer("main_forced"), 1);
  EXPECT_GE(integer("thread_forced"), 1);
}

// The event is set from inside the coroutine, so the flag can only be set
// while the coroutine's busy loop runs: its own lua_State must be preempted.
TEST_F(Preemption, BusyLoopInsideCoroutineResumeIsPreempted) {
  EXPECT_TRUE(Ok(run(R"(
    local entered = sync.event()
    local h = thread.spawn(function() entered:wait() flag = true end)
    local co = coroutine.create(function()
      coroutine.yield("first")  -- the loop runs after a yield and a second resume
      entered:set()
      while not flag do end
      return "second"
    end)
    assert(select(2, coroutine.resume(co)) == "first")
    local ok, result = coroutine.resume(co)
    assert(ok and result == "second", tostring(result))
    h:join()
    assert(gil.stats().threads[1].forced_drops >= 1)
  )")));
}

TEST_F(Preemption, BusyLoopInsideNestedCoroutineWrapIsPreempted) {
  EXPECT_TRUE(Ok(run(R"(
    local entered = sync.event()
    local h = thread.spawn(function() entered:wait() flag = true end)
    local outer = coroutine.wrap(function()
      local inner = coroutine.wrap(function()
        entered:set()
        while not flag do end
        return "inner done"
      end)
      return inner()
    end)
    assert(outer() == "inner done")
    h:join()
    assert(gil.stats().threads[1].forced_drops >= 1)
  )")));
}

TEST_F(Preemption, BusyLoopAfterACoroutineReturnedIsPreempted) {
  EXPECT_TRUE(Ok(run(R"(
    local entered = sync.event()
    local h = thread.spawn(function() entered:wait() flag = true end)
    local co = coroutine.wrap(function() coroutine.yield(1) end)
    assert(co() == 1)  -- main's own state runs again after this
    entered:set()
    while not flag do end
    h:join()
  )")));
}

// A script that installed its own hook keeps it: it fires during and after
// the preemption, and debug.gethook still returns it.
std::string hook_script(const char* mask, int count) {
  char head[256];
  std::snprintf(head, sizeof head, "local MASK, COUNT = %s, %d\n", mask, count);
  return head + std::string(R"(
    local counts, calls = 0, 0
    local function hook(event)
      if event == "count" then counts = counts + 1 else calls = calls + 1 end
    end
    local entered = sync.event()
    local h = thread.spawn(function() entered:wait() flag = true end)
    debug.sethook(hook, MASK, COUNT)  -- after spawn: the thread inherits no hook
    entered:set()
    local function f() end
    while not flag do f() end
    local counts_before, calls_before = counts, calls
    for _ = 1, 1000 do f() end
    h:join()  -- after this nobody asks for the GIL: no break can be pending
    local fn, mask, count = debug.gethook()
    debug.sethook()
    assert(fn == hook, "the script's hook was replaced by " .. tostring(fn))
    assert(mask == MASK and count == COUNT, mask .. " " .. count)
    assert(gil.stats().threads[1].forced_drops >= 1)
    if MASK:find("c") then assert(calls >= calls_before + 1000, calls - calls_before) end
    if COUNT > 0 then assert(counts > counts_before, "count hook stopped") end
  )");
}

TEST_F(Preemption, ScriptCountHookKeepsFiringAndStaysInstalled) {
  EXPECT_TRUE(Ok(run(hook_script("\"\"", 100))));
}

TEST_F(Preemption, ScriptCallHookKeepsFiringAndStaysInstalled) {
  EXPECT_TRUE(Ok(run(hook_script("\"c\"", 0))));
}

TEST_F(Preemption, ScriptCallAndCountHookKeepsFiringAndStaysInstalled) {
  EXPECT_TRUE(Ok(run(hook_script("\"c\"", 1000))));
}

// A break signal can arrive inside debug.sethook, after the breaker armed
// its hook and before the script's hook replaces it: that break is lost. The
// next drop request (one interval later) must arm the hook again. Calling
// debug.sethook in the busy loop makes that window easy to hit.
TEST_F(Preemption, BreakIsReArmedAfterDebugSethookReplacedTheBreakHook) {
  EXPECT_TRUE(Ok(run(R"(
    local go = false  -- the thread may run while spawn creates it
    local h = thread.spawn(function() while not go do end flag = true end)
    go = true
    local function hook() end
    while not flag do debug.sethook(hook, "", 1000000) end
    debug.sethook()
    h:join()
  )")));
}

// The same window, seen from the script: a hook it set while the breaker's
// hook was armed must not be overwritten later by the hook the breaker saved
// before (here when the running state switches to a coroutine and back).
// The steady stream of break signals landing in the breaker's own critical
// sections (sethook guard, coroutine switches) also makes this the test that
// catches a signal handler deadlocking against the code it interrupted.
TEST_F(Preemption, HookSetWhileABreakIsPendingIsNotOverwritten) {
  ASSERT_TRUE(Ok(run(R"(
    local h = thread.spawn(function() while not stop do end end)  -- keeps asking
    local function hook() end
    local co = coroutine.wrap(function() while true do coroutine.yield() end end)
    local i = 0
    while not wrong and gil.stats().threads[1].forced_drops < 200 do
      i = i + 1
      debug.sethook(hook, "", 1000000 + i)
      co()
      local fn, _, count = debug.gethook()
      if fn ~= hook or count ~= 1000000 + i then
        wrong = string.format("iteration %d: hook %s, count %s", i, tostring(fn), tostring(count))
      end
    end
    debug.sethook()
    stop = true
    h:join()
  )")));
  EXPECT_TRUE(is_nil("wrong")) << string("wrong");
}

// Arming the breaker sets a trap flag on every frame of the state (inside
// lua_sethook). With ~200,000 frames of recursion one arming took longer
// than the switch interval; every new drop request signalled and walked the
// stack again, and the thread never left the signal handler (a hang that
// also ignored Ctrl-C). The waiter here asks every 50 us throughout.
TEST_F(Preemption, DeepRecursionFinishesWhileAnotherThreadKeepsAsking) {
  EXPECT_TRUE(Ok(run(R"(
    gil.switchinterval(0.00005)
    local h = thread.spawn(function() while not stop do end end)
    local function loop(x, y, z) return 1 + loop(x, y, z) end
    local ok, e = pcall(loop)
    assert(not ok and e:find("stack overflow"), e)
    ok, e = xpcall(loop, loop)
    assert(not ok and e:find("error in error handling"), e)
    stop = true
    h:join()
    assert(gil.stats().threads[1].forced_drops > 0)
  )")));
}

// Every finished thread's record (about 1.5 KiB, most of it the wait
// histogram) stayed in the registry for the statistics: 20,000 spawn+join
// grew RSS by 31 MB. The last 100 keep a row; older ones fold into row 0.
TEST_F(ThreadModule, FinishedThreadsFoldIntoOneRowOfTotals) {
  EXPECT_TRUE(Ok(run(R"lua(
    local n = 250
    for _ = 1, n do thread.spawn(function() end):join() end
    local s = gil.stats()
    local rows, finished_acquisitions = 0, 0
    for id, t in pairs(s.threads) do
      rows = rows + 1
      if id ~= 1 then finished_acquisitions = finished_acquisitions + t.acquisitions end
    end
    assert(rows == 1 + 100 + 1, rows)  -- main, the last 100, the folded row
    assert(s.threads[0].name == "(150 earlier threads)", s.threads[0].name)
    assert(not s.threads[0].alive)
    assert(finished_acquisitions >= n, finished_acquisitions)  -- nothing lost
  )lua")));
}

// thread.spawn{name = "x"} said "bad argument #2 ... got no value", a
// callable table was taken for the table form, name = {} said "bad
// argument #-1", and join(0/0) said "timeout must not be negative".
TEST_F(ThreadModule, SpawnAndJoinSayWhatIsWrong) {
  EXPECT_TRUE(Ok(run(R"lua(
    local function fails(pattern, f, ...)
      local ok, err = pcall(f, ...)
      assert(not ok and err:find(pattern, 1, true), tostring(err))
    end
    fails("the table's first item must be the function to run", thread.spawn, {name = "x"})
    fails("name must be a string, not a table", thread.spawn, {function() end, name = {}})
    local callable = setmetatable({}, {__call = function(_, a) return "called", a end})
    local what, a = thread.spawn(callable, 5):join()
    assert(what == "called" and a == 5)
    assert(select(2, thread.spawn{callable, 6, name = "c"}:join()) == 6)
    local h = thread.spawn(function() end)
    fails("timeout must be a number of seconds, not NaN", h.join, h, 0/0)
    h:join()
    local green = require "green"
    assert(select(2, green.spawn(callable, 7):join()) == 7)
  )lua")));
}

TEST_F(GilModule, SwitchIntervalGetsAndSets) {
  EXPECT_TRUE(Ok(run(R"(
    local function near(a, b) return math.abs(a - b) < 1e-9 end
    assert(near(gil.switchinterval(), 0.001), gil.switchinterval())
    assert(near(gil.switchinterval(0.002), 0.001), "returns the previous interval")
    assert(near(gil.switchinterval(), 0.002))
    assert(near(gil.stats().switch_interval, 0.002))
    assert(not pcall(gil.switchinterval, 0))
    assert(not pcall(gil.switchinterval, -1))
    assert(near(gil.switchinterval(), 0.002), "a rejected value changes nothing")
    assert(gil.policy() == "interval")
  )")));
  EXPECT_EQ(interp_.stats().switch_interval, std::chrono::milliseconds(2));
}

TEST_F(GilModule, StatsHasTotalsAndAnEntryPerThread) {
  EXPECT_TRUE(Ok(run(R"(
    local h = thread.spawn{function() return 1 end, name = "worker"}
    h:join()
    local s = gil.stats()
    for _, k in ipairs{"acquisitions", "switches", "drop_requests", "forced_drops"} do
      assert(math.type(s[k]) == "integer", k)
    end
    for _, k in ipairs{"wait_time", "hold_time", "longest_wait", "elapsed", "switch_interval"} do
      assert(type(s[k]) == "number", k)
    end
    assert(s.switches >= 3, "main -> worker -> main")
    assert(s.acquisitions >= s.switches)
    assert(s.elapsed > 0 and s.hold_time > 0)

    local main, worker = s.threads[1], s.threads[h.id]
    assert(main.name == "main" and main.alive == true)
    assert(worker.name == "worker" and worker.alive == false)
    assert(worker.acquisitions >= 1 and worker.switches >= 1)
    for _, t in pairs(s.threads) do
      for _, k in ipairs{"acquisitions", "switches", "drop_requests", "forced_drops",
                         "wait_time", "hold_time", "longest_wait"} do
        assert(t[k] ~= nil, k)
      end
    end
  )")));
}

}  // namespace
}  // namespace gilrun_test
