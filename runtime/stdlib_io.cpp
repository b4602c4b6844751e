// stdlib_io.cpp — GIL-releasing io.read/lines/popen, file:read/lines and
// os.execute, with liolib's semantics (Lua 5.4.4's liolib.c and loslib.c
// are the reference; the structure and names follow them).
//
// Notes about the implementation
// ------------------------------
// Reading. Every read format ("n", "l", "L", "a", a count, 0) is liolib's
// algorithm over a Cursor instead of raw getc/fread. The bytes go into a
// luaL_Buffer exactly as liolib's do: the buffer's space is prepared with
// the GIL held, filled by the Cursor (plain C, no Lua API, maybe without
// the GIL), and only then added and pushed. Nothing with a destructor lives
// in these frames, so a Lua error raised by luaL_* can never jump over one.
//
// The Cursor takes bytes from the FILE's stdio buffer while the GIL is held:
// bytes already buffered cost no system call and no GIL transition (like
// CPython's BufferedReader, which drops the GIL only around the read()
// system call). Only when the buffer is empty does it need the kernel, and
// what it does then depends on the descriptor, classified once per call:
//   - a pipe, socket or character device (terminal) may block for ever: it
//     first polls without waiting; if nothing is there it waits in wait_fd()
//     (io_wait.h: GIL dropped and poll() in an OS thread, the hub's watcher
//     in a green thread, Ctrl-C ends it), then refills the buffer with one
//     getc(): a single read() of what has arrived, which does not block
//     (unless another process drains the same descriptor in between).
//     libuv's watcher makes the descriptor non-blocking; the flag belongs to
//     the open file, which may be shared with other processes (a terminal,
//     the parent's pipe), so the Cursor takes it off again after the wait.
//   - a regular file (or anything else) is read at disk speed: the Cursor
//     drops the GIL at its first refill and keeps it dropped until the end
//     of the chunk it fills (at most LUAL_BUFFERSIZE bytes, or the count of
//     read(n)), calling stdio as liolib does.
// Knowing that the buffer is empty needs glibc's FILE fields _IO_read_ptr
// and _IO_read_end (what getc_unlocked itself looks at). The Cursor only
// ever ungetc()s the byte it just read, which glibc undoes by moving
// _IO_read_ptr back, so the FILE never enters glibc's backup area, where
// those two fields would not tell the whole story. Without glibc, every
// descriptor is treated as a regular file: reads still drop the GIL, but a
// green thread reading a pipe blocks its OS thread.
//
// Sharing a FILE between threads. The FILE's own lock (flockfile) is held
// while the Cursor touches it, never while it takes the GIL or waits in
// wait_fd(): whoever holds the GIL may block in a stdio call on the same
// FILE (f:close, f:write, fflush(NULL)), which is safe only if the lock's
// holder can finish without the GIL. Another thread may close the handle
// while the reader waits; liolib marks a handle closed (closef = NULL) with
// the GIL held before it fcloses the FILE, so after every wait the Cursor
// checks the mark, with the GIL held, before it touches the FILE again, and
// the read raises "attempt to use a closed file". ThreadSanitizer cannot see
// glibc's FILE lock, so the few lines that read FILE fields directly are
// compiled uninstrumented (kNoTsan); glibc's own accesses never are.
//
// os.execute runs system() with the GIL dropped. In a green thread (or a
// thread whose green threads are alive) system() runs on a helper OS thread
// and the caller waits on an eventfd through wait_fd(), so the other green
// threads keep running; a green.kill() ends the wait (the command itself
// runs on). Like lua.c's, Ctrl-C goes to the command: glibc's system()
// ignores SIGINT in the caller while it runs.
//
// popen handles get their own close function, so that pclose() (which
// waits for the command to exit) drops the GIL too; io.popen is otherwise
// liolib's. io.open drops the GIL around fopen(), which blocks on a fifo
// until its other end is opened. Writes, os.remove and os.rename are stock.
#include "stdlib_io.h"

