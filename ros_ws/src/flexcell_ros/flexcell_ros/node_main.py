"""Process entry shared by the nodes: init a context, build the node (parameters first), spin, exit cleanly."""

from __future__ import annotations

import faulthandler
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from flexcell_ros.params import ParamError, validate_params

# Exit code of a node whose parameters are invalid (same as the CLI's bad-input code).
EXIT_BAD_PARAMS = 2
# Longest time between a SIGINT/SIGTERM and the spin loop noticing it (s).
STOP_POLL_S = 0.1


def node_params(node: Node, node_name: str) -> Any:
    """All parameters handed to ``node`` (``--params-file`` / ``-p``), validated against its schema.

    The node must be created with ``automatically_declare_parameters_from_overrides=True`` so that every
    override, including misspelt ones, shows up here and is rejected by the strict schema.
    """
    params: dict[str, Any] = dict(node.get_parameters_by_prefix(""))
    values = {name: p.value for name, p in params.items()}
    return validate_params(node_name, values, f"node {node.get_fully_qualified_name()}")


def run_node(
    factory: Callable[[rclpy.Context], Node], argv: Sequence[str] | None = None, threads: int = 4
) -> int:
    """Run one node in this process until SIGINT/SIGTERM; returns the process exit code.

    ``threads`` > 1 spins a MultiThreadedExecutor (for nodes whose callbacks block, waiting on other
    nodes); ``threads`` = 1 a SingleThreadedExecutor. rclpy's multi-threaded executor costs a lot per
    callback (measured: 65-70 % of a core for a node taking 500 Hz /joint_states, against 20 % single-
    threaded), and that load starves the node's other Python threads of the GIL: nodes on the fast topics
    spin one thread and keep their long work in threads of their own.

    Parameter errors raise ParamError inside ``factory`` before any publisher or service exists; they are
    printed as one line and give exit code 2.
    """
    # `kill -USR1 <pid>` writes every thread's stack to the node's log: how a stuck node is diagnosed.
    faulthandler.register(signal.SIGUSR1)
    faulthandler.enable()  # a crash (SIGSEGV, SIGABRT) also leaves its stacks in the log
    # SIGINT/SIGTERM only set a flag that the spin loop below reads at least every STOP_POLL_S. rclpy's own
    # handlers (which wake the wait set) were seen to miss a SIGTERM now and then, leaving the node spinning
    # until it was killed; a flag cannot be missed, whatever the node is doing when the signal comes.
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    context = rclpy.Context()
    rclpy.init(
        args=list(argv) if argv is not None else sys.argv,
        context=context,
        signal_handler_options=SignalHandlerOptions.NO,
    )
    node: Node | None = None
    try:
        try:
            node = factory(context)
        except ParamError as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            return EXIT_BAD_PARAMS
        executor: Executor = (
            MultiThreadedExecutor(num_threads=threads, context=context)
            if threads > 1
            else SingleThreadedExecutor(context=context)
        )
        executor.add_node(node)
        try:
            while not stop.is_set() and context.ok():
                executor.spin_once(timeout_sec=STOP_POLL_S)
            # Shut the context down first, as rclpy's handler does: the node's own threads and timers see
            # it and stop before their node and handles are destroyed below.
            rclpy.try_shutdown(context=context)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        except Exception:
            # A signal can shut the context down while a wait set is being built (RCLError): that is the
            # same clean stop; anything else with a live context is a real error.
            if context.ok():
                raise
        finally:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            executor.shutdown(timeout_sec=1.0)
        return 0
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
