// value_codec.cpp — see value_codec.h. The codec's notes, and
// copy_values(). The encoder is encode.cpp, the decoder decode.cpp; the
// decoder reads through msgpack_reader.h and checks bytecode with
// bytecode_check.h; shared.h holds the ext types and limits below.
//
// Wire format
// ===========
// MessagePack (https://msgpack.org/). One payload is ONE msgpack array that
// holds the values in stack order:
//
//   payload  = array(count) of value
//   value    = nil | false | true
//            | int           a Lua integer (any msgpack int format on decode;
//                            a uint64 above 2^63-1 is rejected)
//            | float 64      a Lua float: always float64, so 3.0 stays a float
//                            (float 32 is accepted on decode)
//            | str           a Lua string, raw bytes, zeros included (bin is
//                            accepted on decode)
//            | table | function | ref
//   table    = map(n) of (key value, value value)         a new object
//   function = array(1+n) [ext FUNCTION, upvalue 1 .. upvalue n]
//                                                          a new object
//   upvalue  = value         a fresh upvalue cell holding that value
//            | ext ENV       `_ENV` that is the source's global table: the
//                            destination's global table
//            | ext CELL      the same cell as an upvalue met earlier
//   ref      = ext REF       an object met earlier
//
//   | ext type | name     | payload                             | allowed in      |
//   |----------|----------|-------------------------------------|-----------------|
//   | 1        | REF      | 4 bytes, big-endian object number k | any value       |
//   | 2        | FUNCTION | lua_dump bytecode, debug info kept  | function[1]     |
//   | 3        | ENV      | empty                               | upvalue entries |
//   | 4        | CELL     | 4 bytes, big-endian cell number k   | upvalue entries |
//   | 5        | HANDLE   | the handle's token (bytes)          | any value       |
//   | 6        | MODULE   | the module's name (package.loaded)  | any value       |
//
// Arrays are only functions (the encoder writes every table as a map). Table
// keys are never nil or NaN. Nothing may follow the payload's array.
//
// Example: `local function fib(n) ... fib(n-1) ... end`, alone (~230 bytes):
//   91                    array(1): one value
//   92                    array(2): a function (object 0) with one upvalue
//   c7 de 02 1b 4c ...    ext 8 of 0xde bytes, FUNCTION: "\x1bLua..." bytecode
//   d6 01 00 00 00 00     fixext 4 REF 0: upvalue `fib` is object 0, itself
//
// Reference scheme
// ----------------
// Objects — tables and functions — are numbered 0, 1, 2, ... in the order
// their map or array header appears in the payload: depth first, pre-order
// (an object is numbered before its contents, a table key before its value).
// The encoder numbers an object the first time it meets it (by
// lua_topointer) and writes REF k every later time; the decoder registers an
// object as soon as it has created it, before decoding its contents. So a
// table reached twice decodes to one table, `t.self = t` decodes to a table
// containing itself, and the everyday recursive `local function fib(n) ...
// fib(n-1) ... end` — whose upvalue `fib` is the function itself — decodes to
// a function whose upvalue is that same function.
//
// Upvalue cells (lua_upvalueid) are numbered the same way, in their own
// sequence. A cell met again is written CELL k and the decoder joins the two
// upvalues (lua_upvaluejoin), so closures that shared a local still share it.
// An upvalue named `_ENV` (dumps keep upvalue names) whose value is the
// source's global table (LUA_RIDX_GLOBALS) is never copied: it becomes the
// destination's global table. Any other `_ENV` — the table a sandbox gave
// `load`, a module's private environment — is an ordinary upvalue and is
// copied as the table it is, so a sandboxed function stays sandboxed (issue
// 12, item 12: it used to get the destination's globals).
//
// Not copied: metatables (a copied table has none) and identity across
// separate payloads (each payload numbers its objects afresh). A function
// loaded from stripped bytecode has no upvalue names, so its `_ENV` is
// always an ordinary upvalue (the source's global table is
// package.loaded._G, so it crosses as a MODULE: see below).
//
// Modules
// -------
// A table that is a loaded module — a value of package.loaded, such as the
// `process` in `local process = require "process"`, or `string`, or `_G` —
// is not copied (it is full of C functions): it crosses as MODULE name and
// the decoder gives the destination's own package.loaded[name], requiring it
// if it is not loaded yet. So a function whose upvalue is a module works in
// the child, with the child's module.
//
// Handles
// -------
// A userdata whose metatable has a `__gilrun_handle` C function crosses as a
// HANDLE: the encoder calls that function with the userdata and writes the
// string it returns (or fails with "cannot copy <path>: <its second result>"
// when it returns nil). The decoder passes the token to the function stored
// at registry["gilrun.handle_opener"], which returns the value or nil and a
// reason; a state without an opener rejects handles. This is how a process
// queue crosses to a child: its token names descriptors the child inherited
// (bindings/process/queue.cpp). Both names are spelled once, in handles.h.
// Handles are not numbered objects: a handle met twice decodes to two
// userdata wrapping the same resource.
//
// Errors
// ------
// A failed call in another VM (a process.spawn child, a pool task, an
// isolated thread) sends back its error as an error payload, encoded by
// encode_error() and decoded by decode_error() — the one mechanism for all
// three:
//
//   error payload = array(2) [value, traceback]
//   value      the error value, copied like any value; a string error is its
//              message without the traceback. A value that cannot cross is
//              replaced by a string: its `__tostring` text (computed in the
//              source, under protection), else "(error object is a table
//              value: cannot copy error.conn: userdata)".
//   traceback  str "stack traceback:\n..." taken where the error was raised
//              (protected_call.h keeps it for non-string errors), or nil.
//
// decode_error() pushes the value to raise: a string with a traceback gets
// it appended after `origin` (so a string error reads as before: "file:1:
// boom\nchild process 4242 stack traceback: ..."); any other value is raised
// as itself (metatables do not cross, so a table arrives as its fields) and
// the traceback is handed back beside it for the handle's :traceback().
//
// Rejected, as "cannot copy <path>: <what>": other userdata, light userdata,
// coroutine, C function, a function whose upvalue is one of those, nesting
// deeper than 200 levels, a string or function of 4 GiB or more.
//
// Paths
// -----
// `root[i]` for the i-th value, then per step: `[n]` for an integer key,
// `.name` for an identifier-like string key (not a reserved word),
// `["other key"]` for other strings (escaped, cut after 40 bytes),
// `[1.5]` / `[true]` / `[<table>]` for other keys, ` (a table key)` when the
// key itself cannot cross, ` (upvalue 'name')` for a function's upvalue:
//   cannot copy args[2].conn: userdata
//   cannot copy args[1] (upvalue 'cfg').conn: userdata
//
// Safety
// ------
// Debian's liblua5.4 is C: a Lua error is a longjmp that skips C++
// destructors. So all Lua work runs inside lua_pcall of a C function
// (encode_protected / decode_protected) that gets its context through a light
// userdata; every C++ object lives in that context, owned by the unprotected
// caller, and no function below the pcall keeps an automatic object with a
// destructor. C++ exceptions (std::bad_alloc from a string or map) are caught
// inside the protected function, before they could reach Lua's C frames; the
// callbacks that C code calls (msgpack's writer, lua_dump's writer) never
// throw, they report failure by return value.
//
// Decoding is the boundary for untrusted input, and its two parts that need
// no Lua state have files of their own, which the fuzzer (tests/fuzz/)
// targets: the MessagePack reader (msgpack_reader.h: every declared length is
// checked against the input left, so 5 bytes cannot ask for 100 GB as they
// can of msgpack_unpack) and the bytecode check (bytecode_check.h: walks a
// chunk as lundump.c reads it before lua_load sees it, because lundump
// allocates every vector's declared size before reading it and recurses
// without a limit). Nesting stops at kMaxNesting (200, for encoding too).
// Bytecode is NOT verified for safe execution (Lua 5.4 has no verifier):
// decode only payloads a gilrun peer encoded.
//
// The encoder stops the source state's GC while it walks: the count of a
// table's pairs must still hold when the pairs are written, and a GC cycle
// can clear weak table entries in between.
#include "codec/value_codec.h"

#include <string>

namespace gilrun {

bool copy_values(lua_State* from, int first, int count, lua_State* to, const char* root,
                 std::string* error) {
  std::string bytes;
  int decoded = 0;
  return encode_values(from, first, count, root, &bytes, error) &&
         decode_values(to, bytes.data(), bytes.size(), &decoded, error);
}

}  // namespace gilrun
