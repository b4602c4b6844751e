"""Processes for the cluster tests and benchmarks: a private redis-server,
gilrun workers and Python Celery workers, each with its output in a file.

Notes (why it is built this way):
- Never the system's Redis: every Redis here is `redis-server --port <free
  port> --bind 127.0.0.1 --dir <temp dir> --save '' --appendonly no`, started
  in the foreground as our child so we can always reap it.
- No orphans, no zombies: every child gets its own process group (celery's
  prefork pool lives in it too) and PR_SET_PDEATHSIG=SIGKILL, so a harness
  killed by ctest's timeout takes its direct children along. stop() signals
  the group, waits with a deadline, then SIGKILLs the group and reaps. All
  processes are also stopped atexit and on SIGTERM/SIGINT.
- No fixed sleeps: readiness is polled with a deadline (Redis by PING, a
  Celery worker by its "ready." line, a gilrun worker by a new BRPOP client
  on the server or its banner). A child that exits while we wait fails the
  wait at once, with its logs.
- Failures show the logs: describe() gives the tail of every process's
  stdout/stderr; LoggedTestCase prints it when a test fails.
"""
import atexit
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SKIP_RETURN_CODE = 77
HERE = os.path.dirname(os.path.abspath(__file__))
DEBIAN_PYTHON = "/usr/bin/python3"

_live = []  # every Proc not yet reaped, for the exit handlers
_started = []  # every Proc ever started, for failure reports


def missing_requirements():
    """Why the cluster tests cannot run here ("" when they can)."""
    try:
        import celery  # noqa: F401
        import redis  # noqa: F401
    except ImportError as e:
        return f"{sys.executable} cannot import celery/redis ({e}); apt-get install python3-celery python3-redis"
    if not shutil.which("redis-server"):
        return "redis-server not found; apt-get install redis-server"
    return ""


def reexec_with_celery_python():
    """Run again under Debian's python3 when this interpreter lacks celery
    (a pyenv python3 may come first on PATH)."""
    try:
        import celery  # noqa: F401
        return
    except ImportError:
        pass
    if os.path.exists(DEBIAN_PYTHON) and os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON):
        probe = subprocess.run([DEBIAN_PYTHON, "-c", "import celery, redis"], capture_output=True)
        if probe.returncode == 0:
            os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)


def skip_unless_runnable():
    reexec_with_celery_python()
    why = missing_requirements()
    if why:
        print(f"SKIP: {why}")
        sys.exit(SKIP_RETURN_CODE)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # Runs in the child between fork and exec.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ProcessExited(RuntimeError):
    pass


class Proc:
    """A child process with stdout/stderr in files under `logdir`."""

    def __init__(self, name, argv, logdir, cwd=None, env=None):
        self.name = name
        self.argv = list(argv)
        self.out_path = os.path.join(logdir, f"{name}.out")
        self.err_path = os.path.join(logdir, f"{name}.err")
        with open(self.out_path, "ab") as out, open(self.err_path, "ab") as err:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                cwd=cwd, env=env, start_new_session=True, preexec_fn=_die_with_parent)
        self.pid = self.popen.pid
        _live.append(self)
        _started.append(self)

    def running(self):
        return self.popen.poll() is None

    def check_alive(self, waiting_for):
        if not self.running():
            raise ProcessExited(
                f"{self.name} exited with {self.popen.returncode} while waiting for {waiting_for}\n"
                + self.describe())

    def output(self):
        text = []
        for path in (self.out_path, self.err_path):
            try:
                with open(path, "r", errors="replace") as f:
                    text.append(f.read())
            except FileNotFoundError:
                pass
        return "".join(text)

    def describe(self, lines=40):
        parts = [f"--- {self.name} (pid {self.pid}, {'running' if self.running() else 'exit ' + str(self.popen.returncode)}): {' '.join(self.argv)}"]
        for path in (self.out_path, self.err_path):
            try:
                with open(path, "r", errors="replace") as f:
                    tail = f.read().splitlines()[-lines:]
            except FileNotFoundError:
                tail = []
            parts.append(f"    {os.path.basename(path)}:")
            parts.extend("    | " + line for line in tail)
        return "\n".join(parts)

    def send_signal(self, sig):
        if self.running():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        return self.popen.wait(timeout)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal the process group, wait up to `timeout`, then SIGKILL it; always reaps."""
        if self.running():
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)  # the leader and anything left in its group
        except (ProcessLookupError, PermissionError):
            pass
        self.popen.wait()
        if self in _live:
            _live.remove(self)
        return self.popen.returncode


def stop_all():
    for proc in reversed(list(_live)):
        proc.stop(timeout=3.0)


def _on_signal(signum, frame):
    stop_all()
    sys.exit(128 + signum)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, _on_signal)


def wait_until(predicate, timeout, what, procs=()):
    """Poll `predicate` (backing off from 5 ms to 100 ms) until it returns a
    true value, which is returned; fail after `timeout` seconds or as soon as
    one of `procs` has exited."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = predicate()
        if value:
            return value
        for proc in procs:
            proc.check_alive(what)
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}\n" + describe(procs))
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def describe(procs):
    return "\n".join(p.describe() for p in procs)


