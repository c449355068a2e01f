"""SASL mechanisms for SMTP AUTH (RFC 4954), sans-I/O.

Each mechanism turns server challenges (already base64-decoded) into client
responses (raw bytes; the protocol base64-encodes them). Credentials are
UTF-8 everywhere (RFC 4616 §2, case c24), never ASCII-only.

Mechanisms: SCRAM-SHA-256 (RFC 7677/5802, the server signature is verified),
PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195),
XOAUTH2 (Google/Microsoft) and OAUTHBEARER (RFC 7628).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import stringprep
import unicodedata
from collections.abc import Callable, Sequence

import attrs
from mimekit.transports.errors import AuthenticationError

__all__ = [
    "CramMD5",
    "Credentials",
    "Login",
    "Mechanism",
    "OAuthBearer",
    "Plain",
    "SASLError",
    "ScramSHA256",
    "XOAuth2",
    "choose",
    "saslprep",
]


class SASLError(Exception):
    """The exchange cannot go on (bad challenge, server not verified)."""


@attrs.frozen(repr=False)
class Credentials:
    """What to log in with. ``oauth_token`` is called at each login so a
    refreshed token is used. ``repr`` never shows the secrets."""

    username: str
    password: str | None = None
    oauth_token: Callable[[], str] | None = None
    host: str = ""
    port: int = 0

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***)"


class Mechanism:
    """Base class: one SASL exchange."""

    name = ""

    def initial_response(self) -> bytes | None:
        """Data to send with the AUTH command (RFC 4954 §4), or ``None``."""
        return None

    def respond(self, challenge: bytes) -> bytes:
        """The answer to one 334 challenge."""
        raise SASLError(f"{self.name}: unexpected challenge")

    def success(self, data: bytes | None) -> None:
        """Called on 235; raises :class:`SASLError` if the server was not verified."""

    def failure_detail(self) -> str | None:
        """What the server said about a failed exchange beyond its final reply
        (the OAuth error status), or ``None``."""
        return None


# ------------------------------------------------------------------ SASLprep


def saslprep(text: str) -> str:
    """RFC 4013 SASLprep (stringprep profile): map, NFKC, refuse prohibited
    characters and bad bidirectional text."""
    # RFC 4013 §2.1: non-ASCII spaces -> SPACE; "commonly mapped to nothing" removed
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c for c in text if not stringprep.in_table_b1(c)
    )
    out = unicodedata.normalize("NFKC", mapped)  # §2.2
    for c in out:  # §2.3
        if (
            stringprep.in_table_c12(c)
            or stringprep.in_table_c21_c22(c)
            or stringprep.in_table_c3(c)
            or stringprep.in_table_c4(c)
            or stringprep.in_table_c5(c)
            or stringprep.in_table_c6(c)
            or stringprep.in_table_c7(c)
            or stringprep.in_table_c8(c)
            or stringprep.in_table_c9(c)
            or stringprep.in_table_a1(c)
        ):
            raise SASLError("the user name or password contains a character SASLprep prohibits")
    # §2.4 -> RFC 3454 §6 bidirectional rules
    if any(stringprep.in_table_d1(c) for c in out) and (
        any(stringprep.in_table_d2(c) for c in out)
        or not (stringprep.in_table_d1(out[0]) and stringprep.in_table_d1(out[-1]))
    ):
        raise SASLError("the user name or password has invalid bidirectional text")
    return out


# ------------------------------------------------------------------ simple mechanisms


class Plain(Mechanism):
    """RFC 4616: ``authzid NUL authcid NUL passwd``, all UTF-8 (§2)."""

    name = "PLAIN"

    def __init__(self, username: str, password: str, authzid: str = "") -> None:
        if any("\0" in s for s in (authzid, username, password)):
            # NUL separates the three fields (RFC 4616 §2): one inside a value would
            # shift them (a password could become the user name).
            raise SASLError("PLAIN: the user name, password and authzid cannot contain NUL")
        self._msg = b"\0".join(s.encode("utf-8") for s in (authzid, username, password))

    def initial_response(self) -> bytes:
        return self._msg


class Login(Mechanism):
    """LOGIN: the user name, then the password, each as UTF-8 (case c24)."""

    name = "LOGIN"

    def __init__(self, username: str, password: str) -> None:
        self._answers = [username.encode("utf-8"), password.encode("utf-8")]

    def respond(self, challenge: bytes) -> bytes:
        if not self._answers:
            raise SASLError("LOGIN: more challenges than expected")
        prompt = challenge.lower()
        if b"pass" in prompt and len(self._answers) == 2:
            raise SASLError("LOGIN: the server asked for the password first")
        return self._answers.pop(0)


class CramMD5(Mechanism):
    """RFC 2195: ``user SP hex(HMAC-MD5(password, challenge))``."""

    name = "CRAM-MD5"

    def __init__(self, username: str, password: str) -> None:
        self._user = username.encode("utf-8")
        self._key = password.encode("utf-8")
        self._done = False

    def respond(self, challenge: bytes) -> bytes:
        if self._done:
            raise SASLError("CRAM-MD5: more than one challenge")
        self._done = True
        digest = hmac.new(self._key, challenge, hashlib.md5).hexdigest()
        return self._user + b" " + digest.encode("ascii")


class XOAuth2(Mechanism):
    """XOAUTH2 (Google/Microsoft): ``user=U ^A auth=Bearer T ^A ^A``. On failure
    the server sends a JSON error as a challenge; the answer is empty."""

    name = "XOAUTH2"

    def __init__(self, username: str, token: str) -> None:
        self._msg = f"user={username}\x01auth=Bearer {token}\x01\x01".encode()
        self._error: bytes | None = None

    def initial_response(self) -> bytes:
        return self._msg

    def respond(self, challenge: bytes) -> bytes:
        self._error = challenge
        return b""  # acknowledge the error document; the server then sends 535

    def failure_detail(self) -> str | None:
        return _oauth_status(self._error)


def _oauth_status(document: bytes | None) -> str | None:
    """The ``status`` of an OAuth error document (RFC 7628 §3.2.2, also sent
    by XOAUTH2 servers), bounded and printable; ``None`` if there is none."""
    if not document or len(document) > 4096:  # a real one is a few hundred bytes
        return None
    try:
        status = json.loads(document.decode("utf-8")).get("status")
    except (ValueError, AttributeError, RecursionError):
        # RecursionError: "[[[[..." from a hostile server nests past the parser's limit
        return None
    if not isinstance(status, str) or not status.isprintable():
        return None
    return f"error status {status[:100]!r}"


class OAuthBearer(Mechanism):
    """RFC 7628 §3.1: ``n,a=user, ^A host=H ^A port=P ^A auth=Bearer T ^A ^A``.
    An error challenge is answered with ``^A`` (§3.2.3)."""

    name = "OAUTHBEARER"

    def __init__(self, username: str, token: str, host: str = "", port: int = 0) -> None:
        user = username.replace("=", "=3D").replace(",", "=2C")
        parts = [f"n,a={user},"]
        if host:
            parts.append(f"host={host}")
        if port:
            parts.append(f"port={port}")
        parts.append(f"auth=Bearer {token}")
        self._msg = ("\x01".join(parts) + "\x01\x01").encode()
        self._error: bytes | None = None

    def initial_response(self) -> bytes:
        return self._msg

    def respond(self, challenge: bytes) -> bytes:
        # RFC 7628 §3.2.3: the error challenge is answered with a dummy ^A; the
        # server then ends the exchange with a failure reply
        self._error = challenge
        return b"\x01"

    def failure_detail(self) -> str | None:
        return _oauth_status(self._error)


# ------------------------------------------------------------------ SCRAM


def _scram_name(name: str) -> str:
    # RFC 5802 §5.1: "=" and "," in the user name are escaped
    return saslprep(name).replace("=", "=3D").replace(",", "=2C")


class ScramSHA256(Mechanism):
    """RFC 7677 SCRAM-SHA-256 without channel binding (gs2 header ``n,,``).

    The server proves it knows the password too: its signature (``v=``) is
    checked, and a 235 without a verified signature is an error (RFC 5802 §9).
    """

    name = "SCRAM-SHA-256"
    _hash = "sha256"

    def __init__(self, username: str, password: str, *, nonce: str | None = None) -> None:
        self._password = saslprep(password).encode("utf-8")
        self._nonce = nonce or base64.b64encode(secrets.token_bytes(18)).decode("ascii")
        self._first_bare = f"n={_scram_name(username)},r={self._nonce}"
        self._server_signature: bytes | None = None
        self._verified = False
        self._step = 0

    def initial_response(self) -> bytes:
        return ("n,," + self._first_bare).encode("utf-8")

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self._hash).digest()

    def respond(self, challenge: bytes) -> bytes:
        self._step += 1
        if self._step == 1:
            return self._client_final(challenge)
        if self._step == 2:
            self._verify(challenge)
            return b""
        raise SASLError("SCRAM: unexpected extra challenge")

    def _client_final(self, server_first: bytes) -> bytes:
        try:
            text = server_first.decode("utf-8")
            attrs_ = dict(item.split("=", 1) for item in text.split(","))
            nonce, salt, iterations = attrs_["r"], base64.b64decode(attrs_["s"]), int(attrs_["i"])
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            raise SASLError(f"SCRAM: malformed server-first message: {exc}") from exc
        if "m" in attrs_:
            raise SASLError("SCRAM: unsupported mandatory extension")
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise SASLError("SCRAM: the server nonce does not extend ours")  # RFC 5802 §5.1
        if iterations < 1 or iterations > 10_000_000:
            raise SASLError("SCRAM: unreasonable iteration count")
        salted = hashlib.pbkdf2_hmac(self._hash, self._password, salt, iterations)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self._hash, client_key).digest()
        without_proof = f"c=biws,r={nonce}"  # biws = base64("n,,")
        auth_message = f"{self._first_bare},{text},{without_proof}".encode()
        signature = self._hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self._server_signature = self._hmac(self._hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode('ascii')}".encode()

    def _verify(self, server_final: bytes) -> None:
        text = server_final.decode("utf-8", "replace")
        if text.startswith("e="):
            raise SASLError(f"SCRAM: server error {text[2:]}")
        if not text.startswith("v=") or self._server_signature is None:
            raise SASLError("SCRAM: malformed server-final message")
        try:
            got = base64.b64decode(text[2:].split(",")[0], validate=True)
        except ValueError as exc:
            raise SASLError("SCRAM: malformed server signature") from exc
        if not hmac.compare_digest(got, self._server_signature):
            raise SASLError(
                "SCRAM: the server signature is wrong (the server does not know "
                "the password: possible impostor)"
            )
        self._verified = True

    def success(self, data: bytes | None) -> None:
        if not self._verified and data is not None:
            self._verify(data)
        if not self._verified:
            raise SASLError("SCRAM: the server accepted without proving its identity")


# ------------------------------------------------------------------ choice

# Best first. With a password over TLS, PLAIN beats the challenge-response
# mechanisms that force the server to store the plain password (CRAM-MD5);
# without TLS (only if explicitly allowed) CRAM-MD5 at least hides it.
_PASSWORD_TLS = ("SCRAM-SHA-256", "PLAIN", "LOGIN", "CRAM-MD5")
_PASSWORD_CLEAR = ("SCRAM-SHA-256", "CRAM-MD5", "PLAIN", "LOGIN")
_TOKEN = ("OAUTHBEARER", "XOAUTH2")


def _build(name: str, cred: Credentials, host: str) -> Mechanism:
    if name in _TOKEN:
        if cred.oauth_token is None:
            raise SASLError(f"{name} needs an oauth_token callable")
        token = cred.oauth_token()
        if not isinstance(token, str):
            raise SASLError(f"{name}: oauth_token() returned {type(token).__name__}, not str")
        if any(c in token + cred.username for c in "\x00\x01\r\n"):
            # ^A separates the fields (RFC 7628 §3.1): it would inject another field
            raise SASLError(f"{name}: the user name or token contains a control character")
        if name == "OAUTHBEARER":
            return OAuthBearer(cred.username, token, host, cred.port)
        return XOAuth2(cred.username, token)
    if cred.password is None:
        raise SASLError(f"{name} needs a password")
    factory: dict[str, Callable[[str, str], Mechanism]] = {
        "SCRAM-SHA-256": ScramSHA256,
        "PLAIN": Plain,
        "LOGIN": Login,
        "CRAM-MD5": CramMD5,
    }
    if name not in factory:
        raise SASLError(f"unsupported SASL mechanism {name}")
    return factory[name](cred.username, cred.password)


def _build_checked(name: str, cred: Credentials, host: str) -> Mechanism:
    try:
        return _build(name, cred, host)
    except SASLError as exc:
        raise AuthenticationError(0, None, str(exc)) from exc
    except UnicodeError:
        # A lone surrogate (a secret read with surrogateescape) cannot be UTF-8.
        # The UnicodeEncodeError holds the whole string it failed on (the
        # password, or the token's field): it is neither raised nor chained.
        pass
    raise AuthenticationError(
        0, None, f"{name}: the user name, password or token is not valid UTF-8 text"
    )


def choose(
    offered: Sequence[str],
    cred: Credentials,
    *,
    encrypted: bool,
    preferred: str | None = None,
    host: str = "",
) -> Mechanism:
    """The mechanism to use: ``preferred`` if given (it must be offered), else
    the best one offered for the kind of credential held."""
    offered_set = {m.upper() for m in offered}
    if preferred is not None:
        name = preferred.upper()
        if name not in offered_set:
            raise AuthenticationError(
                0, None, f"the server does not offer AUTH {name} (offered: {' '.join(offered)})"
            )
        return _build_checked(name, cred, host)
    order = (
        _TOKEN
        if cred.oauth_token is not None
        else (_PASSWORD_TLS if encrypted else _PASSWORD_CLEAR)
    )
    for name in order:
        if name in offered_set:
            return _build_checked(name, cred, host)
    raise AuthenticationError(
        0, None, f"no supported SASL mechanism offered (offered: {' '.join(offered)})"
    )
