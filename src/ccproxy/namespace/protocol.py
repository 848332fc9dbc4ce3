"""The messages ccproxy (`jail.py`) and its helper inside the jail (`inside.py`) exchange.

Each message is one JSON object with an `op` key, carried by `control.Channel` (fds travel beside
it). Both sides build and read them only through these classes, so a field renamed on one side is
a type error on the other instead of a `KeyError` inside the jail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any, ClassVar

from ccproxy.errors import NamespaceError


class Op(StrEnum):
    HELLO = "hello"  # helper -> host: namespaces exist, send the spec
    SPEC = "spec"  # host -> helper: everything set-up needs
    STARTED = "started"  # helper -> host: the command runs
    ERROR = "error"  # helper -> host: set-up failed
    EXIT = "exit"  # helper -> host: the command's exit status
    CONNECT = "connect"  # helper -> host: a jail connection to one of ccproxy's ports
    CONNECTED = "connected"  # host -> helper: the host socket for a `connect` (fd attached, or none)
    LISTEN = "listen"  # helper -> host: the command listens on a port; forward it
    UNLISTEN = "unlisten"  # helper -> host: it stopped
    INBOUND = "inbound"  # host -> helper: a host connection to a forwarded port (fd attached)
    SIGNAL = "signal"  # host -> helper: pass a signal to the command
    KILL = "kill"  # host -> helper: kill everything in the jail


@dataclass(frozen=True)
class Message:
    """Base of every message; `op` is the class's, never a field."""

    op: ClassVar[Op]

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op.value, **asdict(self)}


@dataclass(frozen=True)
class Hello(Message):
    op: ClassVar[Op] = Op.HELLO


@dataclass(frozen=True)
class Spec(Message):
    """Computed on the host; the WireGuard private key (in `setconf`) only travels over the channel."""

    op: ClassVar[Op] = Op.SPEC
    setconf: str
    endpoint: str
    allow_kernel: bool
    mounts: list[tuple[str, str]]
    local_ports: list[int]
    cmd: list[str]
    env: dict[str, str]
    uid: int
    gid: int
    map_user: bool
    cwd: str
    log: str
    tools: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out["mounts"] = [list(pair) for pair in self.mounts]
        return out


@dataclass(frozen=True)
class Started(Message):
    op: ClassVar[Op] = Op.STARTED
    pid: int


@dataclass(frozen=True)
class Error(Message):
    op: ClassVar[Op] = Op.ERROR
    message: str


@dataclass(frozen=True)
class Exit(Message):
    op: ClassVar[Op] = Op.EXIT
    returncode: int


@dataclass(frozen=True)
class Connect(Message):
    op: ClassVar[Op] = Op.CONNECT
    port: int
    id: int


@dataclass(frozen=True)
class Connected(Message):
    op: ClassVar[Op] = Op.CONNECTED
    id: int


@dataclass(frozen=True)
class Listen(Message):
    op: ClassVar[Op] = Op.LISTEN
    port: int


@dataclass(frozen=True)
class Unlisten(Message):
    op: ClassVar[Op] = Op.UNLISTEN
    port: int


@dataclass(frozen=True)
class Inbound(Message):
    op: ClassVar[Op] = Op.INBOUND
    port: int


@dataclass(frozen=True)
class Signal(Message):
    op: ClassVar[Op] = Op.SIGNAL
    sig: int


@dataclass(frozen=True)
class Kill(Message):
    op: ClassVar[Op] = Op.KILL


MESSAGES: dict[Op, type[Message]] = {
    cls.op: cls
    for cls in (Hello, Spec, Started, Error, Exit, Connect, Connected, Listen, Unlisten, Inbound, Signal, Kill)
}


def decode(raw: dict[str, Any]) -> Message | None:
    """The message `raw` holds; None for an op this version does not know (the peer ignores it)."""
    try:
        cls = MESSAGES[Op(str(raw.get("op")))]
    except ValueError:
        return None
    names = {f.name for f in fields(cls)}
    missing = names - set(raw)
    if missing:
        raise NamespaceError(
            f"jail protocol: a {cls.op.value!r} message lacks {sorted(missing)}; "
            "ccproxy and its jail helper must come from the same installation"
        )
    values = {name: raw[name] for name in names if name in raw}
    if cls is Spec:
        values["mounts"] = [(str(src), str(dst)) for src, dst in values["mounts"]]
    return cls(**values)
