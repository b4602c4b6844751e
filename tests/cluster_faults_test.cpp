// cluster_faults_test.cpp — what happens to tasks when things go wrong:
// warm shutdown, a worker killed with kill -9 mid-task, Redis restarted
// under a running worker, and 1,000 tasks through two workers.
#include <signal.h>

#include <gtest/gtest.h>

#include "cluster_support.h"

namespace gilrun::test {
namespace {

using ClusterFaults = ClusterTest;

// started() waits (BLPOP) until the hold task `name` said it runs.
bool started(RedisServer& r, const std::string& name) {
  return r.command({"BLPOP", name + ":started", "20"}) == name + ":started\n1";
}

TEST_F(ClusterFaults, WarmShutdownFinishesTheRunningTaskAndTakesNoMore) {
  auto w = worker();
  GilrunProcess c({"hold.lua", url(), "h"});
  ASSERT_TRUE(started(redis_, "h")) << c.describe() << w->describe();
  w->signal(SIGTERM);
  ASSERT_TRUE(w->wait_for("warm shutdown", true)) << w->describe();
  GilrunProcess late({"send_later.lua", url()});  // its task must stay queued
  ASSERT_TRUE(late.wait_for("sent\n")) << late.describe();
  redis_.command({"RPUSH", "h:release", "go"});
  EXPECT_EQ(w->wait(), 0) << w->describe();
  EXPECT_EQ(redis_.command({"LLEN", "celery"}), "1");
  EXPECT_EQ(c.wait(), 0) << c.describe();
  EXPECT_NE(c.out().find("result\ttrue\theld h\n"), std::string::npos) << c.describe();
  EXPECT_EQ(redis_.command({"GET", "h:runs"}), "1");
  EXPECT_EQ(redis_.command({"HLEN", "unacked"}), "0");
}

TEST_F(ClusterFaults, SecondSignalStopsAtOnceAndPutsTheTaskBack) {
  auto w = worker();
  GilrunProcess c({"hold.lua", url(), "c"});
  ASSERT_TRUE(started(redis_, "c")) << c.describe() << w->describe();
  w->signal(SIGTERM);
  ASSERT_TRUE(w->wait_for("warm shutdown", true)) << w->describe();
  w->signal(SIGINT);
  EXPECT_EQ(w->wait(), 1) << w->describe();
  EXPECT_NE(w->err().find("cold shutdown"), std::string::npos) << w->describe();
  EXPECT_NE(w->err().find("putting back 1 message(s)"), std::string::npos) << w->describe();
  EXPECT_EQ(redis_.command({"HLEN", "unacked"}), "0");
  const std::string queued = redis_.command({"LRANGE", "celery", "0", "-1"});
  EXPECT_NE(queued.find("\"redelivered\": true"), std::string::npos) << queued;
  EXPECT_NE(queued.find("\"task\": \"hold\""), std::string::npos) << queued;
}

TEST_F(ClusterFaults, KilledWorkersTaskIsRedeliveredAndCompletedOnceMore) {
  auto a = worker({"--visibility-timeout=1"});
  GilrunProcess c({"hold.lua", url(), "k"});
  ASSERT_TRUE(started(redis_, "k")) << c.describe() << a->describe();
  a->signal(SIGKILL);  // the supervisor: its worker process dies with it
  EXPECT_EQ(a->wait(), 128 + SIGKILL);
  EXPECT_EQ(redis_.command({"HLEN", "unacked"}), "1");
  auto b = worker({"--visibility-timeout=1"});
  ASSERT_TRUE(started(redis_, "k")) << c.describe() << b->describe();
  redis_.command({"RPUSH", "k:release", "go"});
  EXPECT_EQ(c.wait(), 0) << c.describe();
  EXPECT_NE(c.out().find("result\ttrue\theld k\n"), std::string::npos) << c.describe();
  EXPECT_EQ(redis_.command({"GET", "k:runs"}), "2");  // once in a, once more in b
  EXPECT_TRUE(b->wait_for("restored 1 unacknowledged message", true)) << b->describe();
}

TEST_F(ClusterFaults, WorkerReconnectsWhenRedisRestarts) {
  auto w = worker();
  redis_.stop();
  std::string why;
  ASSERT_TRUE(redis_.start(&why)) << why;
  ASSERT_TRUE(w->wait_for("lost the broker connection", true)) << w->describe();
  auto c = client("after_restart.lua");
  EXPECT_EQ(c->wait(), 0) << c->describe() << w->describe();
  EXPECT_NE(c->out().find("after restart\t42\n"), std::string::npos) << c->describe() << w->describe();
  EXPECT_TRUE(w->wait_for("reconnected to", true)) << w->describe();
}

TEST_F(ClusterFaults, ThousandTasksThroughTwoWorkersEachResultOnce) {
  auto w = worker({"--concurrency=2", "--loglevel=warning"});
  auto c = client("many.lua", {"1000"});
  EXPECT_EQ(c->wait(), 0) << c->describe() << w->describe();
  EXPECT_NE(c->out().find("done\t1000\tbad\t0\n"), std::string::npos) << c->describe();
  stop(*w);  // a result is stored before its message is acked: wait for the acks
  EXPECT_EQ(redis_.command({"HLEN", "unacked"}), "0");
  EXPECT_EQ(redis_.command({"LLEN", "celery"}), "0");
}

// Told to stop while Redis is away, an idle worker stopped waiting for it
// to come back: its warm shutdown never ended.
TEST_F(ClusterFaults, WarmShutdownEndsWhileRedisIsDown) {
  auto w = worker();
  redis_.stop();
  ASSERT_TRUE(w->wait_for("lost the broker connection", true)) << w->describe();
  w->signal(SIGTERM);
  EXPECT_EQ(w->wait(), 0) << w->describe();
  EXPECT_TRUE(w->wait_for("was unreachable", true)) << w->describe();
}

// A redelivered task's second run must not replace the SUCCESS of its first
// (the first worker stored it, then died before its ack): Celery keeps it.
TEST_F(ClusterFaults, AStoredSuccessIsNeverReplaced) {
  auto c = client("keep_success.lua", {});
  EXPECT_EQ(c->wait(), 0) << c->describe();
  EXPECT_EQ(c->out(),
            "first\ttrue\nsecond\tfalse\nother\ttrue\nretried\ttrue\n"
            "t1\ttrue\t42\nt2\ttrue\t7\n")
      << c->describe();
}

// A worker's result and ack ride write-behind with its next command
// (broker.lua's later()): they must arrive, in order, before that command
// runs, and a deferred command's error must be reported, not dropped.
TEST_F(ClusterFaults, DeferredCommandsGoFirstWithTheNextOne) {
  auto c = client("write_behind.lua", {});
  EXPECT_EQ(c->wait(), 0) << c->describe();
  EXPECT_EQ(c->out(),
            "queued\tnil\theld\nsent\t1\nacked\tnil\n"
            "ping\tPONG\t1\ta deferred LPUSH failed: Redis at " + url() +
            ": WRONGTYPE Operation against a key holding the wrong kind of value\n"
            "flushed\t2\nclosed\t3\n")
      << c->describe();
}

}  // namespace
}  // namespace gilrun::test
