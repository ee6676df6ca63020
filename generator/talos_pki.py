"""Talos Linux v1.13 cluster secrets, made the way `talosctl gen secrets` makes them.

Pure functions: every random value comes from the OS CSPRNG (`secrets`, and
`cryptography`'s key generation); nothing is read from or written to disk.
The write stage stores `new_secrets_bundle()` / `new_admin_client()` output
SOPS-encrypted; the render stage reads it back with `parse_bundle()` /
`parse_admin_client()` and builds machine configs and `talosconfig()`.

What follows Talos, and where it was read (siderolabs/talos, siderolabs/crypto):

- Bundle layout, key names and order: `generate/secrets/secrets.go` (Bundle,
  Cluster, Secrets, TrustdInfo, Certs structs) marshalled with go yaml
  (4-space indent), as in `generate/secrets/testdata/secrets.yaml`.
  `aescbcencryptionsecret` is omitempty and only filled for contracts <= 1.2,
  so a v1.13 bundle carries `secretboxencryptionsecret` only (`bundle.go`).
- cluster.id / cluster.secret: 32 random bytes each (`constants.DefaultClusterIDSize`,
  `DefaultClusterSecretSize`). The id is *URL-safe* base64 before Talos 1.14
  (`types/cluster/discovery_identity.go` says so); the secret is standard base64.
- secretboxencryptionsecret: 32 random bytes, standard base64 (`cis.CreateEncryptionToken`).
- bootstraptoken / trustdinfo.token: `genToken(6, 16)` over [0-9a-z] (`utils.go`).
- etcd (O=etcd), k8s (O=kubernetes), k8saggregator CAs: ECDSA P-256 signed
  ecdsa-with-SHA256 (`ca.go`, `x509.ECDSA(true)` -> ECDSAWithSHA256 in
  `crypto/x509/options.go`). The aggregator CA gets CommonName("front-proxy"),
  but `NewSelfSignedCertificateAuthority` only copies Organization into the
  subject, so its subject is empty (the upstream testdata shows the same).
- os CA (O=talos): Ed25519 (the library default signature algorithm).
- All CAs: NotBefore=now, NotAfter=now+87600h (`CAValidityTime`), random
  serial < 2^128, KeyUsage critical {digitalSignature, keyCertSign}, EKU
  {serverAuth, clientAuth}, BasicConstraints critical CA:TRUE (no pathlen),
  SubjectKeyIdentifier of 20 random bytes (`NewSubjectKeyID`), no AKI.
- k8sserviceaccount: RSA-4096, PKCS#1 "RSA PRIVATE KEY": `UseRSAServiceAccountKey()`
  is true for every contract after 1.6 (`config/contract.go`).
- PEM block types (`crypto/x509/constants.go`): "EC PRIVATE KEY" (SEC1),
  "ED25519 PRIVATE KEY" (PKCS#8 DER under a non-standard label, which
  `cryptography` will not load directly), "RSA PRIVATE KEY", "CERTIFICATE".
  Every PEM is then base64-encoded (StdEncoding) into the YAML.
- Admin client (talosconfig): `NewAdminCertificateAndKey` via `NewKeyPair`:
  a key of the CA's kind (Ed25519 for the os CA), subject O=os:admin
  (`role.Admin`, the `generate.DefaultOptions` role), NotAfter=now+365d
  (`constants.TalosAPIDefaultCertificateValidityDuration`), KeyUsage critical
  {digitalSignature}, EKU {clientAuth}, no BasicConstraints, and the
  AuthorityKeyIdentifier Go's x509 adds from the CA's SKI.
- talosconfig: `client/config/config.go` (`context`, `contexts.<name>` with
  endpoints, nodes (omitempty), ca, crt, key), marshalled by yaml.v3.

UNCONFIRMED:
- That the exact v1.13 release pins the siderolabs/crypto version with random
  SKIs (older versions let Go derive the SKI from a SHA-1 of the key). Either
  form is valid X.509 and Talos never compares SKIs.
- Byte-for-byte YAML quoting: a scalar needing quotes would be single-quoted
  here but double-quoted by Go. No generated value needs quoting (only an
  all-digit token could, with negligible probability), and both parse the same.
- Subject strings are encoded as PrintableString like Go's pkix, using
  cryptography's semi-private `_ASN1Type`; harmless if that ever changes.
"""

