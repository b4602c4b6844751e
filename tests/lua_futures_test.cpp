// lua_futures_test.cpp — the `futures` module (bindings/futures.lua) through
// the LuaTest fixture.
//
// Most cases run six times: for each executor (thread_pool, green_pool,
// process_pool) once in the main OS thread and once inside a green thread,
// the two contexts every wait must work in (see lua_sync_test.cpp). Tasks
// wait on channels the test opens — a queue, or a process.queue for the
// process pool (created before the pool, so its workers inherit it) — never
// on sleeps; a timed wait appears only where the timeout is the behaviour
// under test, on a task nobody lets finish in time.
#include <tuple>

#include "lua_fixture.h"

namespace gilrun_test {
namespace {

enum class Context { os_thread, green_thread };
enum class Kind { thread, green, process };

std::string kind_name(Kind k) {
  switch (k) {
    case Kind::thread: return "thread";
    case Kind::green: return "green";
    case Kind::process: return "process";
  }
  return "";
}

class Futures : public LuaTest, public ::testing::WithParamInterface<std::tuple<Context, Kind>> {
 protected:
  Kind kind() const { return std::get<1>(GetParam()); }

  // run() defines, before the case's code:
  //   futures, green, process   the modules
  //   KIND                      "thread", "green" or "process"
  //   make(n)                   a new executor of the kind under test
  //   channel()                 a queue tasks of that kind can use (call it
  //                             before make() for processes)
  //   here()                    who runs now: "os<id>" or "green<id>"
  gilrun::RunResult run(const std::string& code) {
    const std::string k = kind_name(kind());
    const std::string prelude =
        "local futures, green, process = require 'futures', require 'green', require 'process'\n"
        "local KIND = '" + k + "'\n"
        "local function make(n) return futures." + k + "_pool(n) end\n"
        "local function channel()\n"
        "  if KIND == 'process' then return process.queue() end\n"
        "  return queue.new()\n"
        "end\n"
        "local function here()\n"
        "  local g = green.current()\n"
        "  if g then return 'green' .. g.id end\n"
        "  return 'os' .. thread.current().id\n"
        "end\n";
    // One line, so the case's line numbers are its raw string's plus one.
    std::string flat = prelude;
    for (char& c : flat)
      if (c == '\n') c = ' ';
    if (std::get<0>(GetParam()) == Context::os_thread) return LuaTest::run(flat + "\n" + code);
    return LuaTest::run(flat + "green.spawn(function()\n" + code + "\nend):join()");
  }
};

std::string param_name(const ::testing::TestParamInfo<std::tuple<Context, Kind>>& info) {
  const std::string k = kind_name(std::get<1>(info.param));
  const std::string kind = std::string(1, static_cast<char>(k[0] - 'a' + 'A')) + k.substr(1);
  return kind + (std::get<0>(info.param) == Context::os_thread ? "PoolInOsThread"
                                                                 : "PoolInGreenThread");
}

INSTANTIATE_TEST_SUITE_P(, Futures,
                         ::testing::Combine(::testing::Values(Context::os_thread,
                                                              Context::green_thread),
                                            ::testing::Values(Kind::thread, Kind::green,
                                                              Kind::process)),
                         param_name);

TEST_P(Futures, SubmitReturnsEveryResultAndTheStatesFollow) {
  EXPECT_TRUE(Ok(run(R"lua(
    local started, gate = channel(), channel()
    local ex <close> = make(2)
    assert(ex:size() == 2)
    local f = ex:submit(function(a, b) return a + b, nil, "three" end, 1, 2)
    local a, b, c = f:result()
    assert(a == 3 and b == nil and c == "three", tostring(a) .. tostring(b) .. tostring(c))
    assert(select("#", f:result()) == 3)
    assert(f:done() and not f:running() and not f:cancelled())
    assert(f:exception() == nil)
    local g = ex:submit(function(started, gate) started:put(1); gate:get(); return "ok" end,
                        started, gate)
    started:get()
    assert(g:running() and not g:done())
    gate:put(1)
    assert(g:result() == "ok")
    assert(g:done() and not g:running())
  )lua")));
}

TEST_P(Futures, MapKeepsTheInputOrderWithAnyChunksize) {
  EXPECT_TRUE(Ok(run(R"lua(
    local ex <close> = make(3)
    local list = {}
    for i = 1, 10 do list[i] = i end
    for _, chunksize in ipairs{1, 3, 10, 20} do
      local r = ex:map(function(x) return x * x end, list, {chunksize = chunksize})
      assert(#r == 10, #r)
      for i = 1, 10 do assert(r[i] == i * i, chunksize .. ": " .. tostring(r[i])) end
    end
    assert(#ex:map(function(x) return x end, {}) == 0)
  )lua")));
}

TEST_P(Futures, MapRaisesTheFirstTaskErrorNamingItsIndex) {
  EXPECT_TRUE(Ok(run(R"lua(
    local ex <close> = make(2)
    for _, chunksize in ipairs{1, 2} do
      local ok, err = pcall(ex.map, ex, function(x)
        if x == 3 then error("bad item") end
        return x
      end, {1, 2, 3, 4, 5}, {chunksize = chunksize})
      assert(not ok, "map should fail")
      assert(err:find("map: item 3: ", 1, true), err)
      assert(err:find("bad item", 1, true), err)
    end
    assert(ex:map(function(x) return x + 1 end, {1})[1] == 2)  -- the executor goes on
  )lua")));
}

TEST_P(Futures, MapTimeoutReturnsNilTimeoutAndCancelsTheRest) {
  EXPECT_TRUE(Ok(run(R"lua(
    local gate = channel()
    local ex <close> = make(1)
    local blocked = ex:submit(function(gate) gate:get() end, gate)
    local a, b = ex:map(function(x) return x end, {1, 2}, {timeout = 0.02})
    assert(a == nil and b == "timeout", tostring(a) .. " " .. tostring(b))
    gate:put(1)
    blocked:result()
  )lua")));
}

TEST_P(Futures, ATaskErrorIsReRaisedWithItsTracebackAndTheExecutorGoesOn) {
  EXPECT_TRUE(Ok(run(R"lua(
    local ex <close> = make(1)
    local function failing() error("task failed here") end
    local f = ex:submit(failing)
    local ok, err = pcall(f.result, f)
    assert(not ok and err:find("task failed here", 1, true), tostring(err))
    assert(err:find("stack traceback", 1, true), err)
    assert(err:find("test.lua:", 1, true), err)
    local e = f:exception()
    assert(type(e) == "string" and e:find("task failed here", 1, true))
    assert(f:done() and not f:cancelled())
    assert(f:traceback() == err, "a string error is its own traceback")
    local function raise_table()
      error({code = 7})                        -- a non-string error, raised here
    end
    local t = ex:submit(raise_table)
    local ok2, err2 = pcall(t.result, t)
    assert(not ok2)
    assert(type(err2) == "table" and err2.code == 7, tostring(err2))  -- processes too
    assert(t:exception() == err2 or t:exception().code == 7)
    -- The table passes through as it is; where it was raised is beside it.
    local tb = t:traceback()
    assert(type(tb) == "string" and tb:find("stack traceback", 1, true), tostring(tb))
    assert(tb:find("raise_table", 1, true) or tb:find("test.lua:", 1, true), tb)
    local good = ex:submit(function() return 42 end)
    assert(good:result() == 42 and good:traceback() == nil)
  )lua")));
}

TEST_P(Futures, ResultAndExceptionTimeOutOnATaskThatHasNotFinished) {
  EXPECT_TRUE(Ok(run(R"lua(
    local gate = channel()
    local ex <close> = make(1)
    local f = ex:submit(function(gate) return gate:get() end, gate)
    local a, b = f:result(0.02)
    assert(a == nil and b == "timeout")
    a, b = f:exception(0)
    assert(a == nil and b == "timeout")
    assert(not f:done())
    gate:put("opened")
    assert(f:result(30) == "opened")
  )lua")));
}

TEST_P(Futures, CancelWinsOnlyBeforeTheTaskStarted) {
  EXPECT_TRUE(Ok(run(R"lua(
    local started, gate = channel(), channel()
    local ex <close> = make(1)
    local a = ex:submit(function(started, gate) started:put(1); gate:get(); return "a" end,
                        started, gate)
    local b = ex:submit(function() return "b" end)
    started:get()
    assert(a:cancel() == false, "a is running")
    assert(b:cancel() == true and b:cancel() == true)
    assert(b:cancelled() and b:done() and not b:running())
    local ok, err = pcall(b.result, b)
    assert(not ok and err:find("cancelled", 1, true), tostring(err))
    assert(not pcall(b.exception, b))
    gate:put(1)
    assert(a:result() == "a" and not a:cancelled())
    assert(a:cancel() == false, "a is finished")
  )lua")));
}

// cancel() from another thread while the worker may be starting the task:
// whatever the interleaving, exactly one of them wins.
TEST_P(Futures, CancelRacingTheStartHasExactlyOneWinner) {
  EXPECT_TRUE(Ok(run(R"lua(
    local ex <close> = make(2)
    local cancelled, ran = 0, 0
    for i = 1, 200 do
      local f = ex:submit(function(i) return i end, i)
      local h = thread.spawn(function() return f:cancel() end)
      local won = h:join()
      futures.wait({f})
      if won then
        assert(f:cancelled() and not pcall(f.result, f), "cancel won, the task must not run")
        cancelled = cancelled + 1
      else
        assert(not f:cancelled() and f:result() == i, "the start won")
        ran = ran + 1
      end
    end
    assert(cancelled + ran == 200)
  )lua")));
}

TEST_P(Futures, AsCompletedYieldsInCompletionOrderDoneOnesFirst) {
  EXPECT_TRUE(Ok(run(R"lua(
    local gates = {channel(), channel(), channel()}
    local ex <close> = make(3)
    local quick = ex:submit(function() return 0 end)
    quick:result()
    local fs = {}
    for i = 1, 3 do fs[i] = ex:submit(function(gate, i) gate:get(); return i end, gates[i], i) end
    local next_done = futures.as_completed({fs[1], quick, fs[2], fs[3], fs[1]})
    assert(next_done() == quick, "already done: first")
    for _, i in ipairs{3, 1, 2} do
      gates[i]:put(1)
      local f = next_done()
      assert(f == fs[i] and f:result() == i)
    end
    assert(next_done() == nil, "duplicates are yielded once")
    local n = 0
    for f in futures.as_completed(fs) do n = n + 1 end
    assert(n == 3)
  )lua")));
}

TEST_P(Futures, AsCompletedTimeoutRaisesNamingTheUnfinished) {
  EXPECT_TRUE(Ok(run(R"lua(
    local gate = channel()
    local ex <close> = make(2)
    local quick = ex:submit(function() return 1 end)
    local blocked = ex:submit(function(gate) gate:get() end, gate)
    local seen = {}
    local ok, err = pcall(function()
      for f in futures.as_completed({quick, blocked}, 0.05) do seen[#seen + 1] = f end
    end)
    assert(not ok and err:find("timeout: 1 of 2 futures unfinished", 1, true), tostring(err))
    assert(#seen == 1 and seen[1] == quick)
    gate:put(1)
    blocked:result()
  )lua")));
}

TEST_P(Futures, WaitHonoursEachReturnWhen) {
  EXPECT_TRUE(Ok(run(R"lua(
    local gate = channel()
    local ex <close> = make(3)
    local blocked = ex:submit(function(gate) gate:get(); return "late" end, gate)
    local quick = ex:submit(function() return "quick" end)
    local done, not_done = futures.wait({blocked, quick}, {return_when = "first_completed"})
    assert(#done == 1 and done[1] == quick and #not_done == 1 and not_done[1] == blocked)

    local failing = ex:submit(function() error("first exception") end)
    done, not_done = futures.wait({blocked, quick, failing}, {return_when = "first_exception"})
    assert(#done == 2 and done[1] == quick and done[2] == failing)
    assert(#not_done == 1 and not_done[1] == blocked)

    done, not_done = futures.wait({blocked, quick}, {timeout = 0.02})
    assert(#done == 1 and #not_done == 1 and not_done[1] == blocked)

    gate:put(1)
    done, not_done = futures.wait({blocked, quick})  -- "all"
    assert(#done == 2 and #not_done == 0 and blocked:result() == "late")
    -- first_exception with no failure waits for all
    done, not_done = futures.wait({quick, blocked}, {return_when = "first_exception"})
    assert(#done == 2)
    assert(not pcall(futures.wait, {quick}, {return_when = "sometimes"}))
    done, not_done = futures.wait({})
    assert(#done == 0 and #not_done == 0)
  )lua")));
}

TEST_P(Futures, DoneCallbacksRunOnceInTheThreadThatCompletes) {
  EXPECT_TRUE(Ok(run(R"lua(
    local gate = channel()
    local ex <close> = make(1)
    local me = here()
    local ran = queue.new()
    local f = ex:submit(function(gate) gate:get(); return 5 end, gate)
    local calls = 0
    for i = 1, 3 do
      f:add_done_callback(function(done)
        assert(done == f)
        calls = calls + 1
        ran:put(here())
      end)
    end
    gate:put(1)
    assert(f:result() == 5)
    local where = {ran:get(), ran:get(), ran:get()}
    assert(calls == 3)
    assert(where[1] == where[2] and where[2] == where[3])
    assert(where[1] ~= me, "a worker (or the collector) completes it, not the caller: " .. where[1])
    if KIND == "thread" then assert(where[1]:find("^os"), where[1]) end
    if KIND ~= "thread" then assert(where[1]:find("^green"), where[1]) end
    -- on a future already done the callback runs at once, in the caller
    local now
    f:add_done_callback(function() now = here() end)
    assert(now == me and calls == 3)
  )lua")));
}

TEST_P(Futures, ShutdownWaitsAndThenRefusesNewTasks) {
  EXPECT_TRUE(Ok(run(R"lua(
    local ex = make(2)
    local fs = {}
    for i = 1, 6 do
      fs[i] = ex:submit(function(i) require("time").sleep(0.001); return i end, i)
    end
    ex:shutdown()
    for i = 1, 6 do assert(fs[i]:done() and fs[i]:result() == i) end
    local ok, err = pcall(function() local f = ex:submit(function() end); return f end)
    assert(not ok and err:find("cannot submit to a " .. KIND .. "_pool that was shut down", 1, true),
           tostring(err))
    assert(err:find("test.lua:", 1, true), err)
    ex:shutdown()  -- twice is fine
    local kept
    do
      local closing <close> = make(1)
      kept = closing:submit(function() return "closed" end)
    end
    assert(kept:done() and kept:result() == "closed")
  )lua")));
}

TEST_P(Futures, ShutdownWithCancelFuturesCancelsOnlyTheOnesNotStarted) {
  EXPECT_TRUE(Ok(run(R"lua(
    local started, gate = channel(), channel()
    local ex = make(1)
    local running = ex:submit(function(started, gate) started:put(1); gate:get(); return "r" end,
                              started, gate)
    local waiting = {}
    for i = 1, 3 do waiting[i] = ex:submit(function() return i end) end
    started:get()
    ex:shutdown({wait = false, cancel_futures = true})
    for i = 1, 3 do assert(waiting[i]:cancelled()) end
    assert(not running:done())
    gate:put(1)
    assert(running:result() == "r")
    ex:shutdown()

    local ex2 = make(1)  -- without cancel_futures every task still runs
    local later = {}
    for i = 1, 3 do later[i] = ex2:submit(function() return i end) end
    ex2:shutdown({wait = false})
    for i = 1, 3 do assert(later[i]:result() == i) end
    ex2:shutdown()
  )lua")));
}

TEST_P(Futures, ArgumentErrorsAreClear) {
  EXPECT_TRUE(Ok(run(R"lua(
    local ex <close> = make(1)
    local ok, err = pcall(ex.submit, ex, 42)
    assert(not ok and err:find("function expected, got number", 1, true), err)
    ok, err = pcall(futures.as_completed, {1})
    assert(not ok and err:find("list of futures expected", 1, true), err)
    ok, err = pcall(make, 0)
    assert(not ok and err:find("worker count", 1, true), err)
    assert(tostring(ex):find(KIND .. "_pool(1)", 1, true), tostring(ex))
  )lua")));
}

// ---- Not parameterised by executor ---------------------------------------

class FuturesByHand : public LuaTest, public ::testing::WithParamInterface<Context> {
 protected:
  gilrun::RunResult run(const std::string& code) {
    const std::string prelude = "local futures, green = require 'futures', require 'green' ";
    if (GetParam() == Context::os_thread) return LuaTest::run(prelude + "\n" + code);
    return LuaTest::run(prelude + "local thread = {spawn = green.spawn} " +
                        "green.spawn(function()\n" + code + "\nend):join()");
  }
};

INSTANTIATE_TEST_SUITE_P(, FuturesByHand,
                         ::testing::Values(Context::os_thread, Context::green_thread),
                         [](const ::testing::TestParamInfo<Context>& info) {
                           return info.param == Context::os_thread ? "InOsThread"
                                                                   : "InGreenThread";
                         });

TEST_P(FuturesByHand, SetResultWakesTheWaiterAndCallbacksRunInTheSetter) {
  EXPECT_TRUE(Ok(run(R"lua(
    local f = futures.future()
    assert(not f:done() and not f:running())
    local seen
    f:add_done_callback(function() seen = "called" end)
    local h = thread.spawn(function() return f:result() end)
    f:set_result("a", nil, 3)
    assert(seen == "called", "the setter runs the callbacks before set_result returns")
    local a, b, c = h:join()
    assert(a == "a" and b == nil and c == 3)
    local ok, err = pcall(f.set_result, f, 1)
    assert(not ok and err:find("already done", 1, true), err)
    local e = futures.future()
    local value = {why = "custom"}
    e:set_exception(value)
    assert(e:exception() == value)
    local ok2, err2 = pcall(e.result, e)
    assert(not ok2 and err2 == value)
    assert(not pcall(e.set_exception, e, "again"))
    assert(f:cancel() == false)
    local c2 = futures.future()
    assert(c2:cancel() and c2:cancelled())
    assert(not pcall(c2.set_result, c2, 1))
  )lua")));
}

TEST_P(FuturesByHand, ACallbackThatRaisesIsReportedOnceWithItsTraceback) {
  ::testing::internal::CaptureStderr();
  const gilrun::RunResult r = run(R"lua(
    local f = futures.future()
    local after = false
    f:add_done_callback(function() error("callback broke") end)
    f:add_done_callback(function() after = true end)
    f:set_result(1)
    assert(after, "the next callback still runs")
    assert(f:result() == 1)
  )lua");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(Ok(r));
  EXPECT_TRUE(Contains(err, "a done callback failed: test.lua:"));
  EXPECT_TRUE(Contains(err, "callback broke"));
  EXPECT_TRUE(Contains(err, "stack traceback"));
  EXPECT_EQ(err.find("callback broke"), err.rfind("callback broke")) << err;
}

// A green thread of one OS thread waits on a future that another OS thread
// completes, and one that a process pool completes.
TEST_F(LuaTest, FuturesAGreenThreadWaitsOnAFutureCompletedInAnotherOsThread) {
  EXPECT_TRUE(Ok(run(R"lua(
    local futures, green = require "futures", require "green"
    local f = futures.future()
    local go = queue.new()
    local setter = thread.spawn(function() go:get(); f:set_result("from B") end)
    local ex <close> = futures.thread_pool(1)
    local tf = ex:submit(function() go:get(); return "pool" end)
    local g = green.spawn(function()
      go:put(1)
      go:put(1)
      return f:result(), tf:result()
    end)
    local a, b = g:join()
    assert(a == "from B" and b == "pool")
    setter:join()
    local ex2 = futures.thread_pool(2)  -- executors pass between OS threads
    local r = thread.spawn(function() return ex2:submit(function() return 7 end):result() end):join()
    assert(r == 7)
    ex2:shutdown()
  )lua")));
}

// A green pool worker that finds nothing queued stays for one turn of the
// hub: a submit right after a result reuses it instead of starting a green
// thread per task; an idle pool still holds nothing up (the script ends).
TEST_F(LuaTest, FuturesAGreenPoolReusesItsWorkerForBackToBackTasks) {
  EXPECT_TRUE(Ok(run(R"lua(
    local futures, green = require "futures", require "green"
    local ex = futures.green_pool(4)
    local function who() return green.current() end
    local first = ex:submit(who):result()
    for _ = 1, 100 do assert(ex:submit(who):result() == first, "a new green thread per task") end
    local q = queue.new()
    local blocked = ex:submit(function() return q:get() end)  -- busy: the next task needs another
    local other = ex:submit(who):result()
    assert(other ~= first)
    q:put("done")
    assert(blocked:result() == "done")
  )lua")));
}

using FuturesProcess = FuturesByHand;
INSTANTIATE_TEST_SUITE_P(, FuturesProcess,
                         ::testing::Values(Context::os_thread, Context::green_thread),
                         [](const ::testing::TestParamInfo<Context>& info) {
                           return info.param == Context::os_thread ? "InOsThread"
                                                                   : "InGreenThread";
                         });

TEST_P(FuturesProcess, AWorkerKilledMidTaskFailsItsTaskAndThePoolGoesOn) {
  EXPECT_TRUE(Ok(run(R"lua(
    local process = require "process"
    local ex <close> = futures.process_pool(1)
    local victim = ex:submit(function()
      os.execute("kill -9 " .. require("process").current().pid)
      return "survived"
    end)
    local ok, err = pcall(victim.result, victim)
    assert(not ok and err:find("was killed by SIGKILL while running this task", 1, true),
           tostring(err))
    assert(ex:submit(function(x) return x * 2 end, 21):result() == 42)
    local r = ex:map(function(x) return x + 1 end, {1, 2, 3})
    assert(r[1] == 2 and r[3] == 4)
  )lua")));
}

TEST_P(FuturesProcess, AFunctionThatCannotTravelFailsItsFuture) {
  EXPECT_TRUE(Ok(run(R"lua(
    local ex <close> = futures.process_pool(1)
    local q = queue.new()  -- userdata of this VM only
    local f = ex:submit(function() return q end)
    local ok, err = pcall(f.result, f)
    assert(not ok and err:find("cannot copy", 1, true), tostring(err))
    assert(ex:submit(function() return 1 end):result() == 1)
  )lua")));
}

// --gil=isolated: each thread_pool task runs in a VM of its own.
class FuturesIsolated : public ::testing::Test {
 protected:
  static gilrun::Options options() {
    gilrun::Options o;
    o.policy = "isolated";
    o.switch_interval = kTestInterval;
    o.libraries = [](lua_State* L) { gilrun::preload_modules(L); };
#ifdef GILRUN_BINARY
    o.worker_executable = GILRUN_BINARY;
#endif
    return o;
  }
  FuturesIsolated() : interp_(options()) {}
  void TearDown() override {
    if (!HasFatalFailure()) expect_threads_finished(interp_, stacks_before_);
  }
  gilrun::RunResult run(const std::string& code) { return interp_.run_string(code, "@test.lua"); }
  TestDeadline deadline_;  // as LuaTest's (lua_fixture.h)
  LeakCheck leaks_;
  const std::size_t stacks_before_ = gilrun::Fiber::stacks_in_use();
  gilrun::Interpreter interp_;
};

TEST_F(FuturesIsolated, ThreadPoolTasksRunInTheirOwnVmWithValuesCopied) {
  EXPECT_TRUE(Ok(run(R"lua(
    local futures, green = require "futures", require "green"
    local ex <close> = futures.thread_pool(2)
    shared = "main"
    local t = {1, 2, 3}
    local f = ex:submit(function(list)
      shared = "task"  -- the task's own VM
      list[1] = 99
      return #list, list
    end, t)
    local n, copy = f:result()
    assert(n == 3 and copy[1] == 99 and t[1] == 1 and shared == "main")
    local r = ex:map(function(x) return x * 10 end, {1, 2, 3, 4, 5}, {chunksize = 2})
    assert(r[1] == 10 and r[5] == 50)
    local q = require("queue").new()
    local bad = ex:submit(function() return q end)
    local ok, err = pcall(bad.result, bad)
    assert(not ok and err:find("cannot copy", 1, true), tostring(err))
    local e = ex:submit(function() error("isolated failure") end)
    local ok2, err2 = pcall(e.result, e)
    assert(not ok2 and err2:find("isolated failure", 1, true) and err2:find("stack traceback"))
    local te = ex:submit(function() error({code = 9}) end)
    local ok3, err3 = pcall(te.result, te)
    assert(not ok3 and type(err3) == "table" and err3.code == 9, tostring(err3))
    assert(tostring(te:traceback()):find("stack traceback", 1, true), tostring(te:traceback()))
    local done = 0
    local fs = {}
    for i = 1, 6 do fs[i] = ex:submit(function(i) return i end, i) end
    for f in futures.as_completed(fs) do done = done + 1 end
    assert(done == 6)
    local pp <close> = futures.process_pool(1)
    assert(pp:submit(function() return "process" end):result() == "process")
    local gp <close> = futures.green_pool(2)
    assert(gp:submit(function() return shared end):result() == "main")
  )lua")));
}

}  // namespace
}  // namespace gilrun_test