class RedisServer:
    """A private redis-server on a free loopback port in its own temp dir."""

    def __init__(self, workdir, name="redis", port=None):
        import redis
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.host = "127.0.0.1"
        self.port = port
        self.proc = None
        self._redis = redis
        self.start()

    def start(self, timeout=10.0):
        for attempt in range(5):
            port = self.port or free_port()
            self.proc = Proc(self.name, [
                "redis-server", "--port", str(port), "--bind", self.host, "--dir", self.dir,
                "--save", "", "--appendonly", "no", "--daemonize", "no"], self.dir)
            try:
                wait_until(lambda: self._ping(port), timeout, f"{self.name} on port {port}", [self.proc])
                self.port = port
                return
            except ProcessExited:
                if "Address already in use" in self.proc.output() and self.port is None:
                    self.proc.stop()
                    continue  # someone took the free port first: pick another
                raise
        raise RuntimeError("could not find a free port for redis-server")

    def _ping(self, port):
        try:
            return self._redis.Redis(host=self.host, port=port, socket_timeout=1).ping()
        except self._redis.exceptions.ConnectionError:
            return False

    def stop(self):
        if self.proc:
            self.proc.stop()

    def restart(self):
        """Stop and start again on the same port (the data is gone: no persistence)."""
        self.stop()
        self.start()

    def url(self, db=0):
        return f"redis://{self.host}:{self.port}/{db}"

    def client(self, db=0):
        return self._redis.Redis(host=self.host, port=self.port, db=db)

    def blocked_poppers(self):
        """How many clients are blocked in BRPOP (workers waiting for work)."""
        return sum(1 for c in self.client().client_list() if c.get("cmd") == "brpop")


def celery_env(broker, backend=None, extra=None):
    env = dict(os.environ)
    env.update(extra or {})
    env["GILRUN_TEST_BROKER"] = broker
    env["GILRUN_TEST_BACKEND"] = backend or broker
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class CeleryWorker:
    """`python3 -m celery -A celery_app worker --pool=prefork` on tests/cluster/celery_app.py."""

    def __init__(self, workdir, broker, queues="celery", concurrency=1, name="celery", backend=None,
                 extra=(), fast_start=True, loglevel="info", env=None):
        argv = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=prefork",
                f"--concurrency={concurrency}", "-Q", queues, "-n", f"{name}@%h", f"--loglevel={loglevel}"]
        if fast_start:
            argv += ["--without-mingle", "--without-gossip"]  # mingle waits 1 s for neighbours
        argv += list(extra)
        self.proc = Proc(name, argv, workdir, cwd=HERE, env=celery_env(broker, backend, env))

    def wait_ready(self, timeout=30.0, redis_server=None, before=0):
        """Ready when it logs "ready." (at loglevel info), or, given
        `redis_server`, when one more client than `before` blocks in BRPOP."""
        def ready():
            if redis_server is not None and redis_server.blocked_poppers() > before:
                return True
            return re.search(r"\bready\.", self.proc.output())
        wait_until(ready, timeout, f"{self.proc.name} to be ready", [self.proc])
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        return self.proc.stop(sig, timeout)


class GilrunWorker:
    """`gilrun worker --broker=... tasks.lua`."""

    def __init__(self, workdir, gilrun, broker, tasks, queues="celery", concurrency=1, name="gilrun-worker",
                 backend=None, extra=(), env=None, loglevel="info"):
        argv = [gilrun, "worker", f"--broker={broker}", f"--queues={queues}",
                f"--concurrency={concurrency}", f"--loglevel={loglevel}"]
        if backend:
            argv.append(f"--result-backend={backend}")
        argv += list(extra) + [tasks]
        self.proc = Proc(name, argv, workdir, cwd=workdir, env=env)

    def wait_ready(self, redis_server, before, timeout=30.0, poppers=1):
        """Ready when `poppers` more clients than `before` block in BRPOP on
        `redis_server` (the worker consumes), or the worker logs 'ready'."""
        def ready():
            return (redis_server.blocked_poppers() >= before + poppers
                    or re.search(r"\bready\b", self.proc.output(), re.I))
        wait_until(ready, timeout, f"{self.proc.name} to consume", [self.proc])
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        return self.proc.stop(sig, timeout)


def run(argv, timeout=30.0, env=None, cwd=None):
    """Run a short command to completion (reaped even on timeout)."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


class Workdir:
    """A temp dir kept (and named) when KEEP_CLUSTER_TEST_DIR is set."""

    def __init__(self, prefix="gilrun-cluster-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def cleanup(self):
        if not os.environ.get("KEEP_CLUSTER_TEST_DIR"):
            shutil.rmtree(self.path, ignore_errors=True)


class LoggedTestCase(unittest.TestCase):
    """Prints the logs of every process still running, or started during
    the test, when the test fails."""

    def run(self, result=None):
        before = (len(result.failures), len(result.errors)) if result else (0, 0)
        first = len(_started)
        outcome = super().run(result)
        if result and (len(result.failures), len(result.errors)) != before:
            shown = [p for p in _started if p in _live or _started.index(p) >= first]
            sys.stderr.write(f"\n==== logs for {self.id()}\n{describe(shown)}\n")
        return outcome


def main(tests_module_name="__main__"):
    """unittest.main, but exit SKIP_RETURN_CODE when every test was skipped
    (ctest then shows the test as skipped, with the reasons printed)."""
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("gilrun")
    parser.add_argument("tests", nargs="*")
    args = parser.parse_args()
    os.environ["GILRUN"] = os.path.abspath(args.gilrun)
    skip_unless_runnable()
    loader = unittest.TestLoader()
    module = sys.modules[tests_module_name]
    suite = (loader.loadTestsFromNames(args.tests, module) if args.tests
             else loader.loadTestsFromModule(module))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        sys.exit(1)
    # A class skipped in setUpClass adds a skip but no test run.
    ran = result.testsRun - sum(1 for test, _ in result.skipped if isinstance(test, unittest.TestCase))
    if result.skipped and ran == 0:
        for test, why in result.skipped:
            print(f"SKIP {test.id()}: {why}")
        sys.exit(SKIP_RETURN_CODE)
    sys.exit(0)
