// bytecode_check.h — checks a lua_dump chunk from bytes that may be hostile,
// before lua_load sees it. This file is private to the runtime.
//
// Lua 5.4's lundump.c allocates every vector (code, constants, upvalues,
// nested functions, debug info) at its declared size before reading it, and
// recurses once per nested function without a limit: a few crafted bytes can
// ask it for gigabytes or overflow the C stack. check_bytecode() walks the
// chunk the way lundump reads it, needing no Lua state, and accepts it only if
// lundump would read it exactly to its end with every vector backed by input
// bytes. It checks structure, NOT safety: Lua 5.4 has no bytecode verifier,
// so a chunk that passes may still crash the VM when run — load only what a
// gilrun peer encoded. The value codec's decoder (codec/decode.cpp) checks
// every FUNCTION it decodes; the fuzzer (tests/fuzz/) targets this check.
#pragma once

#include <cstddef>

namespace gilrun {

// check_bytecode() returns true when data[0, size) is a chunk lundump reads
// in full, and sets *nupvalues to its main function's upvalue count; else it
// returns false with *problem set ("truncated bytecode", "not Lua bytecode",
// ...). Functions nested more than 200 deep are refused.
bool check_bytecode(const char* data, size_t size, size_t* nupvalues, const char** problem);

}  // namespace gilrun
