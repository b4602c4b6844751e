// lua_pipe_test.cpp — the `pipe` module's endpoints when the other end goes.
#include "lua_fixture.h"

namespace gilrun_test {
namespace {

using PipeModule = LuaTest;

// The write raised SIGPIPE and the process died (exit 141) before pcall
// could say anything; it is an error result now, as net's send gives.
TEST_F(PipeModule, WriteAfterThePeerClosedSaysClosed) {
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

TEST_F(PipeModule, BytesWrittenBeforeTheCloseCanStillBeRead) {
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

}  // namespace
}  // namespace gilrun_test
