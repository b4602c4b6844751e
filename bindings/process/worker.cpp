// worker.cpp — see worker.h.
#include "process/worker.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core.h"
#include "process/queue.h"
#include "support.h"
#include "codec/value_codec.h"

namespace gilrun {

Worker::~Worker() {
  if (fd >= 0) close(fd);
}

std::unique_ptr<Worker> start_worker(lua_State* L, ThreadState& ts, std::string* error) {
  const std::string& configured = core_of(L).options.worker_executable;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    *error = std::string("socketpair: ") + std::strerror(errno);
    return nullptr;
  }
  auto worker = std::make_unique<Worker>();
  worker->fd = fds[0];
  const SharedQueues queues = shared_queues();
  SpawnSpec spec;
  spec.argv = {configured.empty() ? "/proc/self/exe" : configured, "--process-worker",
               std::to_string(getpid()), std::to_string(fds[1])};
  spec.argv.insert(spec.argv.end(), queues.tokens.begin(), queues.tokens.end());
  spec.fds.emplace_back(fds[1], fds[1]);
  for (int fd : queues.fds) spec.fds.emplace_back(fd, fd);
  with_gil_released(ts, [&] { worker->child = ChildProcess::spawn(spec, error); });
  close(fds[1]);
  if (!worker->child) return nullptr;
  fcntl(worker->fd, F_SETFL, fcntl(worker->fd, F_GETFL) | O_NONBLOCK);
  return worker;
}

bool task_frame(lua_State* L, int fn, int nargs, std::string* frame, std::string* error) {
  std::string function, args;
  if (!encode_values(L, fn, 1, "function", &function, error) ||
      !encode_values(L, fn + 1, nargs, "args", &args, error))
    return false;
  *frame = make_frame('T', function, args, true);
  return true;
}

std::string exit_text(int exit_code) {
  if (exit_code < 0) return "was killed by " + signal_name(-exit_code);
  return "exited with status " + std::to_string(exit_code);
}

int push_reply(lua_State* L, const Frame& reply, pid_t pid, std::string* traceback) {
  traceback->clear();
  std::string message, error;
  if (reply.kind == 'R') {
    int count = 0;
    if (decode_values(L, reply.payload.data(), reply.payload.size(), &count, &error)) return count;
    message = "cannot receive the results of process " + std::to_string(pid) + ": " + error;
  } else if (reply.kind == 'E') {
    const std::string origin = "child process " + std::to_string(pid) + " ";
    if (decode_error(L, reply.payload.data(), reply.payload.size(), origin, traceback, &error))
      return -1;
    message = "cannot receive the error of process " + std::to_string(pid) + ": " + error;
  } else {
    message = "process " + std::to_string(pid) + " sent a corrupt reply";
  }
  lua_pushlstring(L, message.data(), message.size());
  return -1;
}

}  // namespace gilrun
