"""``hub demo``: a simulated district on a local broker, with a live view of the hub."""

from hub.demo.options import DemoOptions
from hub.demo.run import run_demo

__all__ = ["DemoOptions", "run_demo"]
