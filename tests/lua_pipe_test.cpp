// lua_pipe_test.cpp — the `pipe` module's endpoints: waiting for the other
// end, and when the other end goes.
#include "lua_contexts.h"
#include "lua_fixture.h"

namespace gilrun_test {
namespace {

using PipeModule = LuaTest;
// The waits and ends run in an OS thread and in a green thread (lua_contexts.h).
using PipeWaits = ContextTest;

TEST_P(PipeWaits, AReadWaitsForTheOtherThreadsWrite) {
  EXPECT_TRUE(Ok(run(R"(
    local pipe = require "pipe"
    local a, b = pipe.pair()
    local h = thread.spawn(function() return b:write("late") end)
    assert(a:read() == "late")
    assert(h:join() == true)
    a:close() b:close()
  )")));
}

// 1 MiB is more than a socketpair's buffer: the write waits for the reader.
TEST_P(PipeWaits, AWriteBiggerThanTheBufferWaitsForTheReader) {
  EXPECT_TRUE(Ok(run(R"(
    local pipe = require "pipe"
    local a, b = pipe.pair()
    local big = string.rep("x", 1 << 20)
    local h = thread.spawn(function()
      local got = 0
      while got < #big do got = got + #assert(b:read(65536)) end
      return got
    end)
    assert(a:write(big) == true)
    assert(h:join() == #big)
    a:close() b:close()
  )")));
}

// The write raised SIGPIPE and the process died (exit 141) before pcall
// could say anything; it is an error result now, as net's send gives.
TEST_P(PipeWaits, WriteAfterThePeerClosedSaysClosed) {
  EXPECT_TRUE(Ok(run(R"(
    local pipe = require "pipe"
    local a, b = pipe.pair()
    b:close()
    local ok, err = a:write("x")
    assert(ok == nil and err == "closed", tostring(ok) .. " " .. tostring(err))
    assert(a:read() == nil)
    a:close()
  )")));
}

TEST_P(PipeWaits, BytesWrittenBeforeTheCloseCanStillBeRead) {
  EXPECT_TRUE(Ok(run(R"(
    local pipe = require "pipe"
    local a, b = pipe.pair()
    assert(b:write("last words"))
    b:close()
    assert(a:read() == "last words")
    local data, err = a:read()
    assert(data == nil and err == "closed", tostring(err))
    a:close()
  )")));
}

// Every read and write lets the GIL go, even one that needs no wait (as
// CPython's send and recv do): a write to a pipe with room and a read of
// bytes already there are one voluntary drop each. With the GIL held
// through them, the I/O thread under `priority` kept it ~17 us a round
// trip where its Lua needed ~9 (issue 16).
TEST_F(PipeModule, EveryReadAndWriteReleasesTheGil) {
  EXPECT_TRUE(Ok(run(R"(
    local pipe, gil = require "pipe", require "gil"
    local a, b = pipe.pair()
    local before = gil.stats().voluntary_drops
    assert(a:write("ping"))
    assert(b:read() == "ping")
    local after = gil.stats().voluntary_drops
    assert(after - before == 2, "voluntary drops: " .. (after - before))
    a:close() b:close()
  )")));
}

TEST_F(PipeModule, NetSendAndReceiveReleaseTheGil) {
  EXPECT_TRUE(Ok(run(R"(
    local net, gil = require "net", require "gil"
    local server = assert(net.listen("127.0.0.1", 0))
    local _, port = server:getsockname()
    local c = assert(net.connect("127.0.0.1", port))
    local s = assert(server:accept())
    local before = gil.stats().voluntary_drops
    assert(c:send("ping\n") == 5)
    assert(s:receive("*l") == "ping")
    local after = gil.stats().voluntary_drops
    assert(after - before == 2, "voluntary drops: " .. (after - before))
    c:close() s:close() server:close()
  )")));
}

GILRUN_CONTEXTS(PipeWaits);

}  // namespace
}  // namespace gilrun_test
