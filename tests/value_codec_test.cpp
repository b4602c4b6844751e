// value_codec_test.cpp — the value codec (runtime/codec/value_codec.h): values
// copied between two fresh, separate lua_States.
//
// Each test runs a chunk in the source state ("@job.lua"), copies its results
// to the destination with copy_values(), then runs a checking chunk in the
// destination with the copies as `...`. Rejections are checked by their exact
// error text. The last tests feed the decoder truncated, mutated and crafted
// input: it must fail cleanly (this suite also runs under ASan in CI).
//
// Set GILRUN_CODEC_SEED_DIR to a directory to have WritesFuzzSeedsWhenAsked
// write valid payloads there, as a seed corpus for tests/fuzz/ (.ci/fuzz).
#include "codec/value_codec.h"
#include "codec/handles.h"

#include <gtest/gtest.h>

#include <lua.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace gilrun_test {
namespace {

using gilrun::copy_values;
using gilrun::decode_values;
using gilrun::encode_values;

// canon() renders a value (of the types the random trees use) as a string
// that is equal for structurally equal values, whatever the table order.
constexpr const char* kCanon = R"(
  function canon(v)
    local t = type(v)
    if t == "number" then
      if math.type(v) == "integer" then return "i" .. v end
      if v ~= v then return "nan" end
      return "f" .. string.format("%a", v)
    elseif t == "string" then
      return "s" .. string.format("%q", v)
    elseif t == "table" then
      local parts = {}
      for k, x in pairs(v) do parts[#parts + 1] = canon(k) .. "=" .. canon(x) end
      table.sort(parts)
      return "{" .. table.concat(parts, ",") .. "}"
    end
    return tostring(v)
  end
)";

lua_State* new_state() {
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  if (luaL_dostring(L, kCanon) != LUA_OK) ADD_FAILURE() << lua_tostring(L, -1);
  return L;
}

class ValueCodec : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = new_state();
    dst_ = new_state();
  }
  void TearDown() override {
    lua_close(src_);
    lua_close(dst_);
  }

  // produce() runs `code` in the source state on an empty stack and leaves
  // its results there; returns how many (-1 if the chunk failed).
  int produce(const char* code) {
    lua_settop(src_, 0);
    if (luaL_loadbuffer(src_, code, std::strlen(code), "@job.lua") != LUA_OK ||
        lua_pcall(src_, 0, LUA_MULTRET, 0) != LUA_OK) {
      ADD_FAILURE() << "producer failed: " << lua_tostring(src_, -1);
      lua_settop(src_, 0);
      return -1;
    }
    return lua_gettop(src_);
  }

  // copy() copies the results of `code` to the (emptied) destination stack.
  // Returns "" on success, else the error; either way checks that the source
  // stack is untouched and the destination holds exactly the copies.
  std::string copy(const char* code) {
    lua_settop(dst_, 0);
    const int n = produce(code);
    if (n < 0) return "<producer failed>";
    std::string error;
    const bool ok = copy_values(src_, 1, n, dst_, "args", &error);
    EXPECT_EQ(lua_gettop(src_), n) << "the source stack changed";
    EXPECT_EQ(lua_gettop(dst_), ok ? n : 0) << "the destination stack is off";
    if (ok) {
      EXPECT_EQ(error, "");
    }
    return ok ? "" : error;
  }

  // holds() runs `check` in the destination with the copied values as its
  // `...`; it should assert() and return true. Empties the stack.
  ::testing::AssertionResult holds(const char* check) {
    const int n = lua_gettop(dst_);
    if (luaL_loadbuffer(dst_, check, std::strlen(check), "=check") != LUA_OK) {
      std::string message = lua_tostring(dst_, -1);
      lua_settop(dst_, 0);
      return ::testing::AssertionFailure() << message;
    }
    lua_insert(dst_, 1);
    if (lua_pcall(dst_, n, 1, 0) != LUA_OK) {
      std::string message = lua_tostring(dst_, -1);
      lua_settop(dst_, 0);
      return ::testing::AssertionFailure() << message;
    }
    const bool ok = lua_toboolean(dst_, -1) != 0;
    lua_settop(dst_, 0);
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "the check did not return true";
  }

  // encode() encodes the results of `code` (kept in the source state).
  std::string encode(const char* code) {
    const int n = produce(code);
    std::string bytes, error;
    EXPECT_TRUE(encode_values(src_, 1, n, "args", &bytes, &error)) << error;
    return bytes;
  }

  // decode_error() decodes `bytes` into the destination, expecting failure
  // with the stack unchanged; returns the error.
  std::string decode_error(const std::string& bytes) {
    const int top = lua_gettop(dst_);
    int count = -1;
    std::string error;
    EXPECT_FALSE(decode_values(dst_, bytes.data(), bytes.size(), &count, &error));
    EXPECT_EQ(count, 0);
    EXPECT_EQ(lua_gettop(dst_), top);
    return error;
  }

  lua_State* src_ = nullptr;
  lua_State* dst_ = nullptr;
};