#include <fcntl.h>
#include <lua.hpp>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <clocale>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "green/green_thread.h"
#include "green/hub.h"
#include "wait/io_wait.h"
#include "thread_state.h"

namespace gilrun {
namespace {

// ---------------------------------------------------------------------------
// The FILE's buffer (glibc only).

#if defined(__SANITIZE_THREAD__)
#define GILRUN_NO_TSAN __attribute__((no_sanitize("thread"), noinline))
#else
#define GILRUN_NO_TSAN
#endif

#if defined(__GLIBC__)
constexpr bool kKnowsBuffer = true;
// buffered() is how many bytes getc can return without a system call.
GILRUN_NO_TSAN size_t buffered(FILE* f) {
  return f->_IO_read_ptr < f->_IO_read_end ? static_cast<size_t>(f->_IO_read_end - f->_IO_read_ptr)
                                           : 0;
}
GILRUN_NO_TSAN const char* buffered_data(FILE* f) { return f->_IO_read_ptr; }
// consume() drops `n` <= buffered(f) bytes, as n getc_unlocked calls would.
GILRUN_NO_TSAN void consume(FILE* f, size_t n) { f->_IO_read_ptr += n; }
// readable() is false for a FILE opened for writing only (glibc's private
// _IO_NO_READS flag, 0x4 since libio began): getc fails at once there,
// without a read() to wait for, whatever the descriptor allows.
GILRUN_NO_TSAN bool readable(FILE* f) { return (f->_flags & 0x0004) == 0; }
#else
constexpr bool kKnowsBuffer = false;
size_t buffered(FILE*) { return 0; }
const char* buffered_data(FILE*) { return nullptr; }
void consume(FILE*, size_t) {}
bool readable(FILE*) { return true; }
#endif

GILRUN_NO_TSAN int getc_raw(FILE* f) { return getc_unlocked(f); }
GILRUN_NO_TSAN bool ferror_raw(FILE* f) { return ferror_unlocked(f) != 0; }

// ---------------------------------------------------------------------------
// Source and Cursor.

enum class Kind { unknown, file, stream };
enum class Stop { none, closed, interrupted };

// Source is one read call's file. Fields are the calling thread's own.
struct Source {
  Source(luaL_Stream* p, ThreadState* t) : stream(p), f(p->f), ts(t) {}
  luaL_Stream* const stream;
  FILE* const f;
  ThreadState* const ts;  // null: not an interpreter thread (never drop)
  Kind kind = Kind::unknown;
  int fd = -1;
  int saved_errno = 0;  // errno of the last failed stdio call
  Stop stop = Stop::none;

  // open() tells whether the handle still owns f. GIL held.
  bool open() const { return stream->closef != nullptr && stream->f == f; }
  void classify() {
    kind = Kind::file;
    fd = fileno(f);
    struct stat st {};
    if (!kKnowsBuffer || ts == nullptr || fd < 0 || !readable(f) || fstat(fd, &st) != 0) return;
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode)) kind = Kind::stream;
  }
};

// Cursor reads bytes from a Source for one chunk of one format. Created and
// finish()ed with the GIL held; in between it may drop the GIL (regular
// files) or wait (streams). Trivially destructible on purpose.
class Cursor {
 public:
  explicit Cursor(Source& s) : s_(s) {
    if (s_.stop == Stop::none) lock();
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  // finish() unlocks the FILE and takes the GIL back if it was dropped.
  void finish() {
    if (locked_) unlock();
    if (released_) {
      s_.ts->gil().take(*s_.ts);
      released_ = false;
      if (!s_.open()) s_.stop = Stop::closed;
    }
  }

  // get() is the next byte, or EOF (end, error, or the read was stopped).
  int get() {
    if (s_.stop != Stop::none) return EOF;
    if (buffered(s_.f) > 0) return getc_raw(s_.f);
    return refill();
  }
  // unget() pushes back the byte get() just returned.
  void unget(int c) {
    if (c != EOF && locked_) ungetc(c, s_.f);
  }

  // line() copies bytes up to a newline (consumed, not copied), the end of
  // the file or `cap` bytes; *last is '\n', EOF, or 0 when cap was reached.
  size_t line(char* out, size_t cap, int* last) {
    size_t i = 0;
    while (i < cap) {
      if (s_.stop != Stop::none) break;
      if (const size_t avail = buffered(s_.f)) {
        const char* data = buffered_data(s_.f);
        const size_t k = std::min(avail, cap - i);
        if (const void* nl = std::memchr(data, '\n', k)) {
          const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - data);
          std::memcpy(out + i, data, len);
          consume(s_.f, len + 1);
          *last = '\n';
          return i + len;
        }
        std::memcpy(out + i, data, k);
        consume(s_.f, k);
        i += k;
        continue;
      }
      const int c = refill();
      if (c == EOF || c == '\n') {
        *last = c;
        return i;
      }
      out[i++] = static_cast<char>(c);
    }
    *last = s_.stop != Stop::none ? EOF : 0;
    return i;
  }

