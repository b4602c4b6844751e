// bench/json.h — `gilrun bench --json=FILE`: every figure of every run, the
// aggregated cells, the settings and the machine facts, as one JSON object.
//
//   {"tool": "gilrun bench", "machine": {...}, "settings": {...},
//    "experiments": [{"name", "title", "script", "figures": [...],
//      "chart_figures": [...], "policies": [...],
//      "configurations": [{"policy", "interval", "threads", "variant", "status",
//        "error", "argv": [...],
//        "cells": {FIGURE: {"median", "min", "max", "runs": [...]}
//                        | {"na": "why"} | {"failed": "what"}}}]}]}
//
// "interval" is null (and "threads" too) when the experiment has no such
// axis; "status" is "ok" or "failed".
#pragma once

#include <ostream>
#include <vector>

#include "bench/cells.h"
#include "bench/machine.h"

namespace gilrun::cli::bench {

void write_json(std::ostream& out, const MachineFacts& machine, const Flags& options,
                const std::vector<ExperimentResults>& results);

}  // namespace gilrun::cli::bench
