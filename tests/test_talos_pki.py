"""Talos secrets: real formats, real crypto, and parse errors a user can act on."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from generator.talos_pki import (
    ADMIN_VALIDITY,
    CA_VALIDITY,
    CertKey,
    TalosSecrets,
    new_admin_client,
    new_secrets_bundle,
    parse_admin_client,
    parse_bundle,
    talosconfig,
)

SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "talos" / "v1.13" / "config.schema.json"
NOW = datetime(2025, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
TOKEN = re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}")

# RSA-4096 key generation costs about a second, so one bundle serves most tests.


@pytest.fixture(scope="module")
def bundle() -> str:
    return new_secrets_bundle(now=NOW)


@pytest.fixture(scope="module")
def doc(bundle: str) -> dict[str, Any]:
    return yaml.safe_load(bundle)


@pytest.fixture(scope="module")
def client(bundle: str) -> str:
    return new_admin_client(bundle, now=NOW)


def pem(b64: str) -> bytes:
    return base64.b64decode(b64, validate=True)


def cert(b64: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem(b64))


def ed25519_key(b64: str) -> ed25519.Ed25519PrivateKey:
    # Talos labels PKCS#8 Ed25519 keys "ED25519 PRIVATE KEY"; relabel for cryptography.
    text = pem(b64).decode().replace("ED25519 PRIVATE KEY", "PRIVATE KEY")
    key = serialization.load_pem_private_key(text.encode(), password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key


def same_public(a: Any, b: Any) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*fmt) == b.public_bytes(*fmt)


# ------------------------------------------------------------------ bundle format


def test_bundle_layout_matches_talosctl(bundle: str, doc: dict[str, Any]) -> None:
    # Same keys in the same order as talosctl's secrets.yaml; secretbox only (v1.13 contract).
    assert list(doc) == ["cluster", "secrets", "trustdinfo", "certs"]
    assert list(doc["cluster"]) == ["id", "secret"]
    assert list(doc["secrets"]) == ["bootstraptoken", "secretboxencryptionsecret"]
    assert list(doc["trustdinfo"]) == ["token"]
    assert list(doc["certs"]) == ["etcd", "k8s", "k8saggregator", "k8sserviceaccount", "os"]
    for name in ("etcd", "k8s", "k8saggregator", "os"):
        assert list(doc["certs"][name]) == ["crt", "key"]
    assert list(doc["certs"]["k8sserviceaccount"]) == ["key"]
    # Go yaml's layout: 4-space indent, one unquoted, unfolded scalar per line.
    for line in bundle.splitlines():
        assert re.fullmatch(r"( {4})*[a-z0-9]+:( [A-Za-z0-9+/=._-]+)?", line), line
    assert bundle.endswith("\n") and "aescbc" not in bundle


def test_tokens_have_the_kubeadm_shape(doc: dict[str, Any]) -> None:
    assert TOKEN.fullmatch(doc["secrets"]["bootstraptoken"])
    assert TOKEN.fullmatch(doc["trustdinfo"]["token"])


def test_random_values_are_32_bytes_of_base64(doc: dict[str, Any]) -> None:
    # Before Talos 1.14 the cluster id is URL-safe base64; the others are standard.
    assert len(base64.urlsafe_b64decode(doc["cluster"]["id"])) == 32
    assert "+" not in doc["cluster"]["id"] and "/" not in doc["cluster"]["id"]
    assert len(base64.b64decode(doc["cluster"]["secret"], validate=True)) == 32
    assert len(base64.b64decode(doc["secrets"]["secretboxencryptionsecret"], validate=True)) == 32


def test_every_cert_and_key_is_base64_pem(doc: dict[str, Any]) -> None:
    labels = {"etcd": "EC", "k8s": "EC", "k8saggregator": "EC", "os": "ED25519"}
    for name, label in labels.items():
        assert pem(doc["certs"][name]["crt"]).startswith(b"-----BEGIN CERTIFICATE-----\n")
        assert pem(doc["certs"][name]["key"]).startswith(f"-----BEGIN {label} PRIVATE KEY-----\n".encode())
    assert pem(doc["certs"]["k8sserviceaccount"]["key"]).startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")


@pytest.mark.parametrize(
    ("name", "organization", "key_type"),
    [
        ("etcd", "etcd", ec.EllipticCurvePublicKey),
        ("k8s", "kubernetes", ec.EllipticCurvePublicKey),
        ("k8saggregator", None, ec.EllipticCurvePublicKey),
        ("os", "talos", ed25519.Ed25519PublicKey),
    ],
)
def test_cas_are_self_signed_talos_cas(doc: dict[str, Any], name: str, organization: str | None, key_type: type) -> None:
    ca = cert(doc["certs"][name]["crt"])
    ca.verify_directly_issued_by(ca)  # self-signed: raises if the signature is wrong
    assert ca.issuer == ca.subject
    orgs = [a.value for a in ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ([organization] if organization else [])
    if organization is None:  # talos drops the aggregator's CommonName: empty subject
        assert len(ca.subject) == 0
    else:  # Go's pkix encodes it as a PrintableString (tag 0x13), not UTF8String
        assert bytes([0x13, len(organization)]) + organization.encode() in ca.subject.public_bytes()

    public = ca.public_key()
    assert isinstance(public, key_type)
    if isinstance(public, ec.EllipticCurvePublicKey):
        assert public.curve.name == "secp256r1"
        assert isinstance(ca.signature_hash_algorithm, hashes.SHA256)
        key = serialization.load_pem_private_key(pem(doc["certs"][name]["key"]), password=None)
    else:
        key = ed25519_key(doc["certs"][name]["key"])
    assert same_public(key.public_key(), public)

    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length is None
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.digital_signature
    eku = ca.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert len(ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest) == 20

    # Validity from `now` (truncated to whole seconds) for 87600h.
    start = NOW.replace(microsecond=0)
    assert ca.not_valid_before_utc == start
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == CA_VALIDITY == timedelta(days=3650)
    assert 0 < ca.serial_number < 2**128


def test_service_account_key_is_rsa_4096(doc: dict[str, Any]) -> None:
    key = serialization.load_pem_private_key(pem(doc["certs"]["k8sserviceaccount"]["key"]), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 4096
    assert key.public_key().public_numbers().e == 65537


def test_two_bundles_share_no_secret(doc: dict[str, Any]) -> None:
    other = yaml.safe_load(new_secrets_bundle(now=NOW))

    def leaves(node: Any, path: str = "") -> dict[str, str]:
        if isinstance(node, dict):
            return {k: v for key, sub in node.items() for k, v in leaves(sub, f"{path}.{key}").items()}
        return {path: node}

    mine, theirs = leaves(doc), leaves(other)
    assert mine.keys() == theirs.keys()
    assert all(mine[k] != theirs[k] for k in mine), [k for k in mine if mine[k] == theirs[k]]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        new_secrets_bundle(now=datetime(2025, 1, 1))


# ------------------------------------------------------------------ parse_bundle


def test_bundle_round_trips(bundle: str, doc: dict[str, Any]) -> None:
    parsed = parse_bundle(bundle)
    certs = doc["certs"]
    assert parsed == TalosSecrets(
        cluster_id=doc["cluster"]["id"],
        cluster_secret=doc["cluster"]["secret"],
        bootstrap_token=doc["secrets"]["bootstraptoken"],
        secretbox_secret=doc["secrets"]["secretboxencryptionsecret"],
        trustd_token=doc["trustdinfo"]["token"],
        etcd=CertKey(certs["etcd"]["crt"], certs["etcd"]["key"]),
        k8s=CertKey(certs["k8s"]["crt"], certs["k8s"]["key"]),
        k8s_aggregator=CertKey(certs["k8saggregator"]["crt"], certs["k8saggregator"]["key"]),
        os=CertKey(certs["os"]["crt"], certs["os"]["key"]),
        service_account_key=certs["k8sserviceaccount"]["key"],
    )
    assert parsed.os.crt == certs["os"]["crt"] and parsed.os.key == certs["os"]["key"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.cluster_id = "x"  # type: ignore[misc]


_DELETE = object()  # marks a key to remove in _broken


def _broken(doc: dict[str, Any], path: str, value: Any) -> str:
    copy = json.loads(json.dumps(doc))
    *parents, last = path.split(".")
    node = copy
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return yaml.safe_dump(copy)



@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("certs.os", _DELETE, r"certs\.os\.crt is missing"),
        ("cluster.id", "", r"cluster\.id must be a non-empty string"),
        ("trustdinfo.token", 12, r"trustdinfo\.token must be a non-empty string"),
        ("cluster.secret", "not base64!", r"cluster\.secret is not valid base64"),
        ("cluster.secret", base64.b64encode(b"short").decode(), r"cluster\.secret must decode to 32 bytes"),
        ("secrets.secretboxencryptionsecret", _DELETE, r"secretboxencryptionsecret is missing"),
        ("secrets.bootstraptoken", "ABCDEF.0123456789abcdef", r"bootstraptoken must look like"),
        ("certs.k8s.crt", base64.b64encode(b"hello").decode(), r"certs\.k8s\.crt is not a base64-encoded PEM cert"),
        ("certs.etcd.key", base64.b64encode(b"hello").decode(), r"certs\.etcd\.key is not a base64-encoded"),
        ("certs.k8sserviceaccount.key", "%%%", r"k8sserviceaccount\.key is not valid base64"),
    ],
)
def test_parse_bundle_names_the_bad_field(doc: dict[str, Any], path: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_bundle(_broken(doc, path, value))


def test_parse_bundle_rejects_a_key_from_another_ca(doc: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"certs\.etcd\.key does not match certs\.etcd\.crt"):
        parse_bundle(_broken(doc, "certs.etcd.key", doc["certs"]["k8s"]["key"]))


@pytest.mark.parametrize("text", ["", "just a string", "- a\n- list\n", "cluster: [unclosed", "\x00\x01"])
def test_parse_bundle_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bundle(text)


# ------------------------------------------------------------------ admin client


def test_admin_client_is_an_os_admin_client_cert(doc: dict[str, Any], client: str) -> None:
    assert list(yaml.safe_load(client)) == ["crt", "key"]
    crt, key = parse_admin_client(client)
    leaf, ca = cert(crt), cert(doc["certs"]["os"]["crt"])
    leaf.verify_directly_issued_by(ca)
    ca_public = ca.public_key()
    assert isinstance(ca_public, ed25519.Ed25519PublicKey)
    ca_public.verify(leaf.signature, leaf.tbs_certificate_bytes)  # the same check, by hand
    assert leaf.issuer == ca.subject
    assert [a.value for a in leaf.subject] == ["os:admin"]
    assert b"\x13\x08os:admin" in leaf.subject.public_bytes()  # PrintableString, as Go writes it
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "os:admin"
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert isinstance(leaf.public_key(), ed25519.Ed25519PublicKey)
    assert same_public(ed25519_key(key).public_key(), leaf.public_key())
    assert leaf.not_valid_before_utc == NOW.replace(microsecond=0)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == ADMIN_VALIDITY == timedelta(days=365)


def test_parse_admin_client_rejects_mismatches_and_garbage(bundle: str, client: str) -> None:
    other = yaml.safe_load(new_admin_client(bundle, now=NOW))
    mixed = yaml.safe_dump({"crt": yaml.safe_load(client)["crt"], "key": other["key"]})
    with pytest.raises(ValueError, match="does not match"):
        parse_admin_client(mixed)
    with pytest.raises(ValueError, match="crt is missing"):
        parse_admin_client("key: abc\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        parse_admin_client("crt: [")


def test_new_admin_client_needs_a_valid_bundle() -> None:
    with pytest.raises(ValueError):
        new_admin_client("cluster: {}\n")


# ------------------------------------------------------------------ talosconfig


def test_talosconfig_has_talosctls_shape_and_values(bundle: str, doc: dict[str, Any], client: str) -> None:
    text = talosconfig("homelab", ["10.0.0.10", "cp.lan"], ["10.0.0.10", "10.0.0.11"], bundle, client)
    crt, key = parse_admin_client(client)
    ca = doc["certs"]["os"]["crt"]
    assert text == (
        "context: homelab\n"
        "contexts:\n"
        "    homelab:\n"
        "        endpoints:\n"
        "            - 10.0.0.10\n"
        "            - cp.lan\n"
        "        nodes:\n"
        "            - 10.0.0.10\n"
        "            - 10.0.0.11\n"
        f"        ca: {ca}\n"
        f"        crt: {crt}\n"
        f"        key: {key}\n"
    )
    assert yaml.safe_load(text) == {
        "context": "homelab",
        "contexts": {
            "homelab": {
                "endpoints": ["10.0.0.10", "cp.lan"],
                "nodes": ["10.0.0.10", "10.0.0.11"],
                "ca": ca,
                "crt": crt,
                "key": key,
            }
        },
    }


def test_talosconfig_omits_empty_nodes(bundle: str, client: str) -> None:
    parsed = yaml.safe_load(talosconfig("c", ["192.0.2.1"], [], bundle, client))
    assert list(parsed["contexts"]["c"]) == ["endpoints", "ca", "crt", "key"]


def test_talosconfig_refuses_a_client_from_another_cluster(client: str) -> None:
    with pytest.raises(ValueError, match="not issued by this bundle's os CA"):
        talosconfig("c", ["192.0.2.1"], [], new_secrets_bundle(now=NOW), client)


# ------------------------------------------------------------------ Talos schema


def _minimal_machine_config(s: TalosSecrets) -> dict[str, Any]:
    def pair(p: CertKey) -> dict[str, str]:
        return {"crt": p.crt, "key": p.key}

    return {
        "version": "v1alpha1",
        "machine": {"type": "controlplane", "token": s.trustd_token, "ca": pair(s.os)},
        "cluster": {
            "id": s.cluster_id,
            "secret": s.cluster_secret,
            "token": s.bootstrap_token,
            "secretboxEncryptionSecret": s.secretbox_secret,
            "ca": pair(s.k8s),
            "aggregatorCA": pair(s.k8s_aggregator),
            "serviceAccount": {"key": s.service_account_key},
            "etcd": {"ca": pair(s.etcd)},
        },
    }


@pytest.mark.skipif(not SCHEMA.is_file(), reason=f"Talos v1.13 config schema not present at {SCHEMA}")
def test_parsed_secrets_fill_a_schema_valid_machine_config(bundle: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    config = _minimal_machine_config(parse_bundle(bundle))
    errors = [e.message for e in validator.iter_errors(config)]
    assert errors == []
    # The schema really constrains these fields: a CA given as a bare string fails.
    config["machine"]["ca"] = config["machine"]["ca"]["crt"]
    assert not validator.is_valid(config)