  // block() copies up to n bytes; fewer only at the end of the file, on an
  // error, or when the read was stopped.
  size_t block(char* out, size_t n) {
    size_t i = 0;
    while (i < n && s_.stop == Stop::none) {
      if (const size_t avail = buffered(s_.f)) {
        const size_t k = std::min(avail, n - i);
        std::memcpy(out + i, buffered_data(s_.f), k);
        consume(s_.f, k);
        i += k;
        continue;
      }
      if (!prepare()) break;
      if (s_.kind != Kind::stream) {  // blocking is brief: let stdio do the rest
        const size_t want = n - i;
        const size_t got = fread_unlocked(out + i, 1, want, s_.f);
        if (got < want && ferror_raw(s_.f)) s_.saved_errno = errno;
        return i + got;
      }
      const int c = getc_raw(s_.f);
      if (c == EOF) {
        note_eof();
        break;
      }
      out[i++] = static_cast<char>(c);
    }
    return i;
  }

 private:
  void lock() {
    flockfile(s_.f);
    locked_ = true;
  }
  void unlock() {
    funlockfile(s_.f);
    locked_ = false;
  }
  void note_eof() {
    if (ferror_raw(s_.f)) s_.saved_errno = errno;
  }

  // refill() reads the next byte when the buffer is empty.
  int refill() {
    if (!prepare()) return EOF;
    const int c = getc_raw(s_.f);
    if (c == EOF) note_eof();
    return c;
  }

  // prepare() makes the next stdio call safe to block in: a stream has
  // data (or its end) waiting, or the GIL is dropped. False if the read
  // was stopped (interrupted, or the handle closed meanwhile).
  bool prepare() {
    if (s_.kind == Kind::unknown) s_.classify();
    if (s_.ts == nullptr || released_) return true;
    if (s_.kind == Kind::file) {
      s_.ts->gil().drop(*s_.ts);
      released_ = true;
      return true;
    }
    // A stream. Loop: while this one waited, another green thread may have
    // emptied the same descriptor.
    while (buffered(s_.f) == 0) {
      pollfd p{s_.fd, POLLIN, 0};
      if (poll(&p, 1, 0) > 0) break;  // already readable: no GIL transition
      unlock();
      // The hub's watcher (uv_poll_init) makes the descriptor non-blocking,
      // and the flag belongs to the open file, which the FILE may share
      // with other processes (a terminal, the parent's pipe): put it back.
      const int flags = Hub::active(*s_.ts) ? fcntl(s_.fd, F_GETFL) : -1;
      const WaitStatus waited = wait_fd(*s_.ts, s_.fd, POLLIN, std::nullopt);
      if (flags >= 0 && (flags & O_NONBLOCK) == 0) fcntl(s_.fd, F_SETFL, flags);
      if (waited == WaitStatus::interrupted) {
        s_.stop = Stop::interrupted;
        return false;
      }
      if (!s_.open()) {
        s_.stop = Stop::closed;
        return false;
      }
      lock();
    }
    return true;
  }

  Source& s_;
  bool locked_ = false;
  bool released_ = false;  // the GIL is dropped (regular files)
};

