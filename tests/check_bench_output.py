#!/usr/bin/env python3
"""check_bench_output.py — checks what `gilrun bench --json --chart` wrote.

usage: check_bench_output.py JSON SVG [--experiments=a,b] [--policies=p,q]
                             [--all-ok] [--cpu2-order]

Prints every problem found and exits 1 if there was any. Checked:
- the JSON: machine facts (cores, CPU model, kernel, gilrun and Lua
  versions); each expected experiment present, with a configuration per
  expected policy; every configuration has a cell for every figure the
  experiment reported (a value, n/a with a reason, or failed with a reason);
  values have min <= median <= max and one entry per run; every ratio and
  percentage figure (*_ratio, *_pct) is positive; every configuration has its
  runs' load averages and the CPUs other processes kept busy (others_cpus,
  one number >= 0 per run), and disturbed says whether one exceeded a quarter
  of the cores; --quick results say they are indicative only; with --all-ok every
  configuration's status is ok; with --cpu2-order, on a machine with two or
  more cores, cpu2's threads_ratio under isolated (or procs_ratio under
  interval, when processes are available) is below interval's threads_ratio.
- the SVG: parses as XML; a panel (<g class="experiment">) per experiment,
  in it one bar group (<g class="policy">) per policy, each with at least one
  bar or an n/a / failed mark.
"""
import json
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def main(argv):
    paths = [a for a in argv if not a.startswith("--")]
    opts = dict(a[2:].split("=", 1) if "=" in a else (a[2:], "")
                for a in argv if a.startswith("--"))
    json_path, svg_path = paths
    problems = []
    data = json.load(open(json_path))
    check_json(data, opts, problems)
    check_svg(svg_path, data, problems)
    for p in problems:
        print("problem:", p)
    print("checked %d experiments: %s" % (len(data["experiments"]),
                                          "ok" if not problems else "%d problems" % len(problems)))
    return 1 if problems else 0


def check_json(data, opts, problems):
    machine = data.get("machine", {})
    for key in ("cores", "cpu_model", "kernel", "gilrun_version", "lua_version", "date"):
        if not machine.get(key):
            problems.append("machine fact %r missing" % key)
    repeat = data["settings"]["repeat"]
    if data["settings"].get("indicative_only") != data["settings"]["quick"]:
        problems.append("settings: indicative_only must be true exactly for --quick")
    names = [e["name"] for e in data["experiments"]]
    expected = opts.get("experiments", "").split(",") if opts.get("experiments") else []
    if expected and names != expected:
        problems.append("experiments %s, expected %s" % (names, expected))
    policies = opts["policies"].split(",") if opts.get("policies") else None
    for e in data["experiments"]:
        configs = e["configurations"]
        if policies and sorted(set(c["policy"] for c in configs)) != sorted(policies):
            problems.append("%s: policies %s, expected %s" % (e["name"], e["policies"], policies))
        if not e["figures"] and any(c["status"] == "ok" for c in configs):
            problems.append("%s: no figures" % e["name"])
        for c in configs:
            where = "%s %s %s" % (e["name"], c["policy"], c["variant"])
            if "all-ok" in opts and c["status"] != "ok":
                problems.append("%s: status %s (%s)" % (where, c["status"], c["error"]))
            loads = c.get("load")
            if not isinstance(loads, list) or len(loads) != repeat \
                    or any(not isinstance(x, (int, float)) for x in loads):
                problems.append("%s: load %r is not one number per run" % (where, loads))
            others = c.get("others_cpus")
            if not isinstance(others, list) or len(others) != repeat \
                    or any(not isinstance(x, (int, float)) or x < 0 for x in others):
                problems.append("%s: others_cpus %r is not one number >= 0 per run" % (where, others))
            elif c.get("disturbed") != any(x > 0.25 * machine.get("cores", 0) for x in others):
                problems.append("%s: disturbed %r but others_cpus %r on %s cores"
                                % (where, c.get("disturbed"), others, machine.get("cores")))
            if not c["argv"] or "--gil=" + c["policy"] not in c["argv"]:
                problems.append("%s: argv %s lacks the policy flag" % (where, c["argv"]))
            for figure in e["figures"]:
                cell = c["cells"].get(figure)
                if cell is None:
                    problems.append("%s: no cell for %s" % (where, figure))
                elif "median" in cell:
                    if not cell["min"] <= cell["median"] <= cell["max"]:
                        problems.append("%s %s: min/median/max out of order"
                                        % (where, figure))
                    if len(cell["runs"]) != repeat:
                        problems.append("%s %s: %d runs, expected %d"
                                        % (where, figure, len(cell["runs"]), repeat))
                    if figure.endswith(("_ratio", "_pct")) and cell["median"] <= 0:
                        problems.append("%s %s: ratio %s not positive"
                                        % (where, figure, cell["median"]))
                elif not (cell.get("na") or cell.get("failed")):
                    problems.append("%s %s: cell without value or reason: %s"
                                    % (where, figure, cell))
    if "cpu2-order" in opts and machine.get("cores", 0) >= 2:
        check_cpu2_order(data, problems)


def check_cpu2_order(data, problems):
    cpu2 = next((e for e in data["experiments"] if e["name"] == "cpu2"), None)
    if cpu2 is None:
        problems.append("--cpu2-order: no cpu2 experiment")
        return
    cells = {c["policy"]: c["cells"] for c in cpu2["configurations"]}
    interval = cells.get("interval", {}).get("threads_ratio", {}).get("median")
    parallel = [cells.get("isolated", {}).get("threads_ratio", {}).get("median"),
                cells.get("interval", {}).get("procs_ratio", {}).get("median")]
    parallel = [p for p in parallel if p is not None]
    if interval is None or not parallel:
        problems.append("cpu2: no interval threads_ratio or no isolated/process ratio")
    elif min(parallel) >= interval:
        problems.append("cpu2: isolated/processes ratio %s not below interval's %s"
                        % (min(parallel), interval))


def check_svg(path, data, problems):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        problems.append("SVG does not parse: %s" % error)
        return
    panels = {g.get("data-experiment"): g for g in root.iter(SVG + "g")
              if g.get("class") == "experiment"}
    for e in data["experiments"]:
        panel = panels.get(e["name"])
        if panel is None:
            problems.append("SVG: no panel for %s" % e["name"])
            continue
        groups = [g.get("data-policy") for g in panel.iter(SVG + "g") if g.get("class") == "policy"]
        if groups != e["policies"]:
            problems.append("SVG %s: bar groups %s, expected one per policy %s"
                            % (e["name"], groups, e["policies"]))
        for g in panel.iter(SVG + "g"):
            marks = [x for x in g if x.get("class") in ("bar", "mark")]
            if g.get("class") == "policy" and not marks:
                problems.append("SVG %s %s: empty bar group" % (e["name"], g.get("data-policy")))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
