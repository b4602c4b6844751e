// stdlib_io.h — the standard library's blocking calls, made to release the
// GIL. This file is private to the runtime.
//
// Stock liolib and loslib hold the GIL while they wait: one thread in
// io.read() on a pipe or a terminal, or in os.execute(), would freeze every
// other thread. install_blocking_io() replaces the functions that wait with
// versions that keep liolib's exact results and errors (Lua 5.4.4's
// files.lua is the judge) but drop the GIL while they wait, as CPython's
// file objects and os.system do; in a green thread a read of a pipe, socket
// or terminal waits in the hub instead of blocking its OS thread.
//
//   io.read, io.lines, io.popen, file:read, file:lines   (io_wait.h's wait_fd)
//   os.execute                                            (system(), GIL released)
//
// The file handles stay liolib's own luaL_Stream userdata (metatable
// LUA_FILEHANDLE): every other io function keeps working on them.
#pragma once

struct lua_State;

namespace gilrun {

// install_blocking_io() replaces io.read, io.lines, io.popen, the read and
// lines methods of file handles, and os.execute in L's libraries (io and os
// must be loaded). GIL held.
void install_blocking_io(lua_State* L);

}  // namespace gilrun