// ---------------------------------------------------------------------------
// liolib's helpers.

constexpr const char* kInput = "_IO_input";  // liolib's registry key
constexpr int kMaxArgLine = 250;             // liolib's MAXARGLINE
constexpr int kMaxLenNum = 200;              // liolib's L_MAXLENNUM

luaL_Stream* to_stream(lua_State* L) {
  return static_cast<luaL_Stream*>(luaL_checkudata(L, 1, LUA_FILEHANDLE));
}

bool is_closed(const luaL_Stream* p) { return p->closef == nullptr; }

luaL_Stream* to_open_stream(lua_State* L) {
  luaL_Stream* p = to_stream(L);
  if (is_closed(p)) luaL_error(L, "attempt to use a closed file");
  return p;
}

// aux_close() closes the handle at index 1 through its own close function.
int aux_close(lua_State* L) {
  luaL_Stream* p = to_stream(L);
  const lua_CFunction close = p->closef;
  p->closef = nullptr;  // mark the stream closed
  return close(L);
}

// raise_stop() raises the error for a read that could not finish.
[[noreturn]] void raise_stop(lua_State* L, const Source& s) {
  if (s.stop == Stop::closed) luaL_error(L, "attempt to use a closed file");
  if (s.ts != nullptr && kill_pending(*s.ts)) luaL_error(L, "killed");  // green.kill()
  luaL_error(L, "interrupted");
  __builtin_unreachable();
}

// ---------------------------------------------------------------------------
// READ (liolib's read_number, test_eof, read_line, read_all, read_chars).

struct Numeral {  // liolib's RN
  Cursor* in;
  int c = 0;  // look-ahead
  int n = 0;
  char buff[kMaxLenNum + 1];
};

bool next_char(Numeral& rn) {
  if (rn.n >= kMaxLenNum) {  // too long: invalidate the numeral
    rn.buff[0] = '\0';
    return false;
  }
  rn.buff[rn.n++] = static_cast<char>(rn.c);
  rn.c = rn.in->get();
  return true;
}

bool accept2(Numeral& rn, const char* set) {
  return (rn.c == set[0] || rn.c == set[1]) && next_char(rn);
}

int read_digits(Numeral& rn, bool hex) {
  int count = 0;
  while ((hex ? std::isxdigit(rn.c) : std::isdigit(rn.c)) && next_char(rn)) ++count;
  return count;
}

int read_number(lua_State* L, Source& src) {
  const char decimal[2] = {lua_getlocaledecpoint(), '.'};
  Numeral rn;
  Cursor in(src);
  rn.in = &in;
  int count = 0;
  bool hex = false;
  do {
    rn.c = in.get();
  } while (std::isspace(rn.c));
  accept2(rn, "-+");
  if (accept2(rn, "00")) {
    if (accept2(rn, "xX")) {
      hex = true;
    } else {
      count = 1;  // the initial '0' is a digit
    }
  }
  count += read_digits(rn, hex);
  if (accept2(rn, decimal)) count += read_digits(rn, hex);
  if (count > 0 && accept2(rn, hex ? "pP" : "eE")) {
    accept2(rn, "-+");
    read_digits(rn, false);
  }
  in.unget(rn.c);
  in.finish();
  rn.buff[rn.n] = '\0';
  if (src.stop != Stop::none) raise_stop(L, src);
  if (lua_stringtonumber(L, rn.buff)) return 1;
  lua_pushnil(L);  // "result" to be removed
  return 0;
}

int test_eof(lua_State* L, Source& src) {
  Cursor in(src);
  const int c = in.get();
  in.unget(c);
  in.finish();
  if (src.stop != Stop::none) raise_stop(L, src);
  lua_pushliteral(L, "");
  return c != EOF;
}

int read_line(lua_State* L, Source& src, bool chop) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  int c = 0;
  do {  // a chunk of at most LUAL_BUFFERSIZE bytes at a time
    char* space = luaL_prepbuffer(&b);
    Cursor in(src);
    const size_t n = in.line(space, LUAL_BUFFERSIZE, &c);
    in.finish();
    luaL_addsize(&b, n);
  } while (c != EOF && c != '\n');
  if (src.stop != Stop::none) raise_stop(L, src);
  if (!chop && c == '\n') luaL_addchar(&b, '\n');
  luaL_pushresult(&b);
  return c == '\n' || lua_rawlen(L, -1) > 0;
}