std::string bytes(const char* data, size_t size) { return std::string(data, size); }

// ------------------------------------------------------------------ types

TEST_F(ValueCodec, ScalarsRoundTrip) {
  ASSERT_EQ(copy("return nil, true, false, 0, -7, math.maxinteger, math.mininteger, "
                 "0.5, -0.0, 1/0, -1/0, 0/0, 'hello'"),
            "");
  EXPECT_TRUE(holds(R"(
    local a = table.pack(...)
    assert(a.n == 13)
    assert(a[1] == nil and a[2] == true and a[3] == false)
    assert(a[4] == 0 and a[5] == -7)
    assert(a[6] == math.maxinteger and a[7] == math.mininteger)
    assert(a[8] == 0.5 and a[9] == 0 and 1 / a[9] == -1 / 0, "negative zero")
    assert(a[10] == 1 / 0 and a[11] == -1 / 0)
    assert(a[12] ~= a[12], "NaN")
    assert(a[13] == "hello")
    return true
  )"));
}

TEST_F(ValueCodec, IntegersAndFloatsStayApart) {
  ASSERT_EQ(copy("return 3, 3.0, 2^53, -0.0, 1e300, 123456789012345, -1, -1.0"), "");
  EXPECT_TRUE(holds(R"(
    local a = {...}
    local want = {"integer", "float", "float", "float", "float", "integer", "integer", "float"}
    for i, kind in ipairs(want) do
      assert(math.type(a[i]) == kind, i .. ": " .. math.type(a[i]))
    end
    assert(a[1] == 3 and a[2] == 3 and a[3] == 2^53 and a[6] == 123456789012345)
    return true
  )"));
}

TEST_F(ValueCodec, StringsAreCopiedByteForByte) {
  const char* make = R"(
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
    return table.concat(bytes), "a\0b\0", "", string.rep("x\0y", 40000)
  )";
  ASSERT_EQ(copy(make), "");
  EXPECT_TRUE(holds(R"(
    local all, zeros, empty, long = ...
    assert(#all == 256)
    for i = 0, 255 do assert(all:byte(i + 1) == i) end
    assert(zeros == "a\0b\0" and #zeros == 4)
    assert(empty == "")
    assert(long == string.rep("x\0y", 40000))
    return true
  )"));
}

TEST_F(ValueCodec, NestedTablesWithEveryKeyType) {
  ASSERT_EQ(copy(R"(
    return {1, 2, "three", {x = {y = {z = "deep"}}},
            [10] = "ten", [-1] = "negative", [2.5] = "float key", [true] = "true key",
            [false] = "false key", ["weird key"] = {}, [math.maxinteger] = "max"}
  )"),
            "");
  EXPECT_TRUE(holds(R"(
    local t = ...
    assert(t[1] == 1 and t[2] == 2 and t[3] == "three")
    assert(t[4].x.y.z == "deep")
    assert(t[10] == "ten" and t[-1] == "negative" and t[2.5] == "float key")
    assert(t[true] == "true key" and t[false] == "false key")
    assert(type(t["weird key"]) == "table" and next(t["weird key"]) == nil)
    assert(t[math.maxinteger] == "max")
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    assert(n == 11, n)
    return true
  )"));
}

TEST_F(ValueCodec, SharedTableStaysOneTable) {
  ASSERT_EQ(copy("local shared = {n = 1} return {a = shared, b = shared}, shared"), "");
  EXPECT_TRUE(holds(R"(
    local t, s = ...
    assert(t.a == t.b, "t.a and t.b are one table")
    assert(t.a == s, "shared across the values too")
    s.n = 2
    assert(t.a.n == 2)
    return true
  )"));
}

TEST_F(ValueCodec, TableThatContainsItself) {
  ASSERT_EQ(copy("local t = {name = 'loop'} t.self = t t.list = {t, {t}} return t"), "");
  lua_gc(dst_, LUA_GCCOLLECT);  // the copies are anchored by the stack alone
  EXPECT_TRUE(holds(R"(
    local t = ...
    assert(t.name == "loop")
    assert(t.self == t and t.list[1] == t and t.list[2][1] == t)
    return true
  )"));
}

TEST_F(ValueCodec, TablesAsKeysAndCyclesThroughKeys) {
  ASSERT_EQ(copy("local k = {} local t = {[k] = k} k.back = t return t"), "");
  EXPECT_TRUE(holds(R"(
    local t = ...
    local k = next(t)
    assert(type(k) == "table" and t[k] == k and k.back == t)
    return true
  )"));
}

TEST_F(ValueCodec, MetatablesAreNotCopied) {
  ASSERT_EQ(copy("return setmetatable({x = 1}, {__index = function() return 'meta' end})"), "");
  EXPECT_TRUE(holds(R"(
    local t = ...
    assert(getmetatable(t) == nil and t.x == 1 and t.y == nil)
    return true
  )"));
}

TEST_F(ValueCodec, NoValuesIsAnEmptyPayload) {
  std::string bytes, error;
  ASSERT_TRUE(encode_values(src_, 1, 0, "args", &bytes, &error)) << error;
  int count = -1;
  ASSERT_TRUE(decode_values(dst_, bytes.data(), bytes.size(), &count, &error)) << error;
  EXPECT_EQ(count, 0);
  EXPECT_EQ(lua_gettop(dst_), 0);
}

TEST_F(ValueCodec, RelativeIndicesPickTheValues) {
  lua_pushinteger(src_, 1);
  lua_pushstring(src_, "second");
  lua_pushstring(src_, "third");
  std::string error;
  ASSERT_TRUE(copy_values(src_, -2, 2, dst_, "args", &error)) << error;
  EXPECT_EQ(lua_gettop(src_), 3);
  EXPECT_TRUE(holds("local a, b = ... return select('#', ...) == 2 and a == 'second' and b == 'third'"));
}

// ------------------------------------------------------------------ functions

TEST_F(ValueCodec, RecursiveLocalFunctionCopiesAndRuns) {
  ASSERT_EQ(copy(R"(
    local function fib(n)
      if n < 2 then return n end
      return fib(n - 1) + fib(n - 2)
    end
    return fib
  )"),
            "");
  EXPECT_TRUE(holds(R"(
    local fib = ...
    assert(fib(20) == 6765)
    assert(debug.getupvalue(fib, 1) == "fib" and select(2, debug.getupvalue(fib, 1)) == fib)
    return true
  )"));
}

TEST_F(ValueCodec, ClosureKeepsItsCounterUpvalue) {
  ASSERT_EQ(copy(R"(
    local n = 10
    local function counter() n = n + 1 return n end
    counter()
    return counter
  )"),
            "");
  EXPECT_TRUE(holds("local c = ... assert(c() == 12) assert(c() == 13) return true"));
  // The source's closure has its own cell: the copy's calls did not touch it.
  lua_settop(src_, 1);
  ASSERT_EQ(lua_pcall(src_, 0, 1, 0), LUA_OK);
  EXPECT_EQ(lua_tointeger(src_, -1), 12);
}

TEST_F(ValueCodec, ClosuresThatShareALocalStillShareIt) {
  ASSERT_EQ(copy(R"(
    local n = 0
    local function inc() n = n + 1 end
    local function get() return n end
    return inc, get
  )"),
            "");
  EXPECT_TRUE(holds("local inc, get = ... inc() inc() assert(get() == 2) return true"));
}

TEST_F(ValueCodec, SameFunctionReachedTwiceIsOneFunction) {
  ASSERT_EQ(copy("local f = function() return 1 end return {a = f, b = f}, f"), "");
  EXPECT_TRUE(holds("local t, f = ... assert(t.a == t.b and t.a == f and f() == 1) return true"));
}

TEST_F(ValueCodec, EnvBecomesTheDestinationsGlobals) {
  ASSERT_EQ(luaL_dostring(dst_, "x = 'destination'"), LUA_OK);
  ASSERT_EQ(copy(R"(
    x = "source"
    return function() return x end, function(v) y = v end
  )"),
            "");
  EXPECT_TRUE(holds(R"(
    local get, set = ...
    assert(get() == "destination", get())
    set(42)
    assert(y == 42)
    return true
  )"));
  lua_getglobal(src_, "y");
  EXPECT_TRUE(lua_isnil(src_, -1)) << "the copy wrote the source's globals";
}

// Issue 12, item 12: a sandbox's _ENV used to become the destination's
// globals, silently escaping `load`'s sandbox.
TEST_F(ValueCodec, AnEnvThatIsNotTheGlobalTableIsCopiedAsTheTableItIs) {
  ASSERT_EQ(luaL_dostring(dst_, "x = 'destination'"), LUA_OK);
  ASSERT_EQ(copy(R"(
    x = "source"
    local env = {x = 42}
    local get = load("return x, print", "=sandbox", "t", env)
    local inc = load("x = x + 1", "=sandbox", "t", env)
    local function private() local _ENV = {x = "private"} return function() return x end end
    return get, inc, private(), function() return x end
  )"),
            "");
  EXPECT_TRUE(holds(R"(
    local get, inc, private, global = ...
    local x, p = get()
    assert(x == 42 and p == nil, "the sandbox escaped: " .. tostring(x))
    inc()
    assert(get() == 43, "two functions of one sandbox share one copy")
    assert(private() == "private")
    assert(global() == "destination", "the real globals are still mapped")
    return true
  )"));
  lua_getglobal(src_, "x");
  EXPECT_STREQ(lua_tostring(src_, -1), "source");
}

// ------------------------------------------------------------------ errors
// Issue 12, item 11: encode_error / decode_error, the one path of an error
// out of a child process, a pool worker or an isolated thread.
class ValueCodecErrors : public ValueCodec {
 protected:
  // cross() encodes the error the producer returns, with `traceback`, and
  // decodes it in the destination (left on its stack, alone); returns the
  // traceback that came back.
  std::string cross(const char* code, const std::string& traceback) {
    lua_settop(dst_, 0);
    EXPECT_EQ(produce(code), 1);
    std::string bytes, back, error;
    EXPECT_TRUE(gilrun::encode_error(src_, 1, traceback, &bytes));
    EXPECT_EQ(lua_gettop(src_), 1) << "the source stack changed";
    EXPECT_TRUE(gilrun::decode_error(dst_, bytes.data(), bytes.size(), "child 7 ", &back, &error))
        << error;
    EXPECT_EQ(lua_gettop(dst_), 1);
    return back;
  }
  std::string top_string() {
    const char* s = lua_tostring(dst_, -1);
    return s ? s : "(not a string)";
  }
};

TEST_F(ValueCodecErrors, ATableErrorArrivesAsItselfWithItsTraceback) {
  EXPECT_EQ(cross("return {code = 9, nested = {why = 'x'}}", "stack traceback:\n\tjob.lua:1"),
            "stack traceback:\n\tjob.lua:1");
  EXPECT_TRUE(holds("local e = ... assert(e.code == 9 and e.nested.why == 'x') return true"));
  EXPECT_EQ(cross("return 42", ""), "");  // any value that crosses, no traceback known
  EXPECT_TRUE(holds("assert(math.type(...) == 'integer' and ... == 42) return true"));
}

TEST_F(ValueCodecErrors, AStringErrorKeepsItsMessageAndTraceback) {
  // As protected_call leaves it: the traceback appended to the message.
  EXPECT_EQ(cross("return 'job.lua:1: boom\\nstack traceback:\\n\\tjob.lua:1: in main chunk'", ""),
            "stack traceback:\n\tjob.lua:1: in main chunk");
  EXPECT_EQ(top_string(), "job.lua:1: boom\nchild 7 stack traceback:\n\tjob.lua:1: in main chunk");
  EXPECT_EQ(cross("return 'no traceback'", ""), "");
  EXPECT_EQ(top_string(), "no traceback");
}

TEST_F(ValueCodecErrors, AnErrorThatCannotCrossArrivesAsItsTostringText) {
  EXPECT_EQ(cross("return setmetatable({io.stdout}, {__tostring = function() return 'custom' end})",
                  "stack traceback:\n\tjob.lua:1"),
            "stack traceback:\n\tjob.lua:1");
  EXPECT_EQ(top_string(), "custom\nchild 7 stack traceback:\n\tjob.lua:1");
  cross("return {conn = io.stdout}", "");
  EXPECT_EQ(top_string(), "(error object is a table value: cannot copy error.conn: userdata)");
  cross("return setmetatable({io.stdout}, {__tostring = function() error('bad') end})", "");
  EXPECT_EQ(top_string(),
            "(error object is a table value: cannot copy error[1]: userdata (and its __tostring "
            "failed))");
  cross("return io.stdout", "");  // a file has a __tostring (computed in the source)
  EXPECT_EQ(top_string().rfind("file (0x", 0), 0u) << top_string();
}

TEST_F(ValueCodecErrors, DecodeErrorRejectsWhatIsNotAnError) {
  for (const char* code : {"return 1", "return 1, 2, 3", "return 'x', {}"}) {
    const std::string payload = encode(code);
    std::string traceback, error;
    const int top = lua_gettop(dst_);
    EXPECT_FALSE(gilrun::decode_error(dst_, payload.data(), payload.size(), "", &traceback, &error))
        << code;
    EXPECT_FALSE(error.empty());
    EXPECT_EQ(lua_gettop(dst_), top);
  }
  std::string made, traceback, error;
  ASSERT_TRUE(gilrun::encode_error_message("cannot start", "", &made));
  ASSERT_TRUE(gilrun::decode_error(dst_, made.data(), made.size(), "", &traceback, &error));
  EXPECT_EQ(top_string(), "cannot start");
  EXPECT_EQ(traceback, "");
}

TEST_F(ValueCodec, NestedFunctionsAndTableUpvaluesKeepTheirSharing) {
  ASSERT_EQ(copy(R"(
    local cfg = {scale = 3}
    local function scale(v) return v * cfg.scale end
    return function(list)
      local out = {}
      for i, v in ipairs(list) do out[i] = scale(v) end
      return out
    end, cfg
  )"),
            "");
  EXPECT_TRUE(holds(R"(
    local f, cfg = ...
    local r = f({1, 2})
    assert(r[1] == 3 and r[2] == 6)
    cfg.scale = 10  -- the argument and the upvalue are one table
    assert(f({1})[1] == 10)
    return true
  )"));
}

TEST_F(ValueCodec, CopiedFunctionKeepsItsSourceAndLines) {
  ASSERT_EQ(copy("return function()\n  error('boom')\nend"), "");
  EXPECT_TRUE(holds(R"(
    local f = ...
    local ok, err = pcall(f)
    assert(not ok and err:find("job.lua:2: boom", 1, true), err)
    return true
  )"));
}

// ------------------------------------------------------------ modules, handles

TEST_F(ValueCodec, LoadedModulesCrossAsTheDestinationsOwn) {
  EXPECT_EQ(copy("local s, m = string, math\n"
                 "return function() return s.rep('ab', 2), m.type(1) end, _G, {lib = table}"),
            "");
  EXPECT_TRUE(holds(R"(
    local f, g, t = ...
    local rep, kind = f()
    assert(rep == "abab" and kind == "integer")
    assert(g == _G and t.lib == table)
    return true
  )"));
}

// The decoder's fuzzer (since narrowed to the reader and the bytecode check,
// tests/fuzz/) found this: a module decoded into a bare state
// (no standard libraries, so no package.loaded) crashed inside lua_rawget.
TEST_F(ValueCodec, AModuleIntoABareStateIsAnErrorNotACrash) {
  const std::string bytes = encode("return {lib = string}");
  lua_State* bare = luaL_newstate();
  int count = -1;
  std::string error;
  EXPECT_FALSE(decode_values(bare, bytes.data(), bytes.size(), &count, &error));
  EXPECT_NE(error.find("no package.loaded"), std::string::npos) << error;
  EXPECT_EQ(lua_gettop(bare), 0);
  lua_close(bare);
}

// A fake handle: a userdata whose token is its integer; the opener in the
// destination turns a token back into {opened = token}.
int fake_handle(lua_State* L) {
  lua_pushfstring(L, "fake %d", static_cast<int>(*static_cast<int*>(lua_touserdata(L, 1))));
  return 1;
}
int refusing_handle(lua_State* L) {
  lua_pushnil(L);
  lua_pushstring(L, "closed handle");
  return 2;
}
int fake_opener(lua_State* L) {
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "opened");
  return 1;
}

TEST_F(ValueCodec, HandlesCrossThroughTheOpener) {
  for (lua_CFunction handle : {fake_handle, refusing_handle}) {
    lua_settop(src_, 0);
    *static_cast<int*>(lua_newuserdatauv(src_, sizeof(int), 0)) = 7;
    lua_createtable(src_, 0, 1);
    lua_pushcfunction(src_, handle);
    lua_setfield(src_, -2, gilrun::kHandleMetafield);
    lua_setmetatable(src_, -2);
    std::string error;
    lua_settop(dst_, 0);
    const bool ok = copy_values(src_, 1, 1, dst_, "args", &error);
    if (handle == refusing_handle) {
      EXPECT_FALSE(ok);
      EXPECT_EQ(error, "cannot copy args[1]: closed handle");
      continue;
    }
    EXPECT_FALSE(ok) << "a state without an opener must refuse handles";
    EXPECT_NE(error.find("cannot open handles"), std::string::npos) << error;
    lua_pushcfunction(dst_, fake_opener);
    lua_setfield(dst_, LUA_REGISTRYINDEX, gilrun::kHandleOpenerKey);
    ASSERT_TRUE(copy_values(src_, 1, 1, dst_, "args", &error)) << error;
    EXPECT_TRUE(holds("local h = ... assert(h.opened == 'fake 7') return true"));
  }
}

// ------------------------------------------------------------------ rejections

TEST_F(ValueCodec, RejectsUserdata) {
  EXPECT_EQ(copy("return io.stdout"), "cannot copy args[1]: userdata");
}

TEST_F(ValueCodec, RejectsCoroutines) {
  EXPECT_EQ(copy("return coroutine.create(function() end)"), "cannot copy args[1]: coroutine");
}

TEST_F(ValueCodec, RejectsCFunctions) {
  EXPECT_EQ(copy("return print"), "cannot copy args[1]: C function");
  EXPECT_EQ(copy("return 1, 2, string.format"), "cannot copy args[3]: C function");
}

TEST_F(ValueCodec, RejectsLightUserdata) {
  static int anchor;
  lua_pushlightuserdata(src_, &anchor);
  std::string error;
  EXPECT_FALSE(copy_values(src_, 1, 1, dst_, "args", &error));
  EXPECT_EQ(error, "cannot copy args[1]: light userdata");
  EXPECT_EQ(lua_gettop(src_), 1);
  EXPECT_EQ(lua_gettop(dst_), 0);
}

TEST_F(ValueCodec, ErrorNamesTheNestedPath) {
  EXPECT_EQ(copy("return 1, {conn = io.stdout}"), "cannot copy args[2].conn: userdata");
  EXPECT_EQ(copy("return {{}, {}, {[3] = io.stdout}}"), "cannot copy args[1][3][3]: userdata");
  EXPECT_EQ(copy("return {['weird key'] = print}"),
            "cannot copy args[1][\"weird key\"]: C function");
  EXPECT_EQ(copy("return {['end'] = print}"), "cannot copy args[1][\"end\"]: C function");
  EXPECT_EQ(copy("return {['a\"b\\\\c\\n'] = print}"),
            "cannot copy args[1][\"a\\\"b\\\\c\\n\"]: C function");
  std::string cut;
  for (int i = 0; i < 20; ++i) cut += "k ";
  EXPECT_EQ(copy("return {[string.rep('k ', 25)] = print}"),
            "cannot copy args[1][\"" + cut + "...\"]: C function");
  EXPECT_EQ(copy("return {[2.5] = print}"), "cannot copy args[1][2.5]: C function");
  EXPECT_EQ(copy("return {[true] = print}"), "cannot copy args[1][true]: C function");
  EXPECT_EQ(copy("return {[{}] = print}"), "cannot copy args[1][<table>]: C function");
  EXPECT_EQ(copy("return {[io.stdout] = 1}"), "cannot copy args[1] (a table key): userdata");
  EXPECT_EQ(copy("return {a = {b = {c = coroutine.running()}}}"),
            "cannot copy args[1].a.b.c: coroutine");
}

TEST_F(ValueCodec, ErrorNamesTheUpvalue) {
  EXPECT_EQ(copy("local sock = io.stdout return function() return sock end"),
            "cannot copy args[1] (upvalue 'sock'): userdata");
  EXPECT_EQ(copy("local p = print return function() p() end"),
            "cannot copy args[1] (upvalue 'p'): C function");
  EXPECT_EQ(copy("local cfg = {conn = io.stdout} return function() return cfg end"),
            "cannot copy args[1] (upvalue 'cfg').conn: userdata");
  EXPECT_EQ(copy("local sock = io.stdout return {handler = function() return sock end}"),
            "cannot copy args[1].handler (upvalue 'sock'): userdata");
}

TEST_F(ValueCodec, RootNamesTheValues) {
  produce("return io.stdout");
  std::string bytes, error;
  EXPECT_FALSE(encode_values(src_, 1, 1, "value", &bytes, &error));
  EXPECT_EQ(error, "cannot copy value[1]: userdata");
  EXPECT_TRUE(bytes.empty());
  EXPECT_EQ(lua_gettop(src_), 1);
}

TEST_F(ValueCodec, RejectsBadStackRanges) {
  produce("return 1, 2");
  std::string bytes, error;
  EXPECT_FALSE(encode_values(src_, 2, 2, "args", &bytes, &error));
  EXPECT_FALSE(encode_values(src_, 1, -1, "args", &bytes, &error));
  EXPECT_EQ(lua_gettop(src_), 2);
}

// 200 nested tables cross; 201 is an error both ways.
TEST_F(ValueCodec, NestingIsLimitedTo200Levels) {
  const char* nest = R"(
    local depth = %d
    local t = {}
    local cur = t
    for i = 2, depth do cur[1] = {} cur = cur[1] end
    return t
  )";
  char code[256];
  std::snprintf(code, sizeof code, nest, 200);
  EXPECT_EQ(copy(code), "");
  std::snprintf(code, sizeof code, nest, 201);
  std::string path = "args[1]";
  for (int i = 0; i < 200; ++i) path += "[1]";
  EXPECT_EQ(copy(code), "cannot copy " + path + ": too deeply nested (more than 200 levels)");

  std::string deep = "\x91";
  for (int i = 0; i < 300; ++i) deep += "\x81\x01";
  deep += "\xc0";
  EXPECT_NE(decode_error(deep).find("too deeply nested"), std::string::npos);
}

// ------------------------------------------------------------------ random trees

lua_Integer random_integer(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0: return static_cast<lua_Integer>(rng() % 201) - 100;
    case 1: return static_cast<lua_Integer>(rng());
    case 2: return rng() % 2 ? std::numeric_limits<lua_Integer>::max() : std::numeric_limits<lua_Integer>::min();
    default: return static_cast<lua_Integer>(rng() % 100000);
  }
}

lua_Number random_float(std::mt19937_64& rng) {
  static const lua_Number kEdges[] = {-0.0, 0.0, 1e308, -1e308, 5e-324, 0.1, 3.0,
                                      std::numeric_limits<lua_Number>::infinity(),
                                      -std::numeric_limits<lua_Number>::infinity()};
  switch (rng() % 3) {
    case 0: return kEdges[rng() % (sizeof kEdges / sizeof kEdges[0])];
    case 1: return static_cast<lua_Number>(static_cast<int>(rng() % 2001) - 1000);  // integral
    default: return std::uniform_real_distribution<lua_Number>(-1e6, 1e6)(rng);
  }
}

void push_random_string(lua_State* L, std::mt19937_64& rng) {
  const size_t length = rng() % 10 == 0 ? rng() % 300 : rng() % 16;
  std::string s(length, '\0');
  for (char& c : s) c = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 'a' + rng() % 26);
  lua_pushlstring(L, s.data(), s.size());
}

void push_random_value(lua_State* L, std::mt19937_64& rng, int depth);

void push_random_key(lua_State* L, std::mt19937_64& rng, lua_Integer* next_index) {
  switch (rng() % 5) {
    case 0: lua_pushinteger(L, (*next_index)++); break;  // sequences
    case 1: lua_pushinteger(L, random_integer(rng)); break;
    case 2: lua_pushnumber(L, random_float(rng)); break;
    case 3: lua_pushboolean(L, rng() % 2); break;
    default: push_random_string(L, rng);
  }
}

void push_random_table(lua_State* L, std::mt19937_64& rng, int depth) {
  lua_newtable(L);
  const int entries = static_cast<int>(rng() % 7);
  lua_Integer next_index = 1;
  for (int i = 0; i < entries; ++i) {
    push_random_key(L, rng, &next_index);
    push_random_value(L, rng, depth + 1);
    lua_rawset(L, -3);
  }
}

void push_random_value(lua_State* L, std::mt19937_64& rng, int depth) {
  switch (rng() % (depth < 4 ? 8 : 5)) {
    case 0: lua_pushboolean(L, rng() % 2); break;
    case 1: lua_pushinteger(L, random_integer(rng)); break;
    case 2: lua_pushnumber(L, random_float(rng)); break;
    case 3:
    case 4: push_random_string(L, rng); break;
    default: push_random_table(L, rng, depth);
  }
}

std::string canon(lua_State* L, int idx) {
  lua_getglobal(L, "canon");
  lua_pushvalue(L, idx);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) ADD_FAILURE() << lua_tostring(L, -1);
  std::string s = lua_tostring(L, -1) ? lua_tostring(L, -1) : "";
  lua_pop(L, 1);
  return s;
}

TEST_F(ValueCodec, RandomTreesRoundTrip) {
  std::mt19937_64 rng(20240611);
  for (int round = 0; round < 2000; ++round) {
    lua_settop(src_, 0);
    lua_settop(dst_, 0);
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) push_random_value(src_, rng, 0);
    std::string bytes, error;
    ASSERT_TRUE(encode_values(src_, 1, n, "args", &bytes, &error)) << error;
    int count = 0;
    ASSERT_TRUE(decode_values(dst_, bytes.data(), bytes.size(), &count, &error)) << error;
    ASSERT_EQ(count, n);
    for (int i = 1; i <= n; ++i) {
      ASSERT_EQ(canon(dst_, i), canon(src_, i)) << "round " << round << ", value " << i;
    }
  }
}

// ------------------------------------------------------------------ decoder robustness

constexpr const char* kRichValues = R"(
  local shared = {1, 2.5, "s\0x", -3}
  local t = {shared = shared, again = shared, nested = {deep = {true, false}}, [7] = -3}
  t.self = t
  local n = 0
  local function fib(k) if k < 2 then return k end return fib(k - 1) + fib(k - 2) end
  local function inc() n = n + 1 return n end
  local function get() return n, shared, x end
  return t, fib, inc, get, "tail", 1e300, math.mininteger, {[t] = fib}
)";

TEST_F(ValueCodec, EveryTruncationFailsCleanly) {
  const std::string full = encode(kRichValues);
  ASSERT_GT(full.size(), 100u);
  for (size_t len = 0; len < full.size(); ++len) {
    const std::string error = decode_error(full.substr(0, len));
    ASSERT_FALSE(error.empty()) << "length " << len;
  }
  int count = 0;
  std::string error;
  ASSERT_TRUE(decode_values(dst_, full.data(), full.size(), &count, &error)) << error;
  EXPECT_EQ(count, 8);
  EXPECT_TRUE(holds("local t, fib, inc, get = ... return t.self == t and fib(10) == 55 and inc() == 1 and get() == 1"));
}

TEST_F(ValueCodec, RandomMutationsNeverCrash) {
  const std::string full = encode(kRichValues);
  std::mt19937_64 rng(7);
  int decoded = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string bytes = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 3) {
        case 0: bytes[at] = static_cast<char>(rng() % 256); break;
        case 1: bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8))); break;
        default: bytes.erase(at, 1 + rng() % 4);
      }
      if (bytes.empty()) break;
    }
    int count = 0;
    std::string error;
    if (decode_values(dst_, bytes.data(), bytes.size(), &count, &error)) {
      ++decoded;
      lua_pop(dst_, count);
    } else {
      ASSERT_FALSE(error.empty());
    }
    ASSERT_EQ(lua_gettop(dst_), 0);
  }
  lua_gc(dst_, LUA_GCCOLLECT);  // whatever was decoded is still sound for the GC
  RecordProperty("decoded", decoded);
}

TEST_F(ValueCodec, RandomBytesNeverCrash) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 256);
    if (!bytes.empty()) bytes[0] = static_cast<char>(0x90 | (rng() % 4));  // mostly past the header
    int count = 0;
    std::string error;
    if (decode_values(dst_, bytes.data(), bytes.size(), &count, &error)) lua_pop(dst_, count);
    ASSERT_EQ(lua_gettop(dst_), 0);
  }
}

