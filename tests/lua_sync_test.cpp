// lua_sync_test.cpp — the `sync` and `queue` modules across threads, through
// the LuaTest fixture.
//
// Timed waits appear only where the timeout is the behaviour under test, and
// then on a state nobody can make ready in time (a lock the waiter's own
// thread holds, an event nobody sets yet).
#include "lua_contexts.h"

namespace gilrun_test {
namespace {

// Every case runs twice, in an OS thread and in a green thread (lua_contexts.h).
using SyncTest = ContextTest;

using SyncLock = SyncTest;
using SyncCondition = SyncTest;
using SyncEvent = SyncTest;
using SyncSemaphore = SyncTest;
using Queue = SyncTest;

TEST_P(SyncLock, AcquireReleaseAndLocked) {
  EXPECT_TRUE(Ok(run(R"(
    local l = sync.lock()
    assert(not l:locked())
    assert(l:acquire() == true)
    assert(l:locked())
    l:release()
    assert(not l:locked())
  )")));
}

TEST_P(SyncLock, AcquireWithTimeoutOnAHeldLockReturnsNilTimeout) {
  EXPECT_TRUE(Ok(run(R"(
    local l = sync.lock()
    l:acquire()
    local a, b = l:acquire(0.01)  -- not re-entrant: only this thread could release it
    assert(a == nil and b == "timeout", tostring(a) .. ", " .. tostring(b))
    assert(l:locked())
  )")));
}

TEST_P(SyncLock, ReleasingAnUnlockedLockIsAnError) {
  EXPECT_TRUE(Ok(run(R"(
    local l = sync.lock()
    local ok, err = pcall(l.release, l)
    assert(not ok and err:find("release of an unlocked lock", 1, true), err)
  )")));
}

TEST_P(SyncLock, BlockedAcquireProceedsWhenAnotherThreadReleases) {
  EXPECT_TRUE(Ok(run(R"(
    local l = sync.lock()
    l:acquire()
    local h = thread.spawn(function()
      l:acquire()  -- blocks until main releases
      owner = "thread"
      l:release()
    end)
    owner = "main"
    l:release()
    h:join()
    assert(owner == "thread")
    assert(not l:locked())
  )")));
}

TEST_P(SyncLock, AnyThreadMayReleaseAPlainLock) {
  EXPECT_TRUE(Ok(run(R"(
    local l = sync.lock()
    l:acquire()
    thread.spawn(function() l:release() end):join()
    assert(not l:locked())
  )")));
}

TEST_P(SyncLock, RlockIsReentrantForItsOwner) {
  EXPECT_TRUE(Ok(run(R"(
    local r = sync.rlock()
    assert(r:acquire() and r:acquire())
    r:release()
    assert(r:locked(), "still held once")
    r:release()
    assert(not r:locked())
  )")));
}

TEST_P(SyncLock, RlockCannotBeReleasedOrTakenByAnotherThread) {
  EXPECT_TRUE(Ok(run(R"(
    local r = sync.rlock()
    r:acquire()
    local h = thread.spawn(function()
      local ok, err = pcall(r.release, r)
      local a, b = r:acquire(0.01)  -- main holds it and is blocked in join
      return ok, err, a, b
    end)
    local ok, err, a, b = h:join()
    assert(not ok and err:find("owned by another thread", 1, true), err)
    assert(a == nil and b == "timeout")
    assert(r:locked())
    r:release()
  )")));
}

// 100 increments per thread, each with a blocking call inside the critical
// section, so the other threads always run while the lock is held.
TEST_P(SyncLock, LockedCounterIncrementedByFourThreadsIsExact) {
  ASSERT_TRUE(Ok(run(R"(
    local l = sync.lock()
    counter = 0
    local hs = {}
    for i = 1, 4 do
      hs[i] = thread.spawn(function()
        for _ = 1, 100 do
          l:acquire()
          local v = counter
          time.sleep(0.0001)
          counter = v + 1
          l:release()
        end
      end)
    end
    for i = 1, 4 do hs[i]:join() end
  )")));
  EXPECT_EQ(integer("counter"), 400);
}

TEST_P(SyncCondition, WaitReturnsAfterAProducerNotifies) {
  EXPECT_TRUE(Ok(run(R"(
    local cond = sync.condition()
    local items = {}
    local h = thread.spawn(function()
      for i = 1, 5 do
        cond:acquire()
        items[#items + 1] = i
        cond:notify()
        cond:release()
      end
    end)
    cond:acquire()
    while #items < 5 do assert(cond:wait() == true) end
    cond:release()
    h:join()
    assert(table.concat(items, ",") == "1,2,3,4,5")
  )")));
}

// Waits return only when notified (no spurious wake-ups), so counting the
// woken waiters after notify(1) and notify(2) is exact.
TEST_P(SyncCondition, NotifyWakesNWaitersAndNotifyAllWakesEveryone) {
  EXPECT_TRUE(Ok(run(R"(
    local l = sync.lock()
    local cond, changed = sync.condition(l), sync.condition(l)
    local waiting, woken = 0, 0
    local function waiter()
      l:acquire()
      waiting = waiting + 1
      changed:notify()
      cond:wait()
      woken = woken + 1
      changed:notify()
      l:release()
    end
    local hs = {}
    for i = 1, 5 do hs[i] = thread.spawn(waiter) end
    l:acquire()
    while waiting < 5 do changed:wait() end
    cond:notify()
    while woken < 1 do changed:wait() end
    assert(woken == 1, woken)
    cond:notify(2)
    while woken < 3 do changed:wait() end
    assert(woken == 3, woken)
    cond:notify_all()
    while woken < 5 do changed:wait() end
    l:release()
    for i = 1, 5 do hs[i]:join() end
  )")));
}

TEST_P(SyncCondition, WaitWithTimeoutReturnsNilTimeoutAndHoldsTheLockAgain) {
  EXPECT_TRUE(Ok(run(R"(
    local cond = sync.condition()
    cond:acquire()
    local a, b = cond:wait(0.01)  -- nobody notifies
    assert(a == nil and b == "timeout")
    cond:release()  -- would raise if wait had not re-taken the lock
  )")));
}

TEST_P(SyncCondition, WaitWithoutHoldingTheLockIsAnError) {
  EXPECT_TRUE(Ok(run(R"(
    local cond = sync.condition()
    local ok, err = pcall(cond.wait, cond)
    assert(not ok and err:find("without holding its lock", 1, true), err)
  )")));
}

TEST_P(SyncEvent, SetWakesWaitersAndClearResets) {
  EXPECT_TRUE(Ok(run(R"(
    local e = sync.event()
    assert(not e:is_set())
    local hs = {}
    for i = 1, 3 do hs[i] = thread.spawn(function() return e:wait() end) end
    e:set()
    for i = 1, 3 do assert(hs[i]:join() == true) end
    assert(e:is_set())
    assert(e:wait() == true, "a set event does not block")
    e:clear()
    assert(not e:is_set())
  )")));
}

TEST_P(SyncEvent, WaitWithTimeoutOnAnUnsetEventReturnsNilTimeout) {
  EXPECT_TRUE(Ok(run(R"(
    local e = sync.event()
    local a, b = e:wait(0.01)
    assert(a == nil and b == "timeout")
    assert(not e:is_set())
  )")));
}

// Six threads, two permits: exactly two get in until the gate opens.
TEST_P(SyncSemaphore, BoundsHowManyThreadsAreInside) {
  EXPECT_TRUE(Ok(run(R"(
    local sem = sync.semaphore(2)
    local gate = sync.event()
    local entered = queue.new()
    local counting = sync.lock()  -- preemption may land inside "inside + 1"
    local inside, max_inside = 0, 0
    local hs = {}
    for i = 1, 6 do
      hs[i] = thread.spawn(function()
        sem:acquire()
        counting:acquire()
        inside = inside + 1
        max_inside = math.max(max_inside, inside)
        counting:release()
        entered:put(i)
        gate:wait()
        counting:acquire()
        inside = inside - 1
        counting:release()
        sem:release()
      end)
    end
    entered:get()
    entered:get()
    assert(sem:value() == 0)
    local a, b = entered:get(0.01)  -- a third thread cannot get in
    assert(a == nil and b == "timeout", tostring(a))
    gate:set()
    for i = 1, 6 do hs[i]:join() end
    assert(max_inside == 2, max_inside)
    assert(sem:value() == 2)
  )")));
}

TEST_P(SyncSemaphore, AcquireWithTimeoutAtZeroReturnsNilTimeout) {
  EXPECT_TRUE(Ok(run(R"(
    local sem = sync.semaphore(0)
    local a, b = sem:acquire(0.01)
    assert(a == nil and b == "timeout")
    sem:release(2)
    assert(sem:acquire() and sem:acquire())
    assert(sem:value() == 0)
    assert(not pcall(sync.semaphore, -1))
  )")));
}

TEST_P(Queue, KeepsFifoOrderAcrossThreads) {
  EXPECT_TRUE(Ok(run(R"(
    local q = queue.new()
    local t = {}
    local h = thread.spawn(function()
      for i = 1, 200 do q:put(i) end
      q:put(t)
    end)
    for i = 1, 200 do
      local v = q:get()
      assert(v == i, "expected " .. i .. ", got " .. tostring(v))
    end
    assert(q:get() == t, "values are shared, not copied")
    h:join()
    assert(q:empty() and q:size() == 0)
  )")));
}

TEST_P(Queue, PutOnAFullQueueTimesOut) {
  EXPECT_TRUE(Ok(run(R"(
    local q = queue.new(2)
    assert(q:put(1) and q:put(2))
    assert(q:full() and q:size() == 2)
    local a, b = q:put(3, 0.01)  -- nobody gets
    assert(a == nil and b == "timeout")
    assert(q:size() == 2)
  )")));
}

TEST_P(Queue, PutOnAFullQueueBlocksUntilAGetMakesRoom) {
  EXPECT_TRUE(Ok(run(R"(
    local q = queue.new(1)
    q:put("first")
    local started = sync.event()
    local h = thread.spawn(function()
      started:set()
      local ok = q:put("second")
      put_done = true
      return ok
    end)
    started:wait()
    assert(not put_done, "put into a full queue returned")
    assert(q:get() == "first")
    assert(h:join() == true)
    assert(q:get() == "second")
  )")));
}

TEST_P(Queue, PutNilIsAClearError) {
  EXPECT_TRUE(Ok(run(R"(
    local q = queue.new()
    local ok, err = pcall(q.put, q, nil)
    assert(not ok and err:find("nil cannot be put into a queue", 1, true), err)
  )")));
}

TEST_P(Queue, CloseWakesGettersWithNilClosed) {
  EXPECT_TRUE(Ok(run(R"(
    local q = queue.new()
    local waiting = queue.new()
    local hs = {}
    for i = 1, 2 do
      hs[i] = thread.spawn(function()
        waiting:put(i)
        return q:get()
      end)
    end
    waiting:get()
    waiting:get()
    q:close()
    for i = 1, 2 do
      local a, b = hs[i]:join()
      assert(a == nil and b == "closed", tostring(a) .. ", " .. tostring(b))
    end
    local ok, err = pcall(q.put, q, 1)
    assert(not ok and err:find("closed queue", 1, true), err)
  )")));
}

TEST_P(Queue, ItemsPutBeforeCloseCanStillBeTaken) {
  EXPECT_TRUE(Ok(run(R"(
    local q = queue.new()
    q:put("left over")
    q:close()
    assert(q:get() == "left over")
    local a, b = q:get()
    assert(a == nil and b == "closed")
  )")));
}

// 100000 items through a bounded queue, two producers and two consumers;
// the consumers stop at close(). Every item arrives exactly once.
TEST_P(Queue, TwoProducersTwoConsumersTransferEveryItemOnce) {
  ASSERT_TRUE(Ok(run(R"(
    local N = 100000
    local q = queue.new(100)
    local function produce(first, last)
      for i = first, last do q:put(i) end
    end
    local function consume()
      local sum, count = 0, 0
      while true do
        local v = q:get()
        if v == nil then return sum, count end
        sum, count = sum + v, count + 1
      end
    end
    local producers = {thread.spawn(produce, 1, N // 2), thread.spawn(produce, N // 2 + 1, N)}
    local consumers = {thread.spawn(consume), thread.spawn(consume)}
    for _, p in ipairs(producers) do p:join() end
    q:close()
    total_sum, total_count = 0, 0
    for _, c in ipairs(consumers) do
      local sum, count = c:join()
      total_sum, total_count = total_sum + sum, total_count + count
    end
  )")));
  EXPECT_EQ(integer("total_count"), 100000);
  EXPECT_EQ(integer("total_sum"), 5000050000LL);
}

GILRUN_CONTEXTS(SyncLock);
GILRUN_CONTEXTS(SyncCondition);
GILRUN_CONTEXTS(SyncEvent);
GILRUN_CONTEXTS(SyncSemaphore);
GILRUN_CONTEXTS(Queue);

}  // namespace
}  // namespace gilrun_test
