"""Access tokens: RS256 JWTs shaped like Entra v1.0 tokens, their signing key, JWKS and validation."""

import base64
import hashlib
import json
import secrets
import threading
import time

import jwt
from cryptography.hazmat.primitives import serialization

from . import tls

STS = "https://sts.windows.net/{}/"


class TokenError(Exception):
    """A token the APIs must refuse; ``reason`` is one of missing, malformed, signature, expired, not_yet_valid, issuer."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


class Signer:
    def __init__(self):
        self.key = tls.rsa_key()
        self.cert = tls.self_signed(self.key, "accounts.emulator.local")
        self.kid = tls.x5t_sha1(self.cert)  # Entra: kid == x5t == base64url SHA-1 thumbprint
        self.public_key = self.key.public_key()
        self.private_pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption())
        self._verified = {}  # token -> claims; signature checks are skipped for tokens seen before
        self._lock = threading.Lock()

    def jwk(self, issuer=None):
        numbers = self.public_key.public_numbers()
        der = self.cert.public_bytes(serialization.Encoding.DER)
        key = {
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
            "n": _b64uint(numbers.n), "e": _b64uint(numbers.e),
            "x5c": [base64.b64encode(der).decode("ascii")],
        }
        if issuer:
            key["issuer"] = issuer
        return key

    def issue(self, claims, nonce=False):
        """An RS256 token. With ``nonce`` it is shaped like a Microsoft Graph access token: a ``nonce`` in the header, and
        a signature over the header with that nonce's SHA-256 instead, so standard JWT verification fails on it
        (entra-docs access-tokens.md: Graph tokens "cannot be validated"; AzureAD identitymodel-extensions #609)."""
        headers = {"kid": self.kid, "x5t": self.kid, "typ": "JWT"}
        if not nonce:
            return jwt.encode(claims, self.private_pem, algorithm="RS256", headers=headers)
        value = secrets.token_urlsafe(32)
        headers["nonce"] = _hashed_nonce(value)
        signed = jwt.encode(claims, self.private_pem, algorithm="RS256", headers=headers)
        _header, payload, signature = signed.split(".")
        shown = jwt.get_unverified_header(signed)
        shown["nonce"] = value
        return ".".join((_encode_header(shown), payload, signature))

    def verify(self, token, now=None):
        """Claims of a token this emulator signed, else TokenError. Expiry is checked on every call."""
        if not token:
            raise TokenError("missing", "Authorization header is missing or is not a Bearer token")
        claims = self._verified.get(token)
        if claims is None:
            try:
                header = jwt.get_unverified_header(token)
            except jwt.InvalidTokenError:
                raise TokenError("malformed", "The access token is malformed") from None
            if header.get("alg") != "RS256" or header.get("kid") != self.kid:
                raise TokenError("signature", "The access token signature is invalid (unknown key or algorithm)")
            signed = token
            if isinstance(header.get("nonce"), str):  # a Graph-shaped token: its signature covers the hashed nonce
                header["nonce"] = _hashed_nonce(header["nonce"])
                signed = ".".join([_encode_header(header)] + token.split(".")[1:])
            try:
                claims = jwt.decode(signed, self.public_key, algorithms=["RS256"],
                                    options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                             "verify_iat": False, "verify_iss": False})
            except jwt.InvalidSignatureError:
                raise TokenError("signature", "The access token signature is invalid") from None
            except jwt.InvalidTokenError:
                raise TokenError("malformed", "The access token is malformed") from None
            with self._lock:
                if len(self._verified) > 50000:
                    self._verified.clear()
                self._verified[token] = claims
        now = time.time() if now is None else now
        if not isinstance(claims.get("exp"), int) or now >= claims["exp"]:
            raise TokenError("expired", "The access token has expired")
        if isinstance(claims.get("nbf"), int) and now + 300 < claims["nbf"]:
            raise TokenError("not_yet_valid", "The access token is not yet valid")
        tid = claims.get("tid")
        if not tid or claims.get("iss") != STS.format(tid):
            raise TokenError("issuer", "The access token issuer is invalid")
        return claims


def _hashed_nonce(value):
    return tls.b64url(hashlib.sha256(value.encode("utf-8")).digest())


def _encode_header(header):
    # The serialisation PyJWT signs (sorted keys, no spaces), so a rebuilt header has the signed bytes.
    return tls.b64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def _b64uint(value):
    return tls.b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def random_claim():
    """Opaque values like Entra's ``aio``/``uti``."""
    return secrets.token_urlsafe(16)