from __future__ import annotations

import base64
import functools
import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = timedelta(hours=87600)  # secrets.CAValidityTime
ADMIN_VALIDITY = timedelta(hours=24 * 365)  # constants.TalosAPIDefaultCertificateValidityDuration
ADMIN_ROLE = "os:admin"  # role.Admin
TOKEN_RE = re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}")
_TOKEN_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"
_ED25519_PEM = "ED25519 PRIVATE KEY"


class CertKey(NamedTuple):
    """A CA as the bundle holds it: base64 of the PEM certificate, base64 of the PEM key."""

    crt: str
    key: str


@dataclass(frozen=True)
class TalosSecrets:
    """The bundle's values, still in the base64 form machine configs take them in."""

    cluster_id: str  # cluster.id
    cluster_secret: str  # cluster.secret
    bootstrap_token: str  # cluster.token
    secretbox_secret: str  # cluster.secretboxEncryptionSecret
    trustd_token: str  # machine.token
    etcd: CertKey  # cluster.etcd.ca
    k8s: CertKey  # cluster.ca
    k8s_aggregator: CertKey  # cluster.aggregatorCA
    os: CertKey  # machine.ca
    service_account_key: str  # cluster.serviceAccount.key


# ---------------------------------------------------------------- generation


def new_secrets_bundle(now: datetime | None = None) -> str:
    """A fresh secrets.yaml, as `talosctl gen secrets` (v1.13) writes it."""
    now = _utc_seconds(now)
    # One clock for every CA, as talosctl's NewFixedClock gives them.
    etcd = _new_ca(now, ec.generate_private_key(ec.SECP256R1()), "etcd")
    k8s = _new_ca(now, ec.generate_private_key(ec.SECP256R1()), "kubernetes")
    aggregator = _new_ca(now, ec.generate_private_key(ec.SECP256R1()), None)
    talos = _new_ca(now, ed25519.Ed25519PrivateKey.generate(), "talos")
    service_account = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    bundle = {
        "cluster": {
            # URL-safe until Talos 1.14 aligned it with StdEncoding; kept for fidelity.
            "id": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "secret": _b64(secrets.token_bytes(32)),
        },
        "secrets": {
            "bootstraptoken": _new_token(),
            "secretboxencryptionsecret": _b64(secrets.token_bytes(32)),
        },
        "trustdinfo": {"token": _new_token()},
        "certs": {
            "etcd": etcd._asdict(),
            "k8s": k8s._asdict(),
            "k8saggregator": aggregator._asdict(),
            "k8sserviceaccount": {"key": _b64(_key_pem(service_account))},
            "os": talos._asdict(),
        },
    }
    return _dump(bundle)


def new_admin_client(bundle_text: str, now: datetime | None = None) -> str:
    """An os:admin client certificate for talosctl, signed by the bundle's os CA, as YAML {crt, key}."""
    now = _utc_seconds(now)
    ca_cert, ca_key = _load_ca(parse_bundle(bundle_text).os, "certs.os")
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    # NewKeyPair makes a key of the CA's kind; gen secrets always makes an Ed25519 os CA.
    if isinstance(ca_key, ed25519.Ed25519PrivateKey):
        key, algorithm = ed25519.Ed25519PrivateKey.generate(), None
    elif isinstance(ca_key, ec.EllipticCurvePrivateKey):
        key, algorithm = ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()
    else:
        # ValueError, not TypeError: callers turn ValueError into a user-facing error.
        raise ValueError("certs.os: only Ed25519 or ECDSA os CAs can sign a talosctl client certificate")  # noqa: TRY004
    builder = (
        _cert_builder(now, now + ADMIN_VALIDITY, _name(ADMIN_ROLE), key)
        .issuer_name(ca_cert.subject)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    try:  # Go's x509 adds an AKI whenever the issuer has an SKI
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(ski, None, None), critical=False)
    except x509.ExtensionNotFound:
        pass
    cert = builder.sign(ca_key, algorithm)
    return _dump({"crt": _b64(cert.public_bytes(serialization.Encoding.PEM)), "key": _b64(_key_pem(key))})


