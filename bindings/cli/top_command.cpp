/*
 * top_command.cpp — the `gilrun top` loop.
 *
 * Notes
 * -----
 * - Targets are found by their page files (monitor::list_pages); a pid with
 *   several interpreters shows its first. A page of another user cannot be
 *   opened (mode 0600): that is the error the user sees.
 * - The loop samples the page every interval and keeps a minute of samples
 *   (top_rates.h). With a terminal on stdout it draws on the alternate
 *   screen and reads keys from a raw stdin (q quits, s cycles the sort, p
 *   pauses the redraw); SIGWINCH and SIGINT only set flags that the poll()
 *   between samples notices (EINTR). Without a terminal it prints screen
 *   after screen, plain text.
 * - When the target exits, the last screen says so and top exits 0.
 */
#include "top_command.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include "command_line.h"
#include "monitor/publisher.h"
#include "monitor/reader.h"
#include "text_format.h"
#include "top_screen.h"

namespace gilrun::cli::top {
namespace {

const char* kUsage =
    "usage: gilrun top [PID] [--once] [--json] [--interval=DUR] [--count=N]\n"
    "  with no PID: list the running gilrun processes (of this user)\n"
    "  PID         watch that process's GIL, redrawn every interval (default 500ms)\n"
    "  --once      print one screen (rates over one interval, default 1s) and exit\n"
    "  --json      print one JSON sample per interval (until the process exits,\n"
    "              or N samples with --count=N)\n"
    "  keys: q quit, s change the sort, p pause\n";

struct Args {
  int pid = 0;
  bool once = false, json = false;
  std::optional<std::chrono::nanoseconds> interval;
  long count = -1;
};

volatile sig_atomic_t g_resized = 0;
volatile sig_atomic_t g_quit = 0;

bool parse_args(int argc, char** argv, Args* a) {
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--once") a->once = true;
    else if (arg == "--json") a->json = true;
    else if (arg.rfind("--interval=", 0) == 0) {
      a->interval = parse_duration(arg.substr(11));
      if (!a->interval) {
        std::cerr << "gilrun top: --interval: '" << arg.substr(11)
                  << "' is not a duration (e.g. 500ms, 1s)\n";
        return false;
      }
    } else if (arg.rfind("--count=", 0) == 0) {
      a->count = std::strtol(arg.c_str() + 8, nullptr, 10);
      if (a->count <= 0) {
        std::cerr << "gilrun top: --count must be a positive number\n";
        return false;
      }
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (!arg.empty() && arg.find_first_not_of("0123456789") == std::string::npos && a->pid == 0) {
      a->pid = std::atoi(arg.c_str());
    } else {
      std::cerr << "gilrun top: unexpected argument '" << arg << "'\n" << kUsage;
      return false;
    }
  }
  return true;
}

int list_processes() {
  const auto pages = monitor::list_pages();
  if (pages.empty()) {
    std::cout << "no running gilrun process of yours publishes its GIL\n";
    return 0;
  }
  std::cout << format("%-8s %-10s %8s %12s %8s  %s\n", "pid", "policy", "threads", "switches",
                      "waiting", "command");
  int last_pid = 0;
  for (const auto& f : pages) {
    if (f.pid == last_pid) continue;  // the first interpreter of each process
    last_pid = f.pid;
    monitor::PageView view;
    std::string error;
    if (!view.open(f.path, &error)) continue;
    const monitor::Sample s = view.sample();
    size_t alive = 0;
    for (const auto& t : s.threads) alive += t.state != monitor::SlotState::exited;
    std::string command;
    if (FILE* in = std::fopen(("/proc/" + std::to_string(f.pid) + "/cmdline").c_str(), "r")) {
      int c;
      while ((c = std::fgetc(in)) != EOF && command.size() < 60) command += c == 0 ? ' ' : static_cast<char>(c);
      std::fclose(in);
    }
    std::cout << format("%-8d %-10s %8zu %12llu %8llu  %s\n", f.pid, s.policy.c_str(), alive,
                        static_cast<unsigned long long>(s.switches),
                        static_cast<unsigned long long>(s.waiting), command.c_str());
  }
  std::cout << "watch one with: gilrun top PID\n";
  return 0;
}

// open_target() maps the first page of `pid`, or says why it cannot.
bool open_target(int pid, monitor::PageView* view) {
  const std::string dir = monitor::runtime_dir();
  const std::string prefix = "gilrun-" + std::to_string(pid) + "-";
  std::string best, error;
  int best_seq = -1;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      int seq = 0;
      if (name.rfind(prefix, 0) != 0 || std::sscanf(name.c_str() + prefix.size(), "%d.gilmon", &seq) != 1) continue;
      if (best_seq < 0 || seq < best_seq) {
        best_seq = seq;
        best = dir + "/" + name;
      }
    }
    closedir(d);
  }
  if (best.empty()) {
    std::cerr << "gilrun top: no gilrun process " << pid << " publishes its GIL in " << dir
              << " (not running, not gilrun, or started with publishing off)\n";
    return false;
  }
  if (!view->open(best, &error)) {
    std::cerr << "gilrun top: cannot read process " << pid << "'s GIL: " << error
              << (errno == EACCES ? " (it belongs to another user)" : "") << "\n";
    return false;
  }
  if (view->target_gone()) {
    std::cerr << "gilrun top: process " << pid << " has exited\n";
    return false;
  }
  return true;
}

