// cluster_json_test.cpp — the cluster's JSON mapping (runtime/cluster/
// json.h), base64 and Redis URLs, on a bare lua_State: what Python's json
// writes decodes, what Lua holds encodes, and what cannot map is an error
// naming its path.
#include <gtest/gtest.h>

#include <lua.hpp>
#include <msgpack.h>

#include <string>

#include "cluster/base64.h"
#include "cluster/json.h"
#include "cluster/msgpack_value.h"
#include "cluster/redis_url.h"

namespace gilrun::cluster {
namespace {

class ClusterJson : public ::testing::Test {
 protected:
  void SetUp() override {
    L = luaL_newstate();
    luaL_openlibs(L);
  }
  void TearDown() override { lua_close(L); }

  // encode() encodes the value of the Lua expression `expr`.
  std::string encode(const std::string& expr, bool* ok = nullptr) {
    EXPECT_EQ(luaL_dostring(L, ("return " + expr).c_str()), LUA_OK) << lua_tostring(L, -1);
    std::string out, error;
    const bool good = json_encode(L, -1, "args", &out, &error);
    lua_settop(L, 0);
    if (ok) *ok = good;
    return good ? out : error;
  }

  // roundtrip() decodes `text`, then shows the Lua value via `show`.
  std::string decode_then(const std::string& text, const std::string& show) {
    std::string error;
    if (!json_decode(L, text.data(), text.size(), &error)) return "error: " + error;
    lua_setglobal(L, "v");
    EXPECT_EQ(luaL_dostring(L, ("return " + show).c_str()), LUA_OK) << lua_tostring(L, -1);
    std::string out = luaL_tolstring(L, -1, nullptr);
    lua_settop(L, 0);
    return out;
  }

