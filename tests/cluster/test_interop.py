"""gilrun and Python Celery on one private Redis, calling each other's tasks by name.

Run: python3 tests/cluster/test_interop.py build/bindings/cli/gilrun [TestClass ...]
(ctest runs one class per test as ClusterInterop.<Class>; exit 77 = skipped.)

Per class: one redis-server, and the workers it needs: a Python Celery worker
(queue "py", tests/cluster/celery_app.py) and/or a gilrun worker (queue
"celery", tests/cluster/tasks.lua). Python clients use the default queue
"celery", so `app.send_task("fib", args=[25])` reaches gilrun; gilrun
scripts send with {queue = "py"} to reach Python.
"""
import gc
import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TIMEOUT = 10


def read(name):
    with open(os.path.join(harness.HERE, name)) as f:
        return f.read()


def lua_show(value):
    """What show.lua prints for `value` after it crossed JSON -> Lua the obvious way."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list):
        items = [(i + 1, v) for i, v in enumerate(value)]
    else:
        items = list(value.items())
    parts = sorted(f"[{lua_show(k)}]={lua_show(v)}" for k, v in items if v is not None)
    return "{" + ",".join(parts) + "}"


class Cluster:
    """The processes one test class shares."""

    def __init__(self, with_python_worker, with_gilrun_worker):
        self.gilrun = os.environ["GILRUN"]
        self.work = harness.Workdir()
        self.redis = harness.RedisServer(self.work.path)
        self.url = self.redis.url()
        os.environ["GILRUN_TEST_BROKER"] = self.url
        os.environ["GILRUN_TEST_BACKEND"] = self.url
        self.python_worker = self.gilrun_worker = None
        if with_python_worker:  # started first: its imports overlap the gilrun worker's start
            self.python_worker = harness.CeleryWorker(self.work.path, self.url, queues="py", name="py-worker")
        if with_gilrun_worker:
            tasks = os.path.join(self.work.path, "tasks.lua")
            with open(tasks, "w") as f:
                f.write(read("show.lua") + read("tasks.lua"))
            before = self.redis.blocked_poppers()
            self.gilrun_worker = harness.GilrunWorker(self.work.path, self.gilrun, self.url, tasks,
                                                      queues="celery", concurrency=1)
            self.gilrun_worker.wait_ready(self.redis, before)
        if self.python_worker:
            self.python_worker.wait_ready()
        from celery import Celery
        self.app = Celery("interop-client", broker=self.url, backend=self.url)
        self.app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])

    def lua(self, body, timeout=30.0):
        """Run a gilrun script (show.lua + a connect prelude + body); returns (rc, stdout, stderr)."""
        path = os.path.join(self.work.path, "client.lua")
        prelude = ('local cluster = require "cluster"\n'
                   'local app = cluster.connect{broker = os.getenv("GILRUN_TEST_BROKER"),'
                   ' backend = os.getenv("GILRUN_TEST_BACKEND")}\n')
        with open(path, "w") as f:
            f.write(read("show.lua") + prelude + body)
        done = harness.run([self.gilrun, path], timeout=timeout, cwd=self.work.path)
        return done.returncode, done.stdout, done.stderr

    def close(self):
        # Results still referenced (by saved tracebacks, say) unsubscribe when
        # collected; let them do it while Redis is up, not retry for 30 s later.
        gc.collect()
        self.app.close()
        problems = []
        for worker in (self.gilrun_worker, self.python_worker):
            if worker and worker.proc.running():
                rc = worker.stop()
                if worker is self.gilrun_worker and rc != 0:
                    problems.append(f"the gilrun worker exited {rc} after SIGTERM (a warm shutdown exits 0)")
        if self.gilrun_worker and "Sanitizer" in self.gilrun_worker.proc.output():
            problems.append("the gilrun worker reported a sanitizer error")
        if problems:
            report = "\n".join(problems) + "\n" + self.gilrun_worker.proc.describe(80)
        self.redis.stop()
        self.work.cleanup()
        if problems:
            raise AssertionError(report)


class ClusterCase(harness.LoggedTestCase):
    python_worker = False
    gilrun_worker = False

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(cls.python_worker, cls.gilrun_worker)
        cls.app = cls.cluster.app

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()

    def lua_ok(self, body):
        rc, out, err = self.cluster.lua(body)
        self.assertEqual(rc, 0, f"gilrun script failed\nstdout:\n{out}\nstderr:\n{err}")
        return out


class CeleryBaseline(ClusterCase):
    """Python client -> Python worker through the harness: proves the harness
    and pins down what Celery itself does, the reference for the gilrun cases."""
    python_worker = True

    def test_result_by_name(self):
        self.assertEqual(self.app.send_task("fib", args=[25], queue="py").get(timeout=TIMEOUT), 75025)

    def test_failure_carries_traceback(self):
        r = self.app.send_task("fail", args=["boom"], queue="py")
        with self.assertRaises(Exception) as caught:
            r.get(timeout=TIMEOUT)
        self.assertIn("boom", str(caught.exception))
        self.assertEqual(r.state, "FAILURE")
        self.assertIn("TaskFailed: boom", r.traceback)

    def test_json_round_trip(self):
        value = {"list": [1, 2, 3], "map": {"a": {"b": [True, False]}}, "f": 2.5, "none": None}
        self.assertEqual(self.app.send_task("echo", args=[value], queue="py").get(timeout=TIMEOUT), value)


class PythonCallsGilrun(ClusterCase):
    """A Python Celery client calls tasks of a gilrun worker by name."""
    gilrun_worker = True

    def test_fib_by_name(self):
        self.assertEqual(self.app.send_task("fib", args=[25]).get(timeout=TIMEOUT), 75025)

    def test_several_args(self):
        self.assertEqual(self.app.send_task("add", args=[40, 2]).get(timeout=TIMEOUT), 42)

    def test_celery_remote_control_sees_the_gilrun_worker(self):
        # What `celery inspect ping` and `celery inspect registered` do, through the pidbox.
        replies = self.app.control.ping(timeout=TIMEOUT, limit=1)
        self.assertEqual(len(replies), 1, replies)
        (node, answer), = replies[0].items()
        self.assertTrue(node.startswith("gilrun@"), node)
        self.assertEqual(answer, {"ok": "pong"})
        registered = self.app.control.inspect(destination=[node], timeout=TIMEOUT, limit=1).registered()
        self.assertIn("fib", registered[node])
        self.assertIn("unmappable", registered[node])

    def test_kwargs_arrive_as_a_last_table(self):
        got = self.app.send_task("describe", args=[1], kwargs={"k": "v"}).get(timeout=TIMEOUT)
        self.assertEqual(got, '{["n"]=2,[1]=1,[2]={["k"]="v"}}')

    def test_countdown_priority_and_expiry_from_python(self):
        # countdown -> an ISO eta header; priority 5 -> the "celery\x06\x163" list
        self.assertEqual(self.app.send_task("add", args=[1, 2], countdown=0.2, priority=5).get(timeout=TIMEOUT), 3)
        from datetime import datetime, timedelta, timezone
        from celery.exceptions import TaskRevokedError
        r = self.app.send_task("add", args=[1, 2], expires=datetime.now(timezone.utc) - timedelta(seconds=5))
        with self.assertRaises(TaskRevokedError):
            r.get(timeout=TIMEOUT)
        self.assertEqual(r.state, "REVOKED")

    def test_error_is_a_failure_with_the_traceback(self):
        r = self.app.send_task("fail", args=["lua says no"])
        with self.assertRaises(Exception) as caught:
            r.get(timeout=TIMEOUT)
        self.assertIn("lua says no", str(caught.exception))
        self.assertEqual(r.state, "FAILURE")
        self.assertIsNotNone(r.traceback, "a FAILURE from gilrun must carry the worker's traceback")
        self.assertIn("stack traceback", r.traceback)
        self.assertIn("tasks.lua:", r.traceback)  # where the error was raised

    def test_json_to_lua_the_obvious_way(self):
        value = {"a": [1, 2.5, "s"], "b": {"c": None, "d": True, "e": False}, "nested": [[1], {"k": "v"}]}
        got = self.app.send_task("describe", args=[value]).get(timeout=TIMEOUT)
        self.assertEqual(got, "{" + ",".join(sorted([f"[1]={lua_show(value)}", '["n"]=1'])) + "}")

    def test_lua_to_json_the_obvious_way(self):
        got = self.app.send_task("build").get(timeout=TIMEOUT)
        self.assertEqual(got, {"list": [1, 2, 3], "map": {"x": "y"}, "deep": [{"a": 1}, {"b": 2.5}],
                               "flag": True, "off": False})

    def test_round_trip_and_null(self):
        value = {"list": [1, 2, 3], "map": {"a": {"b": ["x", "y"]}}, "f": 0.25, "s": "text"}
        self.assertEqual(self.app.send_task("echo", args=[value]).get(timeout=TIMEOUT), value)
        self.assertIsNone(self.app.send_task("echo", args=[None]).get(timeout=TIMEOUT))
        self.assertIsNone(self.app.send_task("noop").get(timeout=TIMEOUT))

    def test_unmappable_result_names_its_path(self):
        r = self.app.send_task("unmappable")
        with self.assertRaises(Exception) as caught:
            r.get(timeout=TIMEOUT)
        message = str(caught.exception)
        self.assertEqual(r.state, "FAILURE")
        self.assertIn("outer", message)
        self.assertIn("inner", message)


class Redelivery(ClusterCase):
    """A task taken by a gilrun worker that dies (kill -9 of its whole process
    group) is restored and run by a Python Celery worker: the unacked entry
    gilrun writes is one kombu can restore."""
    gilrun_worker = True

    def test_python_worker_restores_what_a_dead_gilrun_worker_held(self):
        r = self.cluster.redis.client()
        result = self.app.send_task("hang")
        harness.wait_until(lambda: r.hlen("unacked") == 1, TIMEOUT, "the gilrun worker to take the task",
                           [self.cluster.gilrun_worker.proc])
        (tag, taken_at), = r.zrange("unacked_index", 0, -1, withscores=True)
        os.killpg(self.cluster.gilrun_worker.proc.pid, signal.SIGKILL)
        self.cluster.gilrun_worker.stop()
        # The Python worker restores, when it starts, what was taken more than
        # its visibility timeout (1 s) ago.
        visibility = 1.0
        harness.wait_until(lambda: time.time() - taken_at > visibility + 0.05, 5, "the visibility timeout to pass")
        worker = harness.CeleryWorker(self.cluster.work.path, self.cluster.url, queues="celery", name="py-restorer",
                                      env={"GILRUN_TEST_VISIBILITY": str(visibility)})
        try:
            self.assertEqual(result.get(timeout=20), "python")
            self.assertEqual(r.hlen("unacked"), 0)
            self.assertEqual(r.zcard("unacked_index"), 0)
        finally:
            worker.stop()


class GilrunCallsPython(ClusterCase):
    """A gilrun script calls tasks of a Python Celery worker by name."""
    python_worker = True

    def test_result_by_name(self):
        out = self.lua_ok('print(app:send_task("add", {2, 3}, {queue = "py"}):result(10))\n'
                          'print(app:send_task("fib", {25}, {queue = "py"}):result(10))\n')
        self.assertEqual(out.split(), ["5", "75025"])

    def test_json_both_ways(self):
        # Lua -> JSON (Python's echo returns what it got) -> Lua.
        out = self.lua_ok('local v = app:send_task("echo", {{list = {1, 2, 3}, map = {x = "y", deep = {{a = 1}, {b = 2.5}}},'
                          ' flag = true, gone = nil}}, {queue = "py"}):result(10)\n'
                          'print(show(v))\n'
                          'print(app:send_task("echo", {cluster.null}, {queue = "py"}):result(10) == nil)\n'
                          'print(show(app:send_task("echo", {{1, cluster.null, 3}}, {queue = "py"}):result(10)))\n')
        lines = out.splitlines()
        self.assertEqual(lines[0], lua_show({"list": [1, 2, 3], "map": {"x": "y", "deep": [{"a": 1}, {"b": 2.5}]},
                                             "flag": True}))
        self.assertEqual(lines[1], "true")  # null <-> nil
        self.assertEqual(lines[2], "{[1]=1,[3]=3}")  # a null inside an array comes back as a hole

    def test_python_failure_is_a_lua_error_with_the_traceback(self):
        out = self.lua_ok('local ok, err = pcall(function() return app:send_task("fail", {"py says no"},'
                          ' {queue = "py"}):result(10) end)\n'
                          'print(ok)\nprint(tostring(err))\n')
        self.assertTrue(out.startswith("false\n"), out)
        self.assertIn("py says no", out)
        self.assertIn("TaskFailed", out)
        self.assertIn("Traceback (most recent call last)", out)

    def test_unmappable_argument_names_its_path(self):
        out = self.lua_ok('local ok, err = pcall(function() return app:send_task("echo", {{fine = 1, bad = {fn = print}}},'
                          ' {queue = "py"}) end)\n'
                          'print(ok)\nprint(tostring(err))\n')
        self.assertTrue(out.startswith("false\n"), out)
        self.assertIn("bad", out)
        self.assertIn("fn", out)


if __name__ == "__main__":
    harness.main()