void read_all(lua_State* L, Source& src) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  size_t n = 0;
  do {
    char* space = luaL_prepbuffer(&b);
    Cursor in(src);
    n = in.block(space, LUAL_BUFFERSIZE);
    in.finish();
    luaL_addsize(&b, n);
  } while (n == LUAL_BUFFERSIZE);
  if (src.stop != Stop::none) raise_stop(L, src);
  luaL_pushresult(&b);
}

int read_chars(lua_State* L, Source& src, size_t count) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char* space = luaL_prepbuffsize(&b, count);  // the whole block, as liolib
  Cursor in(src);
  const size_t n = in.block(space, count);
  in.finish();
  if (src.stop != Stop::none) raise_stop(L, src);
  luaL_addsize(&b, n);
  luaL_pushresult(&b);
  return n > 0;
}

// g_read() is liolib's: formats from index `first`, results pushed above.
int g_read(lua_State* L, luaL_Stream* p, int first) {
  int nargs = lua_gettop(L) - 1;
  Source src(p, ThreadState::current());
  int n = 0;
  int success = 0;
  clearerr(src.f);
  if (nargs == 0) {
    success = read_line(L, src, true);
    n = first + 1;  // one result
  } else {
    // stack space for all results and for auxlib's buffer
    luaL_checkstack(L, nargs + LUA_MINSTACK, "too many arguments");
    success = 1;
    for (n = first; nargs-- && success; n++) {
      if (lua_type(L, n) == LUA_TNUMBER) {
        const auto l = static_cast<size_t>(luaL_checkinteger(L, n));
        success = l == 0 ? test_eof(L, src) : read_chars(L, src, l);
      } else {
        const char* format = luaL_checkstring(L, n);
        if (*format == '*') format++;  // the optional '*' of Lua 5.1-5.3
        switch (*format) {
          case 'n':
            success = read_number(L, src);
            break;
          case 'l':
            success = read_line(L, src, true);
            break;
          case 'L':
            success = read_line(L, src, false);
            break;
          case 'a':
            read_all(L, src);
            success = 1;  // always succeeds
            break;
          default:
            return luaL_argerror(L, n, "invalid format");
        }
      }
    }
  }
  if (ferror(src.f)) {
    if (src.saved_errno != 0) errno = src.saved_errno;
    return luaL_fileresult(L, 0, nullptr);
  }
  if (!success) {
    lua_pop(L, 1);  // the last result
    luaL_pushfail(L);
  }
  return n - first;
}

int io_read(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kInput);  // pushed: not a format
  auto* p = static_cast<luaL_Stream*>(lua_touserdata(L, -1));
  if (is_closed(p)) luaL_error(L, "default %s file is closed", "input");
  return g_read(L, p, 1);
}

int f_read(lua_State* L) { return g_read(L, to_open_stream(L), 2); }

// io_readline() is the iterator of lines: upvalues are the file, the
// number of formats, whether to close the file at the end, the formats.
int io_readline(lua_State* L) {
  auto* p = static_cast<luaL_Stream*>(lua_touserdata(L, lua_upvalueindex(1)));
  int n = static_cast<int>(lua_tointeger(L, lua_upvalueindex(2)));
  if (is_closed(p)) return luaL_error(L, "file is already closed");
  lua_settop(L, 1);
  luaL_checkstack(L, n, "too many arguments");
  for (int i = 1; i <= n; i++) lua_pushvalue(L, lua_upvalueindex(3 + i));
  n = g_read(L, p, 2);
  if (lua_toboolean(L, -n)) return n;
  if (n > 1) return luaL_error(L, "%s", lua_tostring(L, -n + 1));  // the error message
  if (lua_toboolean(L, lua_upvalueindex(3))) {  // the generator opened the file
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));
    aux_close(L);
  }
  return 0;
}