// wait_for() sleeps `ns` or until a key, a resize or a quit; returns the key
// read (0: none).
int wait_for(std::chrono::nanoseconds ns, bool keys) {
  pollfd fd{STDIN_FILENO, POLLIN, 0};
  const int ms = static_cast<int>(std::max<int64_t>(1, ns.count() / 1000000));
  const int n = poll(&fd, keys ? 1 : 0, ms);
  if (n > 0 && (fd.revents & POLLIN) != 0) {
    char c = 0;
    if (read(STDIN_FILENO, &c, 1) == 1) return static_cast<unsigned char>(c);
  }
  return 0;
}

class Terminal {
 public:
  explicit Terminal(bool interactive) : interactive_(interactive) {
    if (!interactive_) return;
    raw_ = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0;
    if (raw_) {
      termios t = saved_;
      t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      t.c_cc[VMIN] = 0;
      t.c_cc[VTIME] = 0;
      tcsetattr(STDIN_FILENO, TCSANOW, &t);
    }
    std::fputs("\x1b[?1049h\x1b[?25l", stdout);  // alternate screen, hide cursor
  }
  ~Terminal() {
    if (!interactive_) return;
    std::fputs("\x1b[?25h\x1b[?1049l", stdout);
    std::fflush(stdout);
    if (raw_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  bool keys() const { return raw_; }
  void size(int* width, int* height) const {
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
      *width = ws.ws_col;
      *height = ws.ws_row;
    }
  }
  void draw(const std::string& screen) {
    std::string out = "\x1b[H";
    for (size_t i = 0; i < screen.size(); ++i) {
      if (screen[i] == '\n') out += "\x1b[K";  // clear the rest of each line
      out += screen[i];
    }
    out += "\x1b[J";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
  }

 private:
  bool interactive_;
  bool raw_ = false;
  termios saved_{};
};

void on_signal(int sig) {
  if (sig == SIGWINCH) g_resized = 1;
  else g_quit = 1;
}

void install_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: poll() returns EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(SIGWINCH, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int watch(const Args& a, monitor::PageView& view) {
  History history;
  const auto interval = a.interval.value_or(a.once ? std::chrono::seconds(1) : std::chrono::milliseconds(500));
  history.add(view.sample());
  if (a.once) {
    wait_for(interval, false);
    history.add(view.sample());
    ScreenState st;
    st.height = 0;
    std::cout << render_screen(history, st);
    return 0;
  }
  if (a.json) {
    for (long n = 0; a.count < 0 || n < a.count; ++n) {
      wait_for(interval, false);
      history.add(view.sample());
      std::cout << sample_json(history) << std::endl;
      if (history.latest().exited) break;
    }
    return 0;
  }
  const bool interactive = isatty(STDOUT_FILENO) != 0;
  install_handlers();
  ScreenState st;
  st.height = interactive ? 40 : 0;
  int status = 0;
  std::string last_screen;
  {
    Terminal term(interactive);
    st.keys = term.keys();
    while (!g_quit) {
      const int key = wait_for(interval, term.keys());
      if (key == 'q' || key == 'Q') break;
      if (key == 's') st.sort = static_cast<SortKey>((static_cast<int>(st.sort) + 1) % 4);
      if (key == 'p') st.paused = !st.paused;
      if (key == 0 && !g_resized) history.add(view.sample());
      g_resized = 0;
      if (st.paused && key != 'p') continue;
      term.size(&st.width, &st.height);
      last_screen = render_screen(history, st);
      if (interactive) {
        term.draw(last_screen);
      } else {
        std::cout << last_screen << std::endl;
      }
      if (history.latest().exited) break;
    }
  }
  if (history.latest().exited) {
    if (interactive) std::cout << last_screen;
    std::cout << "gilrun top: process " << history.latest().pid << " has exited" << std::endl;
  }
  return status;
}

}  // namespace

int run_top(int argc, char** argv) {
  Args a;
  if (!parse_args(argc, argv, &a)) return 2;
  if (a.pid == 0) return list_processes();
  monitor::PageView view;
  if (!open_target(a.pid, &view)) return 1;
  return watch(a, view);
}

}  // namespace gilrun::cli::top
