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

}  // namespace
}  // namespace gilrun_test
