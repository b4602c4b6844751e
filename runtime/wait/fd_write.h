// fd_write.h — writing to a descriptor without ever raising SIGPIPE. This
// file is private to the runtime.
//
// A write to a pipe or socket whose reader is gone raises SIGPIPE, and its
// default action ends the process without a word (exit status 141): a pool
// worker killed while idle took its parent down that way. gilrun does not
// ignore SIGPIPE process-wide, because a script writing to stdout must still
// end quietly when its reader goes (`gilrun script | head -1`, as lua5.4
// does); instead every write the runtime and the bindings make to a pipe or
// socket goes through here, and a gone reader is the error EPIPE.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace gilrun {

// write_nosignal() is write(2) that fails with EPIPE instead of raising
// SIGPIPE. Sockets use send(MSG_NOSIGNAL); other descriptors block SIGPIPE
// in the calling thread around the write and consume the one it raised.
// Async-signal-safe; sets errno as write(2) does.
ssize_t write_nosignal(int fd, const void* data, size_t size);

}  // namespace gilrun
