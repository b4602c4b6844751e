// fork_server.h — starting gilrun children by fork from a small,
// single-threaded server process instead of by posix_spawn + exec. This file
// is private to the runtime.
//
// Why: a spawned worker pays exec, dynamic linking and the binary's static
// initialisation on every start (~2-3 ms here, see the notes in
// fork_server.cpp); a fork of a process that has already paid them costs a
// few hundred microseconds. A fork of the running VM is never safe (other
// threads hold locks), so, as Python's multiprocessing "forkserver" does, the
// first child that wants it starts `gilrun --fork-server`: a fresh process
// with one thread and no VM, which forks each requested child and reports
// its pid back. The requested program is the same hidden mode a spawned child
// would run (process_entry.h), entered in the forked child without exec.
//
// Ownership: a forked child is the server's child, not ours. The server
// reaps it at once (no zombies) and writes its wait status to a pipe whose
// read end we hold; we signal it through a pidfd the server opened (no pid
// reuse race). ChildProcess::adopt() wraps both, so callers see a
// ChildProcess like any other.
//
// Lifetime: the server dies with its parent (die_with_parent, and end of
// file on its socket); its children die with it (their own die_with_parent,
// their parent being the server). A server that cannot start, or dies and
// cannot be restarted, makes start_child() fall back to posix_spawn.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "process/child_process.h"

namespace gilrun {

enum class StartMethod { spawn, forkserver };

// parse_start_method() reads "spawn" or "forkserver"; false otherwise.
bool parse_start_method(const std::string& name, StartMethod* method);
const char* start_method_name(StartMethod method);

// The spec of a child, made for the parent it will have (the hidden modes
// take their parent's pid on the command line): getpid() when spawned, the
// server's pid when forked.
using MakeSpec = std::function<SpawnSpec(pid_t parent)>;

// start_child() starts a child of `executable` (the gilrun binary) by the
// given method; forkserver falls back to spawn when the server cannot be
// used (it cannot start, it refuses, the spec sets env or cwd, or it passes
// more descriptors than one message carries). Null with *error on failure.
// Blocks briefly: call it with the GIL released.
std::unique_ptr<ChildProcess> start_child(StartMethod method, const std::string& executable,
                                          const MakeSpec& make, std::string* error);

// fork_servers() counts the servers started and not yet stopped (each holds
// a ChildProcess, see ChildProcess::live()): the tests' leak check.
std::size_t fork_servers();

// serve_forks() is the server: `gilrun --fork-server PARENT_PID FD`. Each
// forked child runs child_main(argc, argv) with the argv it was asked for and
// exits with its result. Returns the server's exit status.
int serve_forks(int argc, char** argv, int (*child_main)(int, char**));

}  // namespace gilrun