def talosconfig(cluster_name: str, endpoints: list[str], nodes: list[str], bundle_text: str, client_text: str) -> str:
    """The talosconfig talosctl writes for one context: the os CA and the admin client certificate."""
    if not cluster_name:
        raise ValueError("talosconfig needs a cluster name for its context")
    os_ca = parse_bundle(bundle_text).os
    crt, key = parse_admin_client(client_text)
    try:
        _cert(crt, "client crt").verify_directly_issued_by(_cert(os_ca.crt, "certs.os.crt"))
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise ValueError("the talosctl client certificate was not issued by this bundle's os CA") from exc
    context: dict[str, Any] = {"endpoints": list(endpoints)}
    if nodes:  # `nodes` is omitempty in the Go struct
        context["nodes"] = list(nodes)
    context.update(ca=os_ca.crt, crt=crt, key=key)
    return _dump({"context": cluster_name, "contexts": {cluster_name: context}})


# ------------------------------------------------------------------- parsing


@functools.lru_cache(maxsize=4)  # render and talosconfig read the same bundle
def parse_bundle(text: str) -> TalosSecrets:
    """Read a secrets.yaml back, checking every value is usable; ValueError names the bad field."""
    doc = _load_mapping(text, "Talos secrets bundle")
    cluster_secret = _field(doc, "cluster.secret")
    secretbox = _field(doc, "secrets.secretboxencryptionsecret")
    bootstrap = _field(doc, "secrets.bootstraptoken")
    _check_b64(cluster_secret, "cluster.secret", 32)  # an AES-256 key on the nodes
    _check_b64(secretbox, "secrets.secretboxencryptionsecret", 32)  # secretbox keys are 32 bytes
    if not TOKEN_RE.fullmatch(bootstrap):
        raise ValueError("secrets.bootstraptoken must look like abcdef.0123456789abcdef (a Kubernetes bootstrap token)")
    cas = {}
    for name in ("etcd", "k8s", "k8saggregator", "os"):
        pair = CertKey(_field(doc, f"certs.{name}.crt"), _field(doc, f"certs.{name}.key"))
        _load_ca(pair, f"certs.{name}")
        cas[name] = pair
    service_account = _field(doc, "certs.k8sserviceaccount.key")
    _private_key(service_account, "certs.k8sserviceaccount.key")
    return TalosSecrets(
        cluster_id=_field(doc, "cluster.id"),  # Talos treats it as an opaque identifier
        cluster_secret=cluster_secret,
        bootstrap_token=bootstrap,
        secretbox_secret=secretbox,
        trustd_token=_field(doc, "trustdinfo.token"),
        etcd=cas["etcd"],
        k8s=cas["k8s"],
        k8s_aggregator=cas["k8saggregator"],
        os=cas["os"],
        service_account_key=service_account,
    )


def parse_admin_client(text: str) -> tuple[str, str]:
    """Read new_admin_client() output back as (crt, key), both base64 PEM."""
    doc = _load_mapping(text, "talosctl client certificate")
    crt, key = _field(doc, "crt"), _field(doc, "key")
    if not _same_public_key(_cert(crt, "crt").public_key(), _private_key(key, "key").public_key()):
        raise ValueError("the talosctl client key does not match its certificate")
    return crt, key


# ------------------------------------------------------------------- helpers


