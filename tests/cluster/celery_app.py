"""A small Python Celery app: the other side of gilrun's interop tests.

Broker and result backend come from the environment (GILRUN_TEST_BROKER,
GILRUN_TEST_BACKEND; the backend defaults to the broker), so a test points
it at its own private redis-server. Tasks are registered under plain names
("fib", "add", ...), the names a gilrun script or worker uses, not under the
module path Celery would give them by default.
"""
import os

from celery import Celery

broker = os.environ.get("GILRUN_TEST_BROKER", "redis://127.0.0.1:6379/0")
backend = os.environ.get("GILRUN_TEST_BACKEND", broker)

app = Celery("celery_app", broker=broker, backend=backend)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)
if os.environ.get("GILRUN_TEST_VISIBILITY"):  # seconds before an unacked task is restored
    app.conf.broker_transport_options = {"visibility_timeout": float(os.environ["GILRUN_TEST_VISIBILITY"])}


@app.task(name="fib")
def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


@app.task(name="add")
def add(a, b):
    return a + b


class TaskFailed(Exception):
    pass


@app.task(name="fail")
def fail(message="python task failed"):
    raise TaskFailed(message)


@app.task(name="echo")
def echo(x):
    return x


@app.task(name="noop")
def noop():
    return None


@app.task(name="where")
def where(i):
    """[i, the worker's NETNS_WORKER]: which host ran task i (tests/cluster/netns.sh)."""
    return [i, os.environ.get("NETNS_WORKER")]


@app.task(name="hang")
def hang():
    """The Python side of tasks.lua's hang: here it returns at once."""
    return "python"
