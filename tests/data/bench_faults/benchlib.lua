-- benchlib.lua — present so `gilrun bench` accepts this directory
-- (GILRUN_BENCH_SCRIPTS) as an experiment directory. These fixtures stand in
-- for real experiments to show how a run reports configurations that crash,
-- fail, hang or get interrupted (tests/bench_cli_test.cpp).
return {}
