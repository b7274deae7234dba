"""Certificates: the emulator's CA, its server certificate, and the client certificates of the test apps."""

import base64
import datetime
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ORG = "Defender ATP emulator"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def x5t_sha1(cert):
    """``x5t``: base64url SHA-1 thumbprint of the DER certificate (also Entra's ``kid``)."""
    return b64url(cert.fingerprint(hashes.SHA1()))  # noqa: S303 (thumbprint, not security)


def x5t_sha256(cert):
    """``x5t#S256``: base64url SHA-256 thumbprint of the DER certificate."""
    return b64url(cert.fingerprint(hashes.SHA256()))


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder, days):
    now = datetime.datetime.now(datetime.timezone.utc)
    return builder.not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))


def self_signed(key, common_name, days=365):
    """A self-signed leaf certificate, as Entra app registrations and token-signing keys use."""
    builder = x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
    builder = _validity(builder.public_key(key.public_key()).serial_number(x509.random_serial_number()), days)
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return builder.sign(key, hashes.SHA256())


def make_ca():
    key = ec.generate_private_key(ec.SECP256R1())  # EC keys generate in microseconds; start-up stays fast
    name = _name("Defender ATP emulator local CA")
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = _validity(builder.serial_number(x509.random_serial_number()), 3650)
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    builder = builder.add_extension(
        x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                      key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
        critical=True)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return key, builder.sign(key, hashes.SHA256())


def make_server_cert(ca_key, ca_cert, hosts):
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    builder = x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(ca_cert.subject)
    builder = _validity(builder.public_key(key.public_key()).serial_number(x509.random_serial_number()), 365)
    builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def key_pem(key, password=None):
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode("ascii")


def _write(path, text, private=False):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _load_ca(state_dir):
    """Reuse a CA left in the state dir, so clients that trust it keep working across restarts."""
    cert_path, key_path = os.path.join(state_dir, "ca.pem"), os.path.join(state_dir, "ca-key.pem")
    if not (os.path.exists(cert_path) and os.path.exists(key_path)):
        return None
    try:
        with open(cert_path, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
        with open(key_path, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
    except (ValueError, TypeError):
        return None
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30):
        return None
    return key, cert


class ClientCertificate:
    """A certificate registered on an app; ``path`` holds the certificate followed by its private key."""

    def __init__(self, key, cert, path, password=None):
        self.key, self.cert, self.path, self.password = key, cert, path, password
        self.x5t = x5t_sha1(cert)
        self.x5t_s256 = x5t_sha256(cert)
        self.key_text = key_pem(key, password)  # as written in the file (encrypted when a password is set)
        self.plain_key_text = key_pem(key) if password else self.key_text
        self.pem = cert_pem(cert) + self.key_text


class TlsMaterial:
    """Everything written to the state dir at start-up."""

    def __init__(self, state_dir, hosts, client_password):
        os.makedirs(state_dir, exist_ok=True)
        self.state_dir = state_dir
        loaded = _load_ca(state_dir)
        self.ca_key, self.ca_cert = loaded or make_ca()
        self.ca_path = os.path.join(state_dir, "ca.pem")
        if not loaded:
            _write(os.path.join(state_dir, "ca-key.pem"), key_pem(self.ca_key), private=True)
            _write(self.ca_path, cert_pem(self.ca_cert))
        server_key, server_cert = make_server_cert(self.ca_key, self.ca_cert, hosts)
        self.server_cert_path = os.path.join(state_dir, "server.pem")
        self.server_key_path = os.path.join(state_dir, "server-key.pem")
        _write(self.server_cert_path, cert_pem(server_cert) + cert_pem(self.ca_cert))
        _write(self.server_key_path, key_pem(server_key), private=True)

        plain_key = rsa_key()
        self.client_cert = ClientCertificate(plain_key, self_signed(plain_key, "defender-atp-emulator-app"),
                                             os.path.join(state_dir, "client-cert.pem"))
        enc_key = rsa_key()
        self.encrypted_client_cert = ClientCertificate(
            enc_key, self_signed(enc_key, "defender-atp-emulator-app-encrypted"),
            os.path.join(state_dir, "client-cert-encrypted.pem"), password=client_password)
        for item in (self.client_cert, self.encrypted_client_cert):
            _write(item.path, item.pem, private=True)

    def server_context(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.server_cert_path, self.server_key_path)
        return context
