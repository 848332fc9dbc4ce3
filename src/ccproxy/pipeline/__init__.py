"""The hook model: declare reads/writes, order each stage as a DAG, run hooks in isolation."""

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.dag import order_hooks
from ccproxy.pipeline.executor import Stage, parse_override
from ccproxy.pipeline.hook import HookSpec, hook, spec_of
from ccproxy.pipeline.loader import load_hook, load_stage

__all__ = [
    "HookContext",
    "HookSpec",
    "Stage",
    "hook",
    "load_hook",
    "load_stage",
    "order_hooks",
    "parse_override",
    "spec_of",
]
