// top_screen.h — what `gilrun top` shows: one screen of text (for a
// terminal, or --once) and one JSON object per sample (--json).
#pragma once

#include <string>

#include "top_rates.h"

namespace gilrun::cli::top {

enum class SortKey { held, waiting, forced, id };
const char* sort_name(SortKey key);

struct ScreenState {
  int width = 100;
  int height = 40;  // rows available for the screen (0: no limit)
  SortKey sort = SortKey::held;
  bool paused = false;
  bool keys = false;  // show the key help line (interactive)
};

// render_screen() is the screen for the latest sample of `history`, lines
// cut to the width.
std::string render_screen(const History& history, const ScreenState& state);
// sample_json() is one line of JSON for the latest sample.
std::string sample_json(const History& history);

}  // namespace gilrun::cli::top
