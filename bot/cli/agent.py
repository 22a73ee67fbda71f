"""Hold an unlocked admin key for a working session, as ssh-agent does, never handing it out.

``amanat unlock`` opens the key file once (one scrypt run) and starts this agent: a process of
its own that keeps the private key in memory for a set time and answers, over a Unix socket
only this user can reach, the operations a command needs: the public key, opening a wrapped
data key, and signing a message that carries one of Amanat's signing prefixes. The key itself
never leaves it: malware running as the admin could use it while it is unlocked, but could
not carry it away. ``amanat lock`` (or the end of the time) stops it and removes the socket.

The socket lives in ``$XDG_RUNTIME_DIR/amanat`` (a folder in memory, this user's only), or a
0700 folder under the temporary directory. The agent also checks each caller's user id.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag

from bot.crypto.errors import CryptoError, TamperedCiphertext, WrongPassphrase
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey

MAX_LINE: Final = 64 * 1024
READY: Final = "ready"
_PEER_CRED: Final = struct.Struct("3i")


def agent_folder() -> Path:
    """Where this user's agents listen: in memory where the system offers it."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime else Path(tempfile.gettempdir())
    return base / f"amanat-{os.getuid()}"


def socket_path(key_id: str) -> Path:
    """The socket of the agent holding one key."""
    return agent_folder() / f"{key_id}.sock"


class AgentUnavailable(Exception):
    """No agent answers for this key (none started, locked, or timed out)."""


