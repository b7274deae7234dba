# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Client credentials with a certificate: a client assertion signed with the app's private key.

No secret leaves the host. The assertion takes one of the two forms MSAL sends, never a mix of their headers:

* ``PS256`` signed (RSA-PSS), with the certificate's SHA-256 thumbprint in ``x5t#S256``: the format Entra ID's
  "certificate credentials" page documents today (entra-docs certificate-credentials.md), and what MSAL sends
  when it holds the certificate. It is the default: it is the documented one, and it needs no SHA-1.
* ``RS256`` signed (PKCS#1 v1.5), with the SHA-1 thumbprint in ``x5t``: the form of older documentation and
  libraries (MSAL with only a SHA-1 thumbprint, ADFS), kept for an authority that refuses the first
  (mde-api.md 9.13). Chosen with the environment variable DEFENDER_ATP_CERTIFICATE_ALGORITHM=RS256.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import os
import time
import types
import uuid

from ansible_collections.defender.atp.plugins.module_utils._auth.method import AuthMethod
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError

ASSERTION_LIFETIME = 600
# algorithm -> the header naming the certificate, and the hash of its thumbprint (MSAL pairs them this way).
ASSERTION_FORMS = {'PS256': 'x5t#S256', 'RS256': 'x5t'}
DEFAULT_ALGORITHM = 'PS256'
ALGORITHM_VARIABLE = 'DEFENDER_ATP_CERTIFICATE_ALGORITHM'


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def _crypto():
    """PyJWT and the parts of cryptography this method uses, imported when it is used (no other method needs them):
    a namespace with ``jwt``, ``x509``, ``hashes``, ``serialization``, ``rsa``. AtpOptionError when they are missing."""
    try:
        import jwt
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError as exc:  # pragma: no cover - reported by the module with missing_required_lib
        raise AtpOptionError('Certificate authentication needs the Python libraries cryptography and PyJWT: %s' % exc)
    return types.SimpleNamespace(jwt=jwt, x509=x509, hashes=hashes, serialization=serialization, rsa=rsa)


class CertificateAuth(AuthMethod):
    NAME = 'certificate'
    REQUIRED = ('tenant_id', 'client_id', 'certificate_path')
    DISTINCTIVE = ('certificate_path',)

    def __init__(self, params, algorithm=None):
        super(CertificateAuth, self).__init__(params)
        self.certificate = None
        self.private_key = None
        self._pem = None
        self._crypto = None
        self.algorithm = algorithm

    def _choose_algorithm(self):
        chosen = self.algorithm or os.environ.get(ALGORITHM_VARIABLE) or DEFAULT_ALGORITHM
        chosen = chosen.strip().upper()
        if chosen not in ASSERTION_FORMS:
            raise AtpOptionError('%s must be PS256 (the default: RSA-PSS with the SHA-256 thumbprint in x5t#S256) or RS256 '
                                 '(PKCS#1 v1.5 with the SHA-1 thumbprint in x5t); got %r.' % (ALGORITHM_VARIABLE, chosen))
        return chosen

    def validate(self):
        """Load the PEM now, so a wrong file or password fails before any request."""
        crypto = self._crypto = _crypto()
        self.algorithm = self._choose_algorithm()
        path = self.params['certificate_path']
        try:
            with open(path, 'rb') as handle:
                pem = handle.read()
        except (IOError, OSError) as exc:
            raise AtpOptionError('certificate_path %r cannot be read: %s' % (path, exc.strerror or exc))
        if b'-----BEGIN CERTIFICATE-----' not in pem:
            raise AtpOptionError('certificate_path %r holds no PEM certificate ("-----BEGIN CERTIFICATE-----"). It must be '
                                 'one PEM file with the certificate and its private key (convert a .pfx with openssl pkcs12 '
                                 '-in app.pfx -out app.pem).' % path)
        if b'PRIVATE KEY-----' not in pem:
            raise AtpOptionError('certificate_path %r holds a certificate but no private key; append the PEM private key '
                                 'to the same file.' % path)
        try:
            self.certificate = crypto.x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise AtpOptionError('The certificate in certificate_path %r cannot be parsed: %s' % (path, exc))
        password = self.params.get('certificate_password')
        try:
            self.private_key = crypto.serialization.load_pem_private_key(
                pem, password=password.encode('utf-8') if password else None)
        except TypeError:
            if password:
                raise AtpOptionError('certificate_password is set, but the private key in certificate_path is not encrypted; '
                                     'remove certificate_password.')
            raise AtpOptionError('The private key in certificate_path is encrypted: set certificate_password.')
        except ValueError:
            if password:
                raise AtpOptionError('certificate_password does not decrypt the private key in certificate_path '
                                     '(wrong password, or a damaged key).')
            raise AtpOptionError('The private key in certificate_path cannot be loaded (not a PEM private key, or encrypted '
                                 'without certificate_password).')
        if not isinstance(self.private_key, crypto.rsa.RSAPrivateKey):
            raise AtpOptionError('The private key in certificate_path must be an RSA key (Entra ID signs assertions with RSA).')
        public = self.certificate.public_key()
        if public.public_numbers() != self.private_key.public_key().public_numbers():
            raise AtpOptionError('The private key in certificate_path does not belong to its certificate.')
        self._pem = pem

    def thumbprints(self):
        hashes = (self._crypto or _crypto()).hashes
        return {'x5t': _b64url(self.certificate.fingerprint(hashes.SHA1())),  # a thumbprint, not a signature
                'x5t#S256': _b64url(self.certificate.fingerprint(hashes.SHA256()))}

    def assertion_header(self):
        """The header fields besides ``alg``: ``typ`` and the one thumbprint that goes with the algorithm."""
        algorithm = self.algorithm or self._choose_algorithm()
        thumbprint = ASSERTION_FORMS[algorithm]
        return algorithm, {'typ': 'JWT', thumbprint: self.thumbprints()[thumbprint]}

    def assertion(self, token_url, now=None):
        now = int(time.time() if now is None else now)
        algorithm, headers = self.assertion_header()
        claims = {
            'aud': token_url,
            'iss': self.params['client_id'],
            'sub': self.params['client_id'],
            'jti': str(uuid.uuid4()),
            'iat': now,
            'nbf': now,
            'exp': now + ASSERTION_LIFETIME,
        }
        return (self._crypto or _crypto()).jwt.encode(claims, self.private_key, algorithm=algorithm, headers=headers)

    def token_form(self, scope, token_url):
        return {
            'grant_type': 'client_credentials',
            'client_id': self.params['client_id'],
            'client_assertion_type': 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            'client_assertion': self.assertion(token_url),
            'scope': scope,
        }

    def secret_material(self):
        return self.digest(self._pem, self.params.get('certificate_password'))