void aux_lines(lua_State* L, bool to_close) {
  const int n = lua_gettop(L) - 1;  // formats
  luaL_argcheck(L, n <= kMaxArgLine, kMaxArgLine + 2, "too many arguments");
  lua_pushvalue(L, 1);
  lua_pushinteger(L, n);
  lua_pushboolean(L, to_close);
  lua_rotate(L, 2, 3);  // file, n, to_close before the formats
  lua_pushcclosure(L, io_readline, 3 + n);
}

int f_lines(lua_State* L) {
  to_open_stream(L);
  aux_lines(L, false);
  return 1;
}

// io_lines: upvalue 1 is liolib's io.open, which makes the handles that
// liolib's own close function closes.
int io_lines(lua_State* L) {
  bool to_close = false;
  if (lua_isnone(L, 1)) lua_pushnil(L);
  if (lua_isnil(L, 1)) {  // the default input
    lua_getfield(L, LUA_REGISTRYINDEX, kInput);
    lua_replace(L, 1);
    to_open_stream(L);
  } else {
    const char* filename = luaL_checkstring(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushliteral(L, "r");
    lua_call(L, 2, 3);  // file | fail, message, errno
    if (lua_isnil(L, -3)) {
      const int error = static_cast<int>(lua_tointeger(L, -1));
      return luaL_error(L, "cannot open file '%s' (%s)", filename, std::strerror(error));
    }
    lua_pop(L, 2);
    lua_replace(L, 1);
    to_close = true;
  }
  aux_lines(L, to_close);
  if (!to_close) return 1;
  lua_pushnil(L);        // state
  lua_pushnil(L);        // control
  lua_pushvalue(L, 1);   // the file, the to-be-closed variable
  return 4;
}

// ---------------------------------------------------------------------------
// Commands: io.popen's close and os.execute.

// run_released() runs `blocking` with the GIL dropped (when there is one to
// drop) and returns with errno as `blocking` left it.
template <class F>
void run_released(ThreadState* ts, F&& blocking) {
  if (ts == nullptr) {
    blocking();
    return;
  }
  int error = 0;
  ts->gil().drop(*ts);
  blocking();
  error = errno;
  ts->gil().take(*ts);
  errno = error;
}

int io_pclose(lua_State* L) {
  FILE* f = to_stream(L)->f;
  int status = 0;
  run_released(ThreadState::current(), [&] {
    errno = 0;
    status = pclose(f);
  });
  return luaL_execresult(L, status);
}

// new_stream() pushes a file handle that closes with `close` once its FILE
// is set (liolib's newprefile and newfile).
luaL_Stream* new_stream(lua_State* L, lua_CFunction close) {
  auto* p = static_cast<luaL_Stream*>(lua_newuserdatauv(L, sizeof(luaL_Stream), 0));
  p->closef = nullptr;  // a closed handle until the stream exists
  luaL_setmetatable(L, LUA_FILEHANDLE);
  p->f = nullptr;
  p->closef = close;
  return p;
}

int io_popen(lua_State* L) {
  const char* command = luaL_checkstring(L, 1);
  const char* mode = luaL_optstring(L, 2, "r");
  luaL_Stream* p = new_stream(L, &io_pclose);
  luaL_argcheck(L, (mode[0] == 'r' || mode[0] == 'w') && mode[1] == '\0', 2, "invalid mode");
  std::fflush(nullptr);
  p->f = popen(command, mode);
  return p->f == nullptr ? luaL_fileresult(L, 0, command) : 1;
}

// io.open: liolib's, but fopen() runs without the GIL: opening a fifo
// blocks until the other end opens it too, and that other end may be a
// command that another Lua thread is about to start.
int io_fclose(lua_State* L) {
  const int ok = std::fclose(to_stream(L)->f) == 0;
  return luaL_fileresult(L, ok, nullptr);
}

bool valid_open_mode(const char* mode) {  // liolib's l_checkmode
  if (*mode == '\0' || std::strchr("rwa", *mode++) == nullptr) return false;
  if (*mode == '+') ++mode;
  return std::strspn(mode, "b") == std::strlen(mode);
}

int io_open(lua_State* L) {
  const char* filename = luaL_checkstring(L, 1);
  const char* mode = luaL_optstring(L, 2, "r");
  luaL_Stream* p = new_stream(L, &io_fclose);
  luaL_argcheck(L, valid_open_mode(mode), 2, "invalid mode");
  FILE* f = nullptr;
  run_released(ThreadState::current(), [&] { f = std::fopen(filename, mode); });
  p->f = f;
  return f == nullptr ? luaL_fileresult(L, 0, filename) : 1;
}

// Command is a system() call handed to a helper thread.
struct Command {
  std::string text;
  bool has_text = false;
  int status = -1;
  int error = 0;
  std::atomic<bool> done{false};
  int event = -1;  // an eventfd, written when done
  ~Command() {
    if (event >= 0) ::close(event);
  }
};

// system_on_helper() runs system() on a helper thread and waits for it
// through wait_fd(), so that green threads keep running. False if it could
// not start (the caller runs system() itself). GIL held.
bool system_on_helper(ThreadState& ts, const char* text, int* status, int* error,
                      WaitStatus* wait) noexcept {
  try {
    auto command = std::make_shared<Command>();
    command->has_text = text != nullptr;
    if (text != nullptr) command->text = text;
    command->event = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (command->event < 0) return false;
    std::thread([command] {
      errno = 0;
      command->status = system(command->has_text ? command->text.c_str() : nullptr);
      command->error = errno;
      command->done.store(true, std::memory_order_release);
      const uint64_t one = 1;
      (void)!::write(command->event, &one, sizeof one);
    }).detach();
    *wait = WaitStatus::ready;
    while (!command->done.load(std::memory_order_acquire)) {
      *wait = wait_fd(ts, command->event, POLLIN, std::nullopt);
      if (*wait == WaitStatus::interrupted) return true;  // the command runs on
      uint64_t count = 0;
      (void)!::read(command->event, &count, sizeof count);
    }
    *status = command->status;
    *error = command->error;
    return true;
  } catch (...) {  // no memory or no thread
    return false;
  }
}

int os_execute(lua_State* L) {
  const char* text = luaL_optstring(L, 1, nullptr);
  ThreadState* ts = ThreadState::current();
  int status = -1;
  int error = 0;
  WaitStatus wait = WaitStatus::ready;
  if (ts == nullptr || !Hub::active(*ts) || !system_on_helper(*ts, text, &status, &error, &wait)) {
    run_released(ts, [&] {
      errno = 0;
      status = system(text);
    });
    error = errno;
  }
  if (wait == WaitStatus::interrupted) {
    luaL_error(L, "%s", kill_pending(*ts) ? "killed" : "interrupted");
  }
  if (text == nullptr) {
    lua_pushboolean(L, status);  // true if there is a shell
    return 1;
  }
  errno = error;
  return luaL_execresult(L, status);
}

void set_function(lua_State* L, const char* name, lua_CFunction fn) {
  lua_pushcfunction(L, fn);
  lua_setfield(L, -2, name);
}

}  // namespace

void install_blocking_io(lua_State* L) {
  lua_getglobal(L, "io");
  if (lua_istable(L, -1)) {
    set_function(L, "open", io_open);
    lua_pushcfunction(L, io_open);  // for io.lines
    lua_pushcclosure(L, io_lines, 1);
    lua_setfield(L, -2, "lines");
    set_function(L, "read", io_read);
    set_function(L, "popen", io_popen);
  }
  lua_pop(L, 1);
  luaL_getmetatable(L, LUA_FILEHANDLE);
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "__index");  // the methods
    if (lua_istable(L, -1)) {
      set_function(L, "read", f_read);
      set_function(L, "lines", f_lines);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_getglobal(L, "os");
  if (lua_istable(L, -1)) set_function(L, "execute", os_execute);
  lua_pop(L, 1);
}

}  // namespace gilrun
