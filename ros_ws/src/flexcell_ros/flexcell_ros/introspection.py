"""Basic graph introspection on the rclpy graph API (ros2cli is not available as wheels).

``topics()`` lists topics with types, ``echo()`` prints messages of a topic, ``call()`` calls a service with
a request given as a YAML mapping. Message types are imported from their ``pkg/msg/Name`` strings.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from typing import Any

import rclpy
import yaml
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


def import_type(type_name: str) -> Any:
    """``"pkg/msg/Name"`` (or ``srv``/``action``) to the Python class; ValueError if it cannot be found."""
    parts = type_name.split("/")
    if len(parts) != 3:
        raise ValueError(f"{type_name!r}: expected pkg/msg/Name")
    pkg, kind, name = parts
    try:
        return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    except (ImportError, AttributeError):
        raise ValueError(f"{type_name}: type not importable in this environment") from None


def to_plain(msg: Any) -> Any:
    """A message as plain dicts/lists/numbers (for YAML printing)."""
    if hasattr(msg, "get_fields_and_field_types"):
        return {f: to_plain(getattr(msg, f)) for f in msg.get_fields_and_field_types()}
    if isinstance(msg, list | tuple):
        return [to_plain(v) for v in msg]
    if hasattr(msg, "tolist"):
        return msg.tolist()
    return msg


def fill(msg: Any, values: dict[str, Any], where: str = "request") -> Any:
    """Set ``values`` (nested dicts for nested messages) on ``msg``; ValueError names an unknown field."""
    fields = msg.get_fields_and_field_types()
    for key, value in values.items():
        if key not in fields:
            raise ValueError(f"{where}.{key}: no such field (fields: {', '.join(fields)})")
        current = getattr(msg, key)
        if isinstance(value, dict) and hasattr(current, "get_fields_and_field_types"):
            fill(current, value, f"{where}.{key}")
        else:
            setattr(msg, key, value)
    return msg


class _Session:
    """A short-lived node in its own context (for one CLI command)."""

    def __init__(self, name: str) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node: Node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while not done() and time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)
        return done()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def topics(max_discovery_s: float = 6.0, settle_s: float = 0.7) -> list[tuple[str, list[str]]]:
    """``(topic, [types])`` of the graph once discovery settled.

    Discovery on loopback takes 0.1-2 s: wait until topics other than this node's own appear and their
    list stays unchanged for ``settle_s`` (at most ``max_discovery_s``).
    """
    own = {"/rosout", "/parameter_events"}
    s = _Session("flexcell_topics")
    seen: list[set[str]] = [set()]
    changed = [time.monotonic()]

    def settled() -> bool:
        names = {n for n, _ in s.node.get_topic_names_and_types()}
        if names != seen[0]:
            seen[0], changed[0] = names, time.monotonic()
        return bool(names - own) and time.monotonic() - changed[0] > settle_s

    try:
        s.spin_until(settled, max_discovery_s)
        return sorted(s.node.get_topic_names_and_types())
    finally:
        s.close()


def _wait_type(
    s: _Session, lookup: Callable[[], list[tuple[str, list[str]]]], name: str, timeout_s: float
) -> str:
    found: list[str] = []

    def done() -> bool:
        found[:] = [t[0] for n, t in lookup() if n == name]
        return bool(found)

    if not s.spin_until(done, timeout_s):
        raise ValueError(f"{name}: not found in the ROS graph within {timeout_s:.0f} s")
    return found[0]


def echo(topic: str, count: int, emit: Callable[[str], None], timeout_s: float = 10.0) -> int:
    """Print ``count`` messages of ``topic`` as YAML through ``emit``; returns how many arrived."""
    s = _Session("flexcell_echo")
    try:
        msg_type = import_type(_wait_type(s, s.node.get_topic_names_and_types, topic, timeout_s))
        got: list[Any] = []
        lock = threading.Lock()

        def on_msg(msg: Any) -> None:
            with lock:
                if len(got) < count:
                    got.append(msg)
                    emit(yaml.safe_dump(to_plain(msg), sort_keys=False, width=110) + "---")

        s.node.create_subscription(msg_type, topic, on_msg, 10)
        s.spin_until(lambda: len(got) >= count, timeout_s)
        return len(got)
    finally:
        s.close()


def call(service: str, request_yaml: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """Call ``service`` with a YAML mapping as request; returns the response as plain data."""
    s = _Session("flexcell_call")
    try:
        srv_type = import_type(_wait_type(s, s.node.get_service_names_and_types, service, timeout_s))
        values = yaml.safe_load(request_yaml) if request_yaml.strip() else {}
        if not isinstance(values, dict):
            raise ValueError(f"request {request_yaml!r}: must be a YAML mapping")
        request = fill(srv_type.Request(), values)
        client = s.node.create_client(srv_type, service)
        if not client.wait_for_service(timeout_sec=timeout_s):
            raise ValueError(f"{service}: not available")
        fut = client.call_async(request)
        if not s.spin_until(fut.done, timeout_s):
            raise ValueError(f"{service}: no answer within {timeout_s:.0f} s")
        return dict(to_plain(fut.result()))
    finally:
        s.close()