def _utc_seconds(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # X.509 times have whole seconds; truncating keeps NotAfter exactly NotBefore + validity.
    return now.astimezone(UTC).replace(microsecond=0)


def _new_token() -> str:
    # secrets.choice is uniform, like Talos's rejection sampling over the same 36 characters.
    first, second = ("".join(secrets.choice(_TOKEN_CHARS) for _ in range(n)) for n in (6, 16))
    return f"{first}.{second}"


def _name(organization: str | None) -> x509.Name:
    # Go's pkix puts only Organization in a CA subject, PrintableString-encoded.
    if organization is None:
        return x509.Name([])
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization, _ASN1Type.PrintableString)])


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _cert_builder(not_before: datetime, not_after: datetime, subject: x509.Name, key: Any) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        # NewSerialNumber: uniform below 2^128; X.509 wants it positive.
        .serial_number(secrets.randbelow(2**128 - 1) + 1)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _new_ca(now: datetime, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey, org: str | None) -> CertKey:
    # Extension order follows Go's x509: KeyUsage, ExtKeyUsage, BasicConstraints, SKI.
    builder = (
        _cert_builder(now, now + CA_VALIDITY, _name(org), key)
        .issuer_name(_name(org))
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(secrets.token_bytes(20)), critical=False)
    )
    algorithm = hashes.SHA256() if isinstance(key, ec.EllipticCurvePrivateKey) else None
    cert = builder.sign(key, algorithm)
    return CertKey(_b64(cert.public_bytes(serialization.Encoding.PEM)), _b64(_key_pem(key)))


def _key_pem(key: Any) -> bytes:
    """A private key PEM with the block type siderolabs/crypto writes."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        body = base64.b64encode(der).decode()
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return ("\n".join([f"-----BEGIN {_ED25519_PEM}-----", *lines, f"-----END {_ED25519_PEM}-----"]) + "\n").encode()
    # SEC1 "EC PRIVATE KEY" and PKCS#1 "RSA PRIVATE KEY", as Go's MarshalECPrivateKey / MarshalPKCS1PrivateKey.
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class _GoYAMLDumper(yaml.SafeDumper):
    """Indents sequences under their key, as go yaml.v3/v4 does (PyYAML does not by default)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _dump(data: dict[str, Any]) -> str:
    # Go yaml: 4-space indent, no line folding, keys in struct order.
    return yaml.dump(data, Dumper=_GoYAMLDumper, indent=4, width=2**31, sort_keys=False, default_flow_style=False)


def _load_mapping(text: str, what: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{what} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"{what} must be a YAML mapping")  # noqa: TRY004 (bad input, not a bad call)
    return doc


def _field(doc: dict[str, Any], path: str) -> str:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"{path} is missing")
        node = node[part]
    if not isinstance(node, str) or not node:
        raise ValueError(f"{path} must be a non-empty string")
    return node


def _check_b64(value: str, path: str, size: int | None = None) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{path} is not valid base64") from exc
    if size is not None and len(raw) != size:
        raise ValueError(f"{path} must decode to {size} bytes, not {len(raw)}")
    return raw


def _cert(value: str, path: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_check_b64(value, path))
    except ValueError as exc:
        raise ValueError(f"{path} is not a base64-encoded PEM certificate") from exc


def _private_key(value: str, path: str) -> Any:
    pem = _check_b64(value, path)
    try:
        label = f"-----BEGIN {_ED25519_PEM}-----".encode()
        if pem.lstrip().startswith(label):
            # cryptography only knows standard PEM labels; the body is plain PKCS#8 DER.
            body = pem.strip().splitlines()[1:-1]
            return serialization.load_der_private_key(base64.b64decode(b"".join(body)), password=None)
        # The RSA consistency checks cost ~50 ms per 4096-bit key on every run; the
        # key comes from the SOPS store, and a damaged one still fails to parse.
        return serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise ValueError(f"{path} is not a base64-encoded, unencrypted PEM private key") from exc


def _same_public_key(a: Any, b: Any) -> bool:
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return bool(a.public_bytes(*spki) == b.public_bytes(*spki))


def _load_ca(pair: CertKey, path: str) -> tuple[x509.Certificate, Any]:
    cert, key = _cert(pair.crt, f"{path}.crt"), _private_key(pair.key, f"{path}.key")
    if not _same_public_key(cert.public_key(), key.public_key()):
        raise ValueError(f"{path}.key does not match {path}.crt")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise ValueError(f"{path}.crt is not a CA certificate")
    return cert, key
