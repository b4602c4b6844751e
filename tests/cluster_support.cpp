// cluster_support.cpp — GilrunProcess and ClusterTest (cluster_support.h).
#include "cluster_support.h"

#include <signal.h>

#include <chrono>

namespace gilrun::test {

namespace {

// Below ctest's 120 s per test: the message comes first.
constexpr std::chrono::seconds kClusterChildLimit{90};

gilrun_test::ChildSpec cluster_spec(const std::vector<std::string>& args) {
  gilrun_test::ChildSpec spec;
  spec.args = args;
  spec.cwd = std::string(GILRUN_TEST_DATA) + "/cluster";
  spec.limit = kClusterChildLimit;
  return spec;
}

}  // namespace

GilrunProcess::GilrunProcess(const std::vector<std::string>& args) : child_(cluster_spec(args)) {}

bool GilrunProcess::wait_for(const std::string& text, bool err) {
  return child_.wait_for(err ? gilrun_test::Stream::err : gilrun_test::Stream::out, text);
}

int GilrunProcess::wait() {
  const gilrun_test::ChildResult r = child_.finish();
  if (r.timed_out) return -1;
  return r.term_signal != 0 ? 128 + r.term_signal : r.exit_status;
}

void ClusterTest::SetUp() {
  std::string why;
  if (!RedisServer::available(&why)) GTEST_SKIP() << why;
  ASSERT_TRUE(redis_.start(&why)) << why;
}

std::unique_ptr<GilrunProcess> ClusterTest::worker(const std::vector<std::string>& flags) {
  std::vector<std::string> args{"worker", "--broker=" + url()};
  args.insert(args.end(), flags.begin(), flags.end());
  bool concurrency = false;
  for (const std::string& f : flags) concurrency = concurrency || f.rfind("--concurrency", 0) == 0;
  if (!concurrency) args.push_back("--concurrency=1");
  args.push_back("tasks.lua");
  auto w = std::make_unique<GilrunProcess>(args);
  EXPECT_TRUE(w->wait_for(" ready (")) << w->describe();
  return w;
}

void ClusterTest::stop(GilrunProcess& w) {
  w.signal(SIGTERM);
  EXPECT_EQ(w.wait(), 0) << w.describe();
}

std::unique_ptr<GilrunProcess> ClusterTest::client(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> all{script, url()};
  all.insert(all.end(), args.begin(), args.end());
  auto c = std::make_unique<GilrunProcess>(all);
  c->wait();
  return c;
}

}  // namespace gilrun::test