TEST_F(ValueCodec, DecoderRejectsMalformedInput) {
  struct Case {
    std::string input;
    const char* error;
  };
  const lua_Number nan = std::numeric_limits<lua_Number>::quiet_NaN();
  uint64_t nan_bits;
  std::memcpy(&nan_bits, &nan, sizeof nan_bits);
  std::string nan_key = "\x91\x81\xcb";
  for (int i = 7; i >= 0; --i) nan_key += static_cast<char>(nan_bits >> (8 * i));
  nan_key += "\x01";
  const Case cases[] = {
      {"", "byte 0: truncated input"},
      {"\xc0", "expected the array of values"},
      {"\x91", "truncated input"},
      {"\x91\xc1", "invalid byte 0xc1"},
      {"\xdd\xff\xff\xff\xff", "more entries than bytes left"},
      {"\x91\xdb\xff\xff\xff\xff", "runs past the end"},
      {"\x91\xdf\xff\xff\xff\xff", "more entries than bytes left"},
      {bytes("\x91\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 10), "integer out of range"},
      {bytes("\x91\xd6\x01\x00\x00\x00\x00", 7), "reference to an object not seen yet"},
      {bytes("\x91\xd6\x04\x00\x00\x00\x00", 7), "upvalue marker outside a function"},
      {bytes("\x91\xd4\x09\x00", 4), "unknown ext type"},
      {"\x91\x81\xc0\x01", "table key is nil"},
      {nan_key, "table key is NaN"},
      {"\x91\xc0\xc0", "byte 2: unexpected bytes after the values"},
      {"\x91\x90", "empty array"},
      {"\x91\x91\x01", "array that is not a function"},
      {"\x91\x91\xc7\x08\x02return 1", "not Lua bytecode"},
  };
  for (const Case& c : cases) {
    const std::string error = decode_error(c.input);
    EXPECT_NE(error.find(c.error), std::string::npos) << "got: " << error;
    EXPECT_EQ(error.rfind("malformed value data at byte ", 0), 0u) << error;
  }
}

TEST_F(ValueCodec, DecoderRejectsAnUpvalueCountThatDoesNotMatchTheBytecode) {
  // [function(bytecode, ENV)]: drop the ENV entry and say so in the header.
  std::string bytes = encode("return function() return x end");
  ASSERT_EQ(static_cast<unsigned char>(bytes[1]), 0x92u);
  ASSERT_EQ(bytes.substr(bytes.size() - 3), std::string("\xc7\x00\x03", 3));
  bytes[1] = '\x91';
  bytes.resize(bytes.size() - 3);
  EXPECT_NE(decode_error(bytes).find("upvalue count does not match"), std::string::npos);
}

TEST_F(ValueCodec, WritesFuzzSeedsWhenAsked) {
  const char* dir = std::getenv("GILRUN_CODEC_SEED_DIR");
  if (dir == nullptr) GTEST_SKIP() << "GILRUN_CODEC_SEED_DIR not set";
  const char* seeds[] = {
      kRichValues,
      "return nil, true, 3, 3.0, 'str', {1, 2, {a = 'b'}}",
      "local t = {} t.t = t return t, t",
      "local n = 0 return function() n = n + 1 return n end, function() return x end",
      "return {code = 9}, 'stack traceback:\\n\\t[C]: in ?'",  // an error payload
      "return load('return x', 'c', 't', {x = 42})",             // a copied _ENV
  };
  int i = 0;
  for (const char* code : seeds) {
    std::ofstream out(std::string(dir) + "/seed" + std::to_string(i++), std::ios::binary);
    out << encode(code);
  }
}

}  // namespace
}  // namespace gilrun_test
