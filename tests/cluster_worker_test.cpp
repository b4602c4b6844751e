// cluster_worker_test.cpp — a gilrun client and a gilrun worker through a
// private redis-server: tasks by name, Lua functions through
// app:executor(), failures with tracebacks, retries, time limits, and the
// errors of a bad URL or a Redis that is not there.
#include <gtest/gtest.h>

#include <msgpack.h>

#include "cluster/base64.h"
#include "cluster_support.h"

namespace gilrun::test {
namespace {

using Cluster = ClusterTest;

TEST_F(Cluster, ClientCallsWorkerTasksByName) {
  auto w = worker();
  auto c = client("by_name.lua");
  EXPECT_EQ(c->wait(), 0) << c->describe() << w->describe();
  const std::string out = c->out();
  EXPECT_NE(out.find("fib\t6765\n"), std::string::npos) << out;
  EXPECT_NE(out.find("add\t5\n"), std::string::npos) << out;
  EXPECT_NE(out.find("float\t3.0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("echo\tx\t2\tv\ttrue\n"), std::string::npos) << out;
  EXPECT_NE(out.find("packed\t1\tnil\t3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("as_completed\t2\ttrue\ttrue\t42\n"), std::string::npos) << out;
  EXPECT_NE(out.find("id\tstring\t36\n"), std::string::npos) << out;
  EXPECT_NE(out.find("bad\tfalse\tcannot send args[2].conn as JSON: userdata"), std::string::npos) << out;
  // One log line per task, at info level.
  EXPECT_TRUE(w->wait_for("Task fib[", true)) << w->describe();
  EXPECT_TRUE(w->wait_for("succeeded in", true)) << w->describe();
  // The queue's binding, as kombu declares it.
  EXPECT_EQ(redis_.command({"SMEMBERS", "_kombu.binding.celery"}), std::string("celery\x06\x16\x06\x16" "celery"));
}

TEST_F(Cluster, ExecutorSendsLuaFunctionsWithTheirUpvalues) {
  auto w = worker();
  auto c = client("executor.lua");
  EXPECT_EQ(c->wait(), 0) << c->describe() << w->describe();
  const std::string out = c->out();
  EXPECT_NE(out.find("submit\t103\tsecond\n"), std::string::npos) << out;
  EXPECT_NE(out.find("map\t1,1,2,55,6765\n"), std::string::npos) << out;
  EXPECT_NE(out.find("table\t3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("error\tfalse\tmap: item 3: executor.lua:9: no threes"), std::string::npos) << out;
  EXPECT_NE(out.find("upvalue\tfalse\tcannot copy args[1]"), std::string::npos) << out;
}

TEST_F(Cluster, TaskErrorIsFailureWithTheWorkersTraceback) {
  auto w = worker();
  auto c = client("failure.lua");
  EXPECT_EQ(c->wait(), 0) << c->describe() << w->describe();
  const std::string out = c->out();
  EXPECT_NE(out.find("ok\tfalse\n"), std::string::npos) << out;
  EXPECT_NE(out.find("err\ttasks.lua:9: boom: kaput\nworker stack traceback:\n\t[C]: in function 'error'\n"
                     "\ttasks.lua:9: in function <tasks.lua:9>"), std::string::npos) << out;
  EXPECT_EQ(out.find("cluster/worker.lua"), std::string::npos) << out;  // the worker's own frames are cut
  EXPECT_NE(out.find("missing\tfalse\tNotRegistered: no.such.task"), std::string::npos) << out;
  const size_t at = out.find("id\t");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string id = out.substr(at + 3, 36);
  const std::string meta = redis_.command({"GET", "celery-task-meta-" + id});
  EXPECT_NE(meta.find("\"status\": \"FAILURE\""), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"exc_type\": \"LuaError\""), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"traceback\": \"tasks.lua:9: boom: kaput\\nstack traceback:"), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"task_id\": \"" + id + "\""), std::string::npos) << meta;
  // Every message was acknowledged.
  stop(*w);  // a result is stored before its message is acked: wait for the acks
  EXPECT_EQ(redis_.command({"HLEN", "unacked"}), "0");
}

TEST_F(Cluster, RetriesWithCountdownThenGivesUp) {
  auto w = worker();
  auto c = client("retry.lua");
  EXPECT_EQ(c->wait(), 0) << c->describe() << w->describe();
  const std::string out = c->out();
  EXPECT_NE(out.find("retried\tok after 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("gave up\tfalse\ttasks.lua:"), std::string::npos) << out;
  EXPECT_NE(out.find("flaky: attempt 2 fails"), std::string::npos) << out;
  EXPECT_EQ(redis_.command({"GET", "k1"}), "3");
  EXPECT_EQ(redis_.command({"GET", "k2"}), "2");  // one try and one retry
  EXPECT_TRUE(w->wait_for("retry: Retry in 0.2s", true)) << w->describe();
}

TEST_F(Cluster, TimeLimitKillsTheTaskAndTheWorkerGoesOn) {
  auto w = worker();
  auto c = client("timelimit.lua");
  EXPECT_EQ(c->wait(), 0) << c->describe() << w->describe();
  const std::string out = c->out();
  EXPECT_NE(out.find("limited\tfalse\tTimeLimitExceeded: task spin["), std::string::npos) << out;
  EXPECT_NE(out.find("after\t55\n"), std::string::npos) << out;
  EXPECT_TRUE(w->wait_for("Hard time limit (1s) exceeded for spin[", true)) << w->describe();
  stop(*w);  // a result is stored before its message is acked: wait for the acks
  EXPECT_EQ(redis_.command({"HLEN", "unacked"}), "0");
}

TEST_F(Cluster, TaskThatKillsItsProcessRunsOnceMoreThenFails) {
  auto w = worker();
  auto c = client("die.lua");
  EXPECT_EQ(c->wait(), 0) << c->describe() << w->describe();
  EXPECT_NE(c->out().find("died\tfalse\tWorkerLostError: worker process lost twice running die["), std::string::npos)
      << c->describe() << w->describe();
  EXPECT_NE(c->out().find("after\t2\n"), std::string::npos) << c->describe();
  EXPECT_NE(w->err().find("exited with status 3"), std::string::npos) << w->describe();
  stop(*w);
  EXPECT_EQ(redis_.command({"HLEN", "unacked"}), "0");
}

// A task message as Celery writes it with task_serializer = "msgpack".
std::string msgpack_task(const std::string& id, const std::string& task, int a, int b) {
  msgpack_sbuffer buffer;
  msgpack_sbuffer_init(&buffer);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &buffer, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 3);
  msgpack_pack_array(&pk, 2);
  msgpack_pack_int(&pk, a);
  msgpack_pack_int(&pk, b);
  msgpack_pack_map(&pk, 0);
  msgpack_pack_map(&pk, 1);
  msgpack_pack_str(&pk, 9);
  msgpack_pack_str_body(&pk, "callbacks", 9);
  msgpack_pack_nil(&pk);
  const std::string body = cluster::base64_encode(std::string(buffer.data, buffer.size));
  msgpack_sbuffer_destroy(&buffer);
  return "{\"body\": \"" + body + "\", \"content-encoding\": \"binary\", \"content-type\": \"application/x-msgpack\", "
         "\"headers\": {\"lang\": \"py\", \"task\": \"" + task + "\", \"id\": \"" + id + "\", \"shadow\": null, "
         "\"eta\": null, \"expires\": null, \"group\": null, \"retries\": 0, \"timelimit\": [null, null], "
         "\"root_id\": \"" + id + "\", \"parent_id\": null, \"argsrepr\": \"(2, 3)\", \"kwargsrepr\": \"{}\", "
         "\"origin\": \"test\"}, \"properties\": {\"correlation_id\": \"" + id + "\", \"reply_to\": \"r\", "
         "\"delivery_mode\": 2, \"delivery_info\": {\"exchange\": \"\", \"routing_key\": \"celery\"}, "
         "\"priority\": 0, \"body_encoding\": \"base64\", \"delivery_tag\": \"tag-" + id + "\"}}";
}

TEST_F(Cluster, WorkerReadsMessagePackBodies) {
  auto w = worker();
  const std::string id = "6f0c1f2e-0000-4000-8000-000000000001";
  EXPECT_EQ(redis_.command({"LPUSH", "celery", msgpack_task(id, "add", 2, 3)}), "1");
  auto c = client("wait_result.lua", {id});
  EXPECT_EQ(c->wait(), 0) << c->describe() << w->describe();
  EXPECT_NE(c->out().find("result\ttrue\t5\n"), std::string::npos) << c->describe() << w->describe();
  EXPECT_NE(redis_.command({"GET", "celery-task-meta-" + id}).find("\"status\": \"SUCCESS\", \"result\": 5,"),
            std::string::npos);
}

TEST_F(Cluster, RedisDownOrBadUrlIsAClearError) {
  const std::string dead = "redis://127.0.0.1:1/0";
  GilrunProcess w({"worker", "--broker=" + dead, "tasks.lua"});
  EXPECT_EQ(w.wait(), 1) << w.describe();
  EXPECT_NE(w.err().find("cannot connect to redis://127.0.0.1:1/0: Connection refused"), std::string::npos)
      << w.describe();
  GilrunProcess bad({"worker", "--broker=http://x/", "tasks.lua"});
  EXPECT_EQ(bad.wait(), 1) << bad.describe();
  EXPECT_NE(bad.err().find("bad Redis URL 'http://x/'"), std::string::npos) << bad.describe();
  GilrunProcess flags({"worker", "--broker=" + url(), "--concurrency=zero", "tasks.lua"});
  EXPECT_NE(flags.wait(), 0) << flags.describe();
  EXPECT_NE(flags.err().find("--concurrency"), std::string::npos) << flags.describe();
  GilrunProcess none({"worker", "tasks.lua"});
  EXPECT_NE(none.wait(), 0) << none.describe();
  EXPECT_NE(none.err().find("--broker is required"), std::string::npos) << none.describe();
  GilrunProcess c({"down.lua", dead});
  EXPECT_EQ(c.wait(), 0) << c.describe();
  EXPECT_NE(c.out().find("connect\tfalse\tcannot connect to redis://127.0.0.1:1/0: Connection refused"),
            std::string::npos) << c.describe();
  EXPECT_NE(c.out().find("url\tfalse\tbad Redis URL 'http://localhost/'"), std::string::npos) << c.describe();
}

}  // namespace
}  // namespace gilrun::test