class AgentKey(AdminPrivateKey):
    """An admin key held by the agent: the same operations, each one a question to it."""

    __slots__ = ("_connection", "_lock", "_public")

    def __init__(self, public: AdminPublicKey, connection: socket.socket) -> None:
        # Deliberately not AdminPrivateKey.__init__: there is no private key in this process.
        if public.signing is None:
            raise CryptoError("the agent did not give the signing key")
        self._public = public
        self._connection = connection
        self._lock = threading.Lock()
        self._public_raw = public.raw
        self._key_id = bytes.fromhex(public.key_id)
        self._signing_public_raw = public.signing

    @classmethod
    def connect(cls, expected: AdminPublicKey) -> AgentKey:
        """Reach the agent of this key, or raise :class:`AgentUnavailable`."""
        path = socket_path(expected.key_id)
        if not path.exists():
            raise AgentUnavailable
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.settimeout(30)
            connection.connect(str(path))
        except OSError:
            connection.close()
            raise AgentUnavailable from None
        try:
            connection.sendall(b'{"op": "public"}\n')
            held = AdminPublicKey.from_text(str(json.loads(_read_line(connection))["public"]))
        except (OSError, ValueError, KeyError, TypeError, CryptoError):
            connection.close()
            raise AgentUnavailable from None
        if held.raw != expected.raw:  # an agent of another key under this name: not ours
            connection.close()
            raise AgentUnavailable
        return cls(held, connection)

    def _ask(self, question: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            try:
                self._connection.sendall(json.dumps(question).encode() + b"\n")
                reply = _read_line(self._connection)
            except OSError:
                raise AgentUnavailable from None
        answer = json.loads(reply)
        if not isinstance(answer, dict):
            raise AgentUnavailable
        if answer.get("error") == "tampered":
            raise TamperedCiphertext
        if "error" in answer:
            raise CryptoError(str(answer["error"]))
        return answer

    def public_key(self) -> AdminPublicKey:
        """The key's public half, as the agent and the key file agree on it."""
        return self._public

    def sign(self, message: bytes) -> bytes:
        """Ask the agent to sign (it refuses a message without an Amanat prefix)."""
        return _unb64(self._ask({"op": "sign", "message": _b64(message)})["signature"])

    def hpke_open(self, wrapped: bytes, info: bytes) -> bytes:
        """Ask the agent to open an HPKE-wrapped data key."""
        answer = self._ask({"op": "hpke", "wrapped": _b64(wrapped), "info": _b64(info)})
        if answer.get("invalid"):
            raise InvalidTag
        return _unb64(answer["opened"])

    def exchange(self, peer_raw: bytes) -> bytes:
        """Ask the agent for the X25519 secret with a peer key."""
        answer = self._ask({"op": "exchange", "peer": _b64(peer_raw)})
        if answer.get("low_order"):
            raise ValueError("low-order point")
        return _unb64(answer["shared"])

    def to_file_bytes(self, *_: object, **__: object) -> bytes:
        """The agent never gives the key out: there is nothing here to write."""
        raise CryptoError("a key held by the agent cannot be written to a file")

    def close(self) -> None:
        """Let go of the connection (the agent keeps running)."""
        self._connection.close()


def lock(key_id: str) -> bool:
    """Stop the agent of this key; False when none was running."""
    path = socket_path(key_id)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(10)
            connection.connect(str(path))
            connection.sendall(b'{"op": "lock"}\n')
            _read_line(connection)
    except OSError:
        path.unlink(missing_ok=True)
        return False
    return True


def _read_line(connection: socket.socket) -> bytes:
    data = bytearray()
    while not data.endswith(b"\n"):
        piece = connection.recv(65536)
        if not piece:
            raise OSError("the agent closed the connection")
        data += piece
        if len(data) > MAX_LINE:
            raise OSError("the agent's answer is too long")
    return bytes(data)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise CryptoError("malformed agent answer")
    return base64.b64decode(text, validate=True)


# --- the agent process -----------------------------------------------------------------------


def answer_for(key: AdminPrivateKey, question: object) -> dict[str, Any]:
    """Answer one question; anything unexpected is an error answer, never a crash."""
    if not isinstance(question, dict):
        return {"error": "malformed question"}
    op = question.get("op")
    try:
        if op == "public":
            return {"public": key.public_key().to_text()}
        if op == "sign":
            return {"signature": _b64(key.sign(_unb64(question.get("message"))))}
        if op == "hpke":
            try:
                opened = key.hpke_open(
                    _unb64(question.get("wrapped")), _unb64(question.get("info"))
                )
            except InvalidTag:
                return {"invalid": True}
            return {"opened": _b64(opened)}
        if op == "exchange":
            try:
                return {"shared": _b64(key.exchange(_unb64(question.get("peer"))))}
            except ValueError:
                return {"low_order": True}
    except (CryptoError, ValueError) as exc:
        return {"error": str(exc) if isinstance(exc, CryptoError) else "malformed question"}
    return {"error": "unknown operation"}


async def serve(
    key: AdminPrivateKey, path: Path, seconds: float, ready: Callable[[], None] = lambda: None
) -> None:
    """Answer this user's commands until the time is up or someone locks the key.

    ``ready`` runs once the socket listens, readable by this user only.
    """
    stop = asyncio.Event()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("socket")
        if peer is not None and not _same_user(peer):
            writer.close()
            return
        try:
            while line := await reader.readline():
                if len(line) > MAX_LINE:
                    break
                try:
                    question = json.loads(line)
                except ValueError:
                    question = None
                if isinstance(question, dict) and question.get("op") == "lock":
                    # Gone before the answer: once "locked" is printed, nothing can connect.
                    path.unlink(missing_ok=True)  # noqa: ASYNC240 - the agent's own socket
                    stop.set()
                    writer.write(b'{"locked": true}\n')
                    await writer.drain()
                    break
                writer.write(json.dumps(answer_for(key, question)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_unix_server(session, path=str(path), limit=MAX_LINE * 2)
    os.chmod(path, 0o600)
    ready()
    try:
        async with server:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
    finally:
        path.unlink(missing_ok=True)  # noqa: ASYNC240 - the agent's own socket, at its end


def _same_user(connection: socket.socket) -> bool:
    """Only this user's processes may ask (Linux tells who is on the other end)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:  # elsewhere the 0700 folder is the only guard
        return True
    _, uid, _ = _PEER_CRED.unpack(connection.getsockopt(socket.SOL_SOCKET, option, _PEER_CRED.size))
    return bool(uid == os.getuid())


def main() -> None:
    """Run as ``python -m bot.cli.agent``: the key file, its passphrase and the time come on
    stdin, never in argv or the environment; the agent opens the key itself (one scrypt)."""
    order = json.loads(sys.stdin.readline())
    passphrase = str(order.pop("passphrase"))
    try:
        key = AdminPrivateKey.from_file_bytes(Path(order["key_file"]).read_bytes(), passphrase)
    except WrongPassphrase:
        _say("wrong passphrase, or the key file was altered")
        sys.exit(1)
    except (OSError, CryptoError):
        _say("cannot open the key file")
        sys.exit(1)
    del passphrase
    path = Path(order["socket"])
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.unlink(missing_ok=True)

    def ready() -> None:
        _say(READY)
        sys.stdout.close()

    asyncio.run(serve(key, path, float(order["seconds"]), ready))


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
