#include "repl.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "gilrun/gilrun.h"

namespace gilrun::cli {

void run_repl(Interpreter& interpreter) {
  const bool tty = isatty(STDIN_FILENO);
  std::string chunk;
  std::string line;
  while (true) {
    if (tty) {
      std::cout << (chunk.empty() ? "> " : ">> ") << std::flush;
    }
    if (!std::getline(std::cin, line)) break;
    chunk += line;
    const RunResult result = interpreter.eval(chunk);
    if (result.status == RunResult::incomplete) {
      chunk += "\n";
      continue;
    }
    chunk.clear();
    if (!result) {
      std::cerr << "gilrun: " << result.text() << "\n";
    }
  }
  if (tty) std::cout << "\n";
}

}  // namespace gilrun::cli
