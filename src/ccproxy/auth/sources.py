"""Static credential sources: read on every resolve, because rotation happens outside ccproxy."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ccproxy.config.model import CommandAuth, EnvAuth, FileAuth
from ccproxy.errors import AuthError


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
    try:
        proc = await asyncio.create_subprocess_shell(
            source.command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=source.timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AuthError(
            f"provider {provider!r}: command `{source.command}` did not finish in {source.timeout:g}s; "
            f"check providers.{provider}.auth"
        ) from None
    if proc.returncode != 0:
        # stderr is the command's own diagnosis; stdout may hold a secret, so it is never shown.
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise AuthError(
            f"provider {provider!r}: command `{source.command}` exited {proc.returncode}: {tail[0][:200]} "
            f"Check providers.{provider}.auth"
        )
    value = out.decode("utf-8", "replace").strip()
    if not value:
        raise AuthError(
            f"provider {provider!r}: command `{source.command}` printed nothing; check providers.{provider}.auth"
        )
    return value
