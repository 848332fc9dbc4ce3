"""Static credential sources: read on every resolve, because rotation happens outside ccproxy."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from ccproxy.config.providers import CommandAuth, EnvAuth, FileAuth
from ccproxy.errors import AuthError

REAP_TIMEOUT = 5.0  # seconds to wait for a killed command's pipes to close


def read_env(provider: str, source: EnvAuth) -> str:
    value = os.environ.get(source.var, "").strip()
    if not value:
        raise AuthError(
            f"provider {provider!r}: environment variable {source.var} is not set in this process's "
            f"environment; export it where you run `ccproxy start`, or check providers.{provider}.auth"
        )
    return value


def read_file(provider: str, source: FileAuth, base: Path) -> str:
    path = (base / Path(source.file_path).expanduser()).resolve()
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AuthError(
            f"provider {provider!r}: cannot read credential file {path} ({exc.strerror}); "
            f"check providers.{provider}.auth.path"
        ) from None
    if not value:
        raise AuthError(
            f"provider {provider!r}: credential file {path} is empty; check providers.{provider}.auth"
        )
    return value


async def run_command(provider: str, source: CommandAuth) -> str:
    """Run the command in its own process group, killed whole at `timeout` (or when the caller gives up).

    Killing only the shell is not enough: a child it started (`sleep`, a credential helper) keeps
    the output pipes open, and waiting for them made a 1 s timeout last as long as that child."""
    starting = asyncio.ensure_future(asyncio.create_subprocess_shell(
        source.command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    ))
    try:
        proc = await asyncio.shield(starting)
    except asyncio.CancelledError:
        # Given up while the process was being set up: asyncio would kill only the shell, and a child
        # it already started would outlive us. Let the start finish, then kill the whole group.
        proc = await starting
        await asyncio.shield(_kill_group(proc))
        raise
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=source.timeout)
    except BaseException as exc:  # the timeout, or the caller gave up (client gone, daemon stopping)
        await asyncio.shield(_kill_group(proc))
        if isinstance(exc, TimeoutError):
            raise AuthError(
                f"provider {provider!r}: command `{source.command}` did not finish in {source.timeout:g}s "
                f"(it was killed); make it faster or raise providers.{provider}.auth.timeout"
            ) from None
        raise
    if proc.returncode != 0:
        # stderr is the command's own diagnosis; stdout may hold a secret, so it is never shown.
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]  # masked by AuthError
        raise AuthError(
            f"provider {provider!r}: command `{source.command}` exited {proc.returncode}: "
            f"{tail[0][:200].rstrip('.') or 'no message'}. Check providers.{provider}.auth"
        )
    value = out.decode("utf-8", "replace").strip()
    if not value:
        raise AuthError(
            f"provider {provider!r}: command `{source.command}` printed nothing; check providers.{provider}.auth"
        )
    return value


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the command's whole process group and reap the shell.

    The wait is bounded: a child that left the group (its own `setsid`) may still hold the pipes."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), timeout=REAP_TIMEOUT)