  lua_State* L = nullptr;
};

TEST_F(ClusterJson, EncodesLuaValuesThePythonWay) {
  EXPECT_EQ(encode("{1, 'two', true, 2.5, 3.0, -7}"), "[1, \"two\", true, 2.5, 3.0, -7]");
  EXPECT_EQ(encode("{}"), "[]");
  EXPECT_EQ(encode("setmetatable({}, {__json = 'object'})"), "{}");
  EXPECT_EQ(encode("{k = {1, {x = 'y'}}}"), "{\"k\": [1, {\"x\": \"y\"}]}");
  EXPECT_EQ(encode("{1, nil, 3}"), "[1, null, 3]");
  EXPECT_EQ(encode("{0.1, 1/3, 1e300, -2.5e-7}"), "[0.1, 0.3333333333333333, 1e+300, -2.5e-07]");
  EXPECT_EQ(encode("table.pack(nil, 2, nil)"), "[null, 2, null]");
  EXPECT_EQ(encode("'quote\" back\\\\ nl\\n tab\\t \\1 é'"), "\"quote\\\" back\\\\ nl\\n tab\\t \\u0001 é\"");
}

TEST_F(ClusterJson, WhatCannotMapNamesItsPath) {
  bool ok = true;
  EXPECT_EQ(encode("{1, {conn = io.stdout}}", &ok), "cannot send args[2].conn as JSON: userdata");
  EXPECT_FALSE(ok);
  EXPECT_EQ(encode("{f = print}"), "cannot send args.f as JSON: function");
  EXPECT_EQ(encode("{0/0}"), "cannot send args[1] as JSON: NaN");
  EXPECT_EQ(encode("{math.huge}"), "cannot send args[1] as JSON: an infinity");
  EXPECT_EQ(encode("{1, x = 2}"), "cannot send args as JSON: a table with both sequence and string keys");
  EXPECT_EQ(encode("{[true] = 1}"), "cannot send args as JSON: a table with a boolean key");
  EXPECT_EQ(encode("{['a b'] = '\\255'}"), "cannot send args[\"a b\"] as JSON: a string that is not UTF-8 text (byte 1)");
  EXPECT_EQ(encode("{[1000] = 1}"), "cannot send args as JSON: a sparse array (too many holes)");
  std::string cycle = "cannot send args";
  for (int i = 0; i < 200; ++i) cycle += "[1]";
  EXPECT_EQ(encode("(function() local t = {} t[1] = t return t end)()"), cycle + " as JSON: nested too deeply (a cycle?)");
}

TEST_F(ClusterJson, DecodesWhatPythonWrites) {
  EXPECT_EQ(decode_then("[[2, 3], {}, {\"callbacks\": null}]", "#v[1] .. ' ' .. v[1][2] .. ' ' .. tostring(next(v[2]))"),
            "2 3 nil");
  EXPECT_EQ(decode_then("{\"a\": 1.0, \"b\": 1, \"c\": 1e3}", "math.type(v.a) .. math.type(v.b) .. math.type(v.c)"),
            "floatintegerfloat");
  EXPECT_EQ(decode_then("[1, null, 3]", "tostring(v[2]) .. v[3]"), "nil3");
  EXPECT_EQ(decode_then("\"\\u00e9\\ud83d\\ude00\\n\"", "v"), "é😀\n");
  EXPECT_EQ(decode_then("123456789012345678901234", "math.type(v)"), "float");
  EXPECT_EQ(decode_then("18446744073709551615", "math.type(v)"), "float");
  EXPECT_EQ(decode_then("-9223372036854775808", "math.type(v) .. (v == math.mininteger and ' min' or '')"),
            "integer min");
  EXPECT_EQ(decode_then("[1, 2", "v"), "error: bad JSON at byte 6: Missing a comma or ']' after an array element.");
  EXPECT_EQ(decode_then("{\"a\" 1}", "v"), "error: bad JSON at byte 6: Missing a colon after a name of object member.");
  EXPECT_EQ(decode_then("[1] x", "v"), "error: bad JSON at byte 5: The document root must not be followed by other values.");
  EXPECT_EQ(decode_then("\"\xff\"", "v"), "error: bad JSON at byte 2: Invalid encoding in string.");
  EXPECT_EQ(decode_then("{\"a\": [1, {\"b\": null}], \"c\": null}", "#v.a .. tostring(next(v.a[2])) .. tostring(v.c)"),
            "2nilnil");
  // Deep input is an error, not a C stack overflow.
  EXPECT_EQ(decode_then(std::string(100000, '['), "v"), "error: bad JSON at byte 201: nested too deeply");
  EXPECT_EQ(lua_gettop(L), 0);
}

TEST_F(ClusterJson, DecodesMessagePackAsPythonsMsgpackWrites) {
  msgpack_sbuffer b;
  msgpack_sbuffer_init(&b);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_int64(&pk, -5);
  msgpack_pack_double(&pk, 2.5);
  msgpack_pack_map(&pk, 1);
  msgpack_pack_str(&pk, 1);
  msgpack_pack_str_body(&pk, "k", 1);
  msgpack_pack_bin(&pk, 2);
  msgpack_pack_bin_body(&pk, "\0x", 2);
  msgpack_pack_nil(&pk);
  std::string error;
  ASSERT_TRUE(msgpack_decode(L, b.data, b.size, &error)) << error;
  lua_setglobal(L, "v");
  ASSERT_EQ(luaL_dostring(L, "return v[1] .. ' ' .. v[2] .. ' ' .. #v[3].k .. ' ' .. tostring(v[4])"), LUA_OK);
  EXPECT_STREQ(lua_tostring(L, -1), "-5 2.5 2 nil");
  lua_settop(L, 0);
  EXPECT_FALSE(msgpack_decode(L, b.data, b.size - 1, &error));
  EXPECT_EQ(error, "truncated MessagePack body");
  EXPECT_EQ(lua_gettop(L), 0);
  msgpack_sbuffer_destroy(&b);
}

// msgpack-c's msgpack_unpack_next(), which the bodies were read with, refused
// nesting past 32 levels (MSGPACK_EMBED_STACK_SIZE) as "malformed".
TEST_F(ClusterJson, MessagePackBodiesNestUpTo200Levels) {
  std::string error;
  const std::string deep = std::string(40, '\x91') + "\x07";  // [[[...[7]...]]], 40 arrays
  ASSERT_TRUE(msgpack_decode(L, deep.data(), deep.size(), &error)) << error;
  lua_setglobal(L, "v");
  ASSERT_EQ(luaL_dostring(L, "local n = 0 while type(v) == 'table' do v, n = v[1], n + 1 end return n .. ' ' .. v"),
            LUA_OK);
  EXPECT_STREQ(lua_tostring(L, -1), "40 7");
  lua_settop(L, 0);
  const std::string too_deep = std::string(201, '\x91') + "\x07";
  EXPECT_FALSE(msgpack_decode(L, too_deep.data(), too_deep.size(), &error));
  EXPECT_EQ(error, "MessagePack body nested too deeply");
  EXPECT_EQ(lua_gettop(L), 0);
}

// msgpack-c allocated a declared array before reading it: these 5 bytes asked
// it for ~100 GB (an abort under AddressSanitizer, "malformed" elsewhere).
TEST_F(ClusterJson, AMessagePackCountTheBodyCannotHoldIsTruncated) {
  std::string error;
  for (const std::string& body : {std::string("\xdd\xff\xff\xff\xff"), std::string("\xdf\x10\x00\x00\x00\xc0")}) {
    EXPECT_FALSE(msgpack_decode(L, body.data(), body.size(), &error));
    EXPECT_EQ(error, "truncated MessagePack body");
    EXPECT_EQ(lua_gettop(L), 0);
  }
  const std::string tail("\x91\x01\xc0", 3);
  EXPECT_FALSE(msgpack_decode(L, tail.data(), tail.size(), &error));
  EXPECT_EQ(error, "bytes after the MessagePack value (at byte 3)");
  const std::string bad("\x92\x01\xc1", 3);
  EXPECT_FALSE(msgpack_decode(L, bad.data(), bad.size(), &error));
  EXPECT_EQ(error, "malformed MessagePack body");
  const std::string big("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);  // 2^64-1
  ASSERT_TRUE(msgpack_decode(L, big.data(), big.size(), &error)) << error;
  EXPECT_EQ(lua_type(L, -1), LUA_TNUMBER);
  EXPECT_FALSE(lua_isinteger(L, -1));
  EXPECT_EQ(lua_tonumber(L, -1), 18446744073709551615.0);
  lua_settop(L, 0);
}

TEST(ClusterBase64, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 64; ++i) {
    std::string back;
    ASSERT_TRUE(base64_decode(base64_encode(bytes), &back));
    EXPECT_EQ(back, bytes);
    bytes.push_back(static_cast<char>(i * 37));
  }
  EXPECT_EQ(base64_encode("[[2, 3], {}]"), "W1syLCAzXSwge31d");
  std::string out;
  EXPECT_FALSE(base64_decode("not*base64", &out));
}

TEST(ClusterUrl, ParsesTheRedisForm) {
  RedisUrl u;
  std::string error;
  ASSERT_TRUE(parse_redis_url("redis://:secret@10.0.0.1:6380/3", &u, &error)) << error;
  EXPECT_EQ(u.host, "10.0.0.1");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.db, 3);
  EXPECT_EQ(u.password, "secret");
  EXPECT_EQ(u.text, "redis://:***@10.0.0.1:6380/3");
  ASSERT_TRUE(parse_redis_url("redis://localhost", &u, &error));
  EXPECT_EQ(u.port, 6379);
  EXPECT_EQ(u.db, 0);
  EXPECT_FALSE(parse_redis_url("http://x/", &u, &error));
  EXPECT_NE(error.find("it must start with redis://"), std::string::npos) << error;
  EXPECT_FALSE(parse_redis_url("redis://h:99999/0", &u, &error));
  EXPECT_NE(error.find("bad port"), std::string::npos) << error;
  EXPECT_FALSE(parse_redis_url("redis://h:1/x", &u, &error));
  EXPECT_NE(error.find("the database must be a number"), std::string::npos) << error;
}

}  // namespace
}  // namespace gilrun::cluster
