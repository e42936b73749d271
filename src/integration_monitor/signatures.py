"""Digital signatures on national-database records: a local test PKI, signing and verification.

Two signature shapes travel in a record's ``_signature`` member:

- JSON records carry ``{"algorithm", "value", "certificate", "signed_at"}``. The signed bytes
  are the record without ``_signature``, serialised by :func:`canonical_record_bytes`.
  ``ECDSA-P256-SHA256`` values are DER-encoded ECDSA signatures; ``RSASSA-PSS-SHA256`` values
  use MGF1-SHA256 with a 32-byte salt. Both are base64 (standard alphabet, padded).
- Health claim records carry ``{"algorithm": "XMLDSIG-RSA-SHA256", "document"}``: a base64 XML
  claim document whose ``CHUKYDONVI`` element contains an enveloped XML-DSig signature
  (RSA-SHA256, SHA-256 digests) with the signer's X.509 certificate in ``KeyInfo``.

:func:`verify_record` checks the signer certificate against trusted CA certificates, its
validity at a given time, the signature itself and, for XML, that the signed content equals
the JSON record. Every failure has a named kind (:class:`SignatureFailure`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import signxml
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.exceptions import InvalidInput as XmlInvalidInput
from signxml.exceptions import InvalidSignature as XmlInvalidSignature

SIGNATURE_FIELD = "_signature"
RECORD_ID_FIELD = "_id"

ECDSA_P256_SHA256 = "ECDSA-P256-SHA256"
RSASSA_PSS_SHA256 = "RSASSA-PSS-SHA256"
XMLDSIG_RSA_SHA256 = "XMLDSIG-RSA-SHA256"
JSON_ALGORITHMS = (ECDSA_P256_SHA256, RSASSA_PSS_SHA256)

PSS_SALT_BYTES = 32
MIN_RSA_BITS = 2048

DSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
CLAIM_ROOT = "GIAMDINHHS"
CLAIM_SIGNATURE_PARENT = "CHUKYDONVI"
CLAIM_RECORD = "HOSO"
CLAIM_FILE = "FILEHOSO"
CLAIM_FILE_KIND = "LOAIHOSO"
CLAIM_FILE_CONTENT = "NOIDUNGFILE"
CLAIM_DEFAULT_GROUP = "XML1"

# The typed value of a claim field travels in this attribute; strings have none.
CLAIM_TYPE_ATTRIBUTE = "type"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class SignatureFailure(StrEnum):
    MISSING = "missing"  # no _signature, or null
    MALFORMED = "malformed"  # cannot be decoded: bad structure, base64, certificate or XML
    INVALID = "invalid"  # decodes, but the signature does not match the signed bytes
    UNKNOWN_CA = "unknown_ca"  # the signer certificate is not issued by a trusted CA
    EXPIRED = "expired"  # the signer or CA certificate is outside its validity period
    CONTENT_MISMATCH = "content_mismatch"  # the signed XML document differs from the JSON record


@dataclass(frozen=True)
class SignatureCheck:
    """Outcome of checking one record's signature. ``detail`` never contains record values."""

    present: bool
    valid: bool
    reason: SignatureFailure | None = None
    algorithm: str | None = None
    detail: str = ""


class KeyAlgorithm(StrEnum):
    ECDSA_P256 = "ecdsa-p256"
    RSA_PSS_2048 = "rsa-pss-2048"


# --- canonical form and JSON signatures -------------------------------------------------


def canonical_record_bytes(record: Mapping[str, Any]) -> bytes:
    """Serialise a record without ``_signature`` to the bytes that its JSON signature covers."""
    content = {key: value for key, value in record.items() if key != SIGNATURE_FIELD}
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class SigningIdentity:
    """A private key and the certificate that binds it to a name."""

    private_key: PrivateKey
    certificate: x509.Certificate

    @cached_property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def json_algorithm(self) -> str:
        if isinstance(self.private_key, ec.EllipticCurvePrivateKey):
            return ECDSA_P256_SHA256
        return RSASSA_PSS_SHA256


def sign_json_record(record: Mapping[str, Any], identity: SigningIdentity, signed_at: dt.datetime) -> dict[str, str]:
    """Sign a record's canonical bytes and return its ``_signature`` object."""
    data = canonical_record_bytes(record)
    key = identity.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        value = key.sign(data, ec.ECDSA(hashes.SHA256()))
    else:
        value = key.sign(data, _pss_padding(), hashes.SHA256())
    return {
        "algorithm": identity.json_algorithm,
        "value": base64.b64encode(value).decode("ascii"),
        "certificate": identity.certificate_pem,
        "signed_at": signed_at.isoformat(timespec="seconds"),
    }


def _pss_padding() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_BYTES)


# --- XML claim documents ----------------------------------------------------------------


def build_claim_document(
    record: Mapping[str, Any],
    groups: Mapping[str, str] | None = None,
    facility_code: str | None = None,
) -> etree._Element:
    """Build an unsigned claim document that carries every field of ``record``.

    Fields are grouped into one ``FILEHOSO`` per table (``XML1``, ``XML7`` ...), as in the
    health insurance exchange files. ``groups`` maps a field code to its table, and fields
    missing from it go to ``XML1``. The document ends with an empty ``CHUKYDONVI`` that
    contains the signature placeholder.
    """
    root = etree.Element(CLAIM_ROOT)
    if facility_code is not None:
        unit = etree.SubElement(root, "THONGTINDONVI")
        etree.SubElement(unit, "MACSKCB").text = facility_code

    header = etree.SubElement(root, "THONGTINHOSO")
    etree.SubElement(header, "SOLUONGHOSO").text = "1"
    claim = etree.SubElement(etree.SubElement(header, "DANHSACHHOSO"), CLAIM_RECORD)

    contents: dict[str, etree._Element] = {}
    for code, value in record.items():
        if code == SIGNATURE_FIELD:
            continue
        if code == RECORD_ID_FIELD:
            write_claim_value(etree.SubElement(claim, RECORD_ID_FIELD), value)
            continue
        group = (groups or {}).get(code) or CLAIM_DEFAULT_GROUP
        if group not in contents:
            claim_file = etree.SubElement(claim, CLAIM_FILE)
            etree.SubElement(claim_file, CLAIM_FILE_KIND).text = group
            contents[group] = etree.SubElement(claim_file, CLAIM_FILE_CONTENT)
        write_claim_value(etree.SubElement(contents[group], code), value)

    signature_parent = etree.SubElement(root, CLAIM_SIGNATURE_PARENT)
    etree.SubElement(signature_parent, f"{{{DSIG_NAMESPACE}}}Signature", Id="placeholder", nsmap={"ds": DSIG_NAMESPACE})
    return root


def write_claim_value(element: etree._Element, value: Any) -> None:
    """Store a JSON value as the text of a claim field element, keeping its type."""
    element.attrib.pop(CLAIM_TYPE_ATTRIBUTE, None)
    if value is None:
        element.set(CLAIM_TYPE_ATTRIBUTE, "null")
        element.text = None
    elif isinstance(value, bool):
        element.set(CLAIM_TYPE_ATTRIBUTE, "boolean")
        element.text = "true" if value else "false"
    elif isinstance(value, int):
        element.set(CLAIM_TYPE_ATTRIBUTE, "integer")
        element.text = str(value)
    elif isinstance(value, float):
        element.set(CLAIM_TYPE_ATTRIBUTE, "number")
        element.text = repr(value)
    elif isinstance(value, str):
        element.text = value
    else:
        raise TypeError(f"claim field {element.tag} has unsupported type {type(value).__name__}")


def read_claim_value(element: etree._Element) -> Any:
    """Return the JSON value stored in a claim field element; raise ``ValueError`` if it is garbled."""
    kind = element.get(CLAIM_TYPE_ATTRIBUTE)
    text = element.text or ""
    if kind is None:
        return text
    if kind == "null":
        return None
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    raise ValueError(f"claim field {element.tag} has unknown type {kind!r}")


def read_claim_record(root: etree._Element) -> dict[str, Any]:
    """Return the record carried by a claim document; raise ``ValueError`` if it is not one."""
    if root.tag != CLAIM_ROOT:
        raise ValueError(f"root element is {root.tag!r}, expected {CLAIM_ROOT}")
    claims = root.findall(f"THONGTINHOSO/DANHSACHHOSO/{CLAIM_RECORD}")
    if len(claims) != 1:
        raise ValueError(f"expected one {CLAIM_RECORD} element, found {len(claims)}")

    record: dict[str, Any] = {}
    identifier = claims[0].find(RECORD_ID_FIELD)
    if identifier is not None:
        record[RECORD_ID_FIELD] = read_claim_value(identifier)
    for content in claims[0].iterfind(f"{CLAIM_FILE}/{CLAIM_FILE_CONTENT}"):
        for element in content:
            if not isinstance(element.tag, str):
                continue
            if element.tag in record:
                raise ValueError(f"field {element.tag} appears twice")
            record[element.tag] = read_claim_value(element)
    return record


def sign_xml_record(
    record: Mapping[str, Any],
    identity: SigningIdentity,
    groups: Mapping[str, str] | None = None,
    facility_code: str | None = None,
) -> dict[str, str]:
    """Sign a record as an XML claim document and return its ``_signature`` object."""
    if not isinstance(identity.private_key, rsa.RSAPrivateKey):
        raise ValueError("XML claim documents are signed with RSA-SHA256, so the signer key must be RSA")
    document = build_claim_document(record, groups, facility_code)
    signer = signxml.XMLSigner(
        method=signxml.SignatureConstructionMethod.enveloped,
        signature_algorithm=signxml.SignatureMethod.RSA_SHA256,
        digest_algorithm=signxml.DigestAlgorithm.SHA256,
    )
    signed = signer.sign(document, key=identity.private_key, cert=[identity.certificate])
    encoded = etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
    return {"algorithm": XMLDSIG_RSA_SHA256, "document": base64.b64encode(encoded).decode("ascii")}


# --- trust and verification -------------------------------------------------------------


class TrustStore:
    """CA certificates that signer certificates must be issued by."""

    def __init__(self, anchors: Iterable[x509.Certificate]) -> None:
        self.anchors = tuple(anchors)
        if not self.anchors:
            raise ValueError("a trust store needs at least one CA certificate")
        self._issuers: dict[bytes, x509.Certificate | None] = {}

    @classmethod
    def from_pem(cls, data: bytes | str) -> TrustStore:
        raw = data.encode("ascii") if isinstance(data, str) else data
        return cls(x509.load_pem_x509_certificates(raw))

    @classmethod
    def from_file(cls, path: Path | str) -> TrustStore:
        return cls.from_pem(Path(path).read_bytes())

    def issuer_of(self, certificate: x509.Certificate) -> x509.Certificate | None:
        """Return the trusted CA whose key signed ``certificate``, or None."""
        fingerprint = certificate.fingerprint(hashes.SHA256())
        if fingerprint not in self._issuers:
            self._issuers[fingerprint] = self._find_issuer(certificate)
        return self._issuers[fingerprint]

    def _find_issuer(self, certificate: x509.Certificate) -> x509.Certificate | None:
        for anchor in self.anchors:
            if anchor.subject != certificate.issuer:
                continue
            try:
                certificate.verify_directly_issued_by(anchor)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                continue
            return anchor
        return None


def verify_record(
    record: Mapping[str, Any],
    trust: TrustStore | x509.Certificate,
    now: dt.datetime,
) -> SignatureCheck:
    """Check the ``_signature`` of one record received from a national database.

    ``now`` is the time at which both certificates must be valid; a naive datetime is taken
    as UTC. The signature time in ``signed_at`` is not trusted for this.
    """
    store = trust if isinstance(trust, TrustStore) else TrustStore([trust])
    moment = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)

    signature = record.get(SIGNATURE_FIELD)
    if signature is None:
        return SignatureCheck(present=False, valid=False, reason=SignatureFailure.MISSING, detail="no _signature")
    if not isinstance(signature, Mapping):
        return _failure(SignatureFailure.MALFORMED, None, "_signature is not an object")

    algorithm = signature.get("algorithm")
    if algorithm in JSON_ALGORITHMS:
        return _verify_json(record, signature, store, moment)
    if algorithm == XMLDSIG_RSA_SHA256:
        return _verify_xml(record, signature, store, moment)
    return _failure(SignatureFailure.MALFORMED, None, "algorithm is missing or not supported")


def _failure(reason: SignatureFailure, algorithm: str | None, detail: str) -> SignatureCheck:
    return SignatureCheck(present=True, valid=False, reason=reason, algorithm=algorithm, detail=detail)


def _verify_json(
    record: Mapping[str, Any], signature: Mapping[str, Any], store: TrustStore, now: dt.datetime
) -> SignatureCheck:
    algorithm = signature["algorithm"]
    value = signature.get("value")
    certificate_pem = signature.get("certificate")
    signed_at = signature.get("signed_at")
    if not isinstance(value, str) or not isinstance(certificate_pem, str):
        return _failure(SignatureFailure.MALFORMED, algorithm, "value or certificate is missing")
    if signed_at is not None and not _is_iso_datetime(signed_at):
        return _failure(SignatureFailure.MALFORMED, algorithm, "signed_at is not an ISO datetime")
    try:
        raw_signature = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return _failure(SignatureFailure.MALFORMED, algorithm, "value is not base64")
    try:
        certificate = _load_pem_certificate(certificate_pem)
    except ValueError:
        return _failure(SignatureFailure.MALFORMED, algorithm, "certificate is not a PEM X.509 certificate")

    problem = _check_certificate(certificate, store, now)
    if problem is not None:
        return _failure(problem[0], algorithm, problem[1])

    public_key = certificate.public_key()
    data = canonical_record_bytes(record)
    try:
        if algorithm == ECDSA_P256_SHA256:
            if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
                return _failure(SignatureFailure.INVALID, algorithm, "certificate key is not ECDSA P-256")
            public_key.verify(raw_signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size < MIN_RSA_BITS:
                return _failure(SignatureFailure.INVALID, algorithm, f"certificate key is not RSA >= {MIN_RSA_BITS} bits")
            public_key.verify(raw_signature, data, _pss_verification_padding(), hashes.SHA256())
    except InvalidSignature:
        return _failure(SignatureFailure.INVALID, algorithm, "signature does not match the record")
    return SignatureCheck(present=True, valid=True, algorithm=algorithm)


def _pss_verification_padding() -> padding.PSS:
    # Any salt length is accepted: the contract fixes the hash and MGF, not the salt.
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)


def _is_iso_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _verify_xml(
    record: Mapping[str, Any], signature: Mapping[str, Any], store: TrustStore, now: dt.datetime
) -> SignatureCheck:
    algorithm = XMLDSIG_RSA_SHA256
    document = signature.get("document")
    if not isinstance(document, str):
        return _failure(SignatureFailure.MALFORMED, algorithm, "document is missing")
    try:
        raw_document = base64.b64decode(document, validate=True)
        root = etree.fromstring(raw_document, parser=_XML_PARSER)
    except (binascii.Error, ValueError, etree.XMLSyntaxError):
        return _failure(SignatureFailure.MALFORMED, algorithm, "document is not base64 XML")
    if root.getroottree().docinfo.doctype:
        return _failure(SignatureFailure.MALFORMED, algorithm, "document has a DOCTYPE")

    certificate_element = root.find(
        f"{CLAIM_SIGNATURE_PARENT}/{{{DSIG_NAMESPACE}}}Signature/{{{DSIG_NAMESPACE}}}KeyInfo/"
        f"{{{DSIG_NAMESPACE}}}X509Data/{{{DSIG_NAMESPACE}}}X509Certificate"
    )
    if certificate_element is None or not certificate_element.text:
        return _failure(SignatureFailure.MALFORMED, algorithm, f"no X509Certificate in {CLAIM_SIGNATURE_PARENT}")
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode("".join(certificate_element.text.split())))
    except (binascii.Error, ValueError):
        return _failure(SignatureFailure.MALFORMED, algorithm, "X509Certificate is not a DER certificate")

    problem = _check_certificate(certificate, store, now)
    if problem is not None:
        return _failure(problem[0], algorithm, problem[1])

    expected = signxml.SignatureConfiguration(
        location=f"./{CLAIM_SIGNATURE_PARENT}/",
        signature_methods=frozenset({signxml.SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({signxml.DigestAlgorithm.SHA256}),
        verification_time=now,
    )
    try:
        result = signxml.XMLVerifier().verify(raw_document, x509_cert=certificate, expect_config=expected)
    except XmlInvalidInput:
        return _failure(SignatureFailure.MALFORMED, algorithm, "XML signature structure is not as expected")
    except XmlInvalidSignature:
        return _failure(SignatureFailure.INVALID, algorithm, "XML signature does not match the document")

    # Only the content that the signature covers is compared, never the document as received.
    try:
        signed_record = read_claim_record(result.signed_xml)
    except ValueError:
        return _failure(SignatureFailure.MALFORMED, algorithm, "signed document is not a claim document")
    if canonical_record_bytes(signed_record) != canonical_record_bytes(record):
        return _failure(SignatureFailure.CONTENT_MISMATCH, algorithm, "signed document differs from the record")
    return SignatureCheck(present=True, valid=True, algorithm=algorithm)


@lru_cache(maxsize=64)
def _load_pem_certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def _check_certificate(
    certificate: x509.Certificate, store: TrustStore, now: dt.datetime
) -> tuple[SignatureFailure, str] | None:
    anchor = store.issuer_of(certificate)
    if anchor is None:
        return SignatureFailure.UNKNOWN_CA, "signer certificate is not issued by a trusted CA"

    # A certificate that is not valid yet is reported as expired too: both are outside the
    # validity period, and the operator's action is the same.
    for checked, role in ((certificate, "signer"), (anchor, "CA")):
        if now < checked.not_valid_before_utc:
            return SignatureFailure.EXPIRED, f"{role} certificate is not valid yet"
        if now > checked.not_valid_after_utc:
            return SignatureFailure.EXPIRED, f"{role} certificate has expired"

    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not (usage.digital_signature or usage.content_commitment):
        return SignatureFailure.INVALID, "signer certificate is not allowed to sign"
    return None


# --- local test PKI ---------------------------------------------------------------------

PKI_ORGANIZATION = "integration-monitor test PKI (not for production)"
CA_COMMON_NAME = "Integration Monitor Stub Test CA"
CA_VALIDITY = dt.timedelta(days=3650)
SIGNER_VALIDITY = dt.timedelta(days=730)
CLOCK_SKEW = dt.timedelta(days=1)
EXPIRED_SIGNER_START = dt.timedelta(days=400)
EXPIRED_SIGNER_END = dt.timedelta(days=30)

# Each identity is stored as <name>.pem (certificate) and <name>.key.pem (private key).
PKI_IDENTITIES = (
    "ca",
    "json-signer",
    "xml-signer",
    "unknown-ca",
    "unknown-json-signer",
    "unknown-xml-signer",
    "expired-json-signer",
    "expired-xml-signer",
)


@dataclass(frozen=True)
class LocalPki:
    """Test CA with its signers, plus the identities that the signature faults use.

    ``unknown_ca`` has the same subject name as ``ca`` but a different key, so a verifier
    that compares names only would wrongly trust its signers. The ``expired_*`` signers are
    certified by the real CA but their validity ended 30 days before generation. XML claim
    documents are always signed with RSA keys; JSON records use ``key_algorithm``.
    """

    ca: SigningIdentity
    json_signer: SigningIdentity
    xml_signer: SigningIdentity
    unknown_ca: SigningIdentity
    unknown_json_signer: SigningIdentity
    unknown_xml_signer: SigningIdentity
    expired_json_signer: SigningIdentity
    expired_xml_signer: SigningIdentity

    @property
    def ca_pem(self) -> bytes:
        return self.ca.certificate.public_bytes(serialization.Encoding.PEM)

    def trust_store(self) -> TrustStore:
        return TrustStore([self.ca.certificate])

    @classmethod
    def generate(cls, key_algorithm: KeyAlgorithm = KeyAlgorithm.ECDSA_P256, now: dt.datetime | None = None) -> LocalPki:
        moment = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        valid_from = moment - CLOCK_SKEW
        ca = _self_signed_ca(_new_key(key_algorithm), CA_COMMON_NAME, valid_from, moment + CA_VALIDITY)
        unknown_ca = _self_signed_ca(_new_key(key_algorithm), CA_COMMON_NAME, valid_from, moment + CA_VALIDITY)

        def signer(issuer: SigningIdentity, name: str, key: PrivateKey, start: dt.datetime, end: dt.datetime) -> SigningIdentity:
            return SigningIdentity(key, _issue_signer_certificate(issuer, key, name, start, end))

        expired_start = moment - EXPIRED_SIGNER_START
        expired_end = moment - EXPIRED_SIGNER_END
        signer_end = moment + SIGNER_VALIDITY
        return cls(
            ca=ca,
            json_signer=signer(ca, "Stub National Data Signer", _new_key(key_algorithm), valid_from, signer_end),
            xml_signer=signer(ca, "Stub Health Claim Signer", _new_rsa_key(), valid_from, signer_end),
            unknown_ca=unknown_ca,
            unknown_json_signer=signer(unknown_ca, "Stub National Data Signer", _new_key(key_algorithm), valid_from, signer_end),
            unknown_xml_signer=signer(unknown_ca, "Stub Health Claim Signer", _new_rsa_key(), valid_from, signer_end),
            expired_json_signer=signer(ca, "Stub Expired Data Signer", _new_key(key_algorithm), expired_start, expired_end),
            expired_xml_signer=signer(ca, "Stub Expired Claim Signer", _new_rsa_key(), expired_start, expired_end),
        )

    def save(self, directory: Path) -> None:
        """Write every certificate and key as PEM; keys are unencrypted and readable by the owner only."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in PKI_IDENTITIES:
            identity: SigningIdentity = getattr(self, name.replace("-", "_"))
            (directory / f"{name}.pem").write_text(identity.certificate_pem, encoding="ascii")
            key_path = directory / f"{name}.key.pem"
            key_bytes = identity.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as key_file:
                key_file.write(key_bytes)

    @classmethod
    def load(cls, directory: Path) -> LocalPki:
        """Read a PKI written by :meth:`save`; raise ``FileNotFoundError`` naming a missing file."""
        identities: dict[str, SigningIdentity] = {}
        for name in PKI_IDENTITIES:
            certificate_path = directory / f"{name}.pem"
            key_path = directory / f"{name}.key.pem"
            for path in (certificate_path, key_path):
                if not path.is_file():
                    raise FileNotFoundError(f"test PKI file {path} is missing")
            certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
                raise ValueError(f"{key_path} contains a {type(key).__name__}, expected an EC or RSA key")
            identities[name.replace("-", "_")] = SigningIdentity(key, certificate)
        return cls(**identities)


def load_or_create_pki(
    directory: Path | None, key_algorithm: KeyAlgorithm = KeyAlgorithm.ECDSA_P256
) -> tuple[LocalPki, str]:
    """Load the test PKI from ``directory`` if it contains ``ca.pem``, else generate it and save it there.

    Returns the PKI and how it was obtained: ``"loaded"``, ``"generated"`` or ``"generated and saved"``.
    """
    if directory is not None and (directory / "ca.pem").is_file():
        return LocalPki.load(directory), "loaded"
    pki = LocalPki.generate(key_algorithm)
    if directory is None:
        return pki, "generated"
    pki.save(directory)
    return pki, "generated and saved"


def _new_key(key_algorithm: KeyAlgorithm) -> PrivateKey:
    if key_algorithm == KeyAlgorithm.ECDSA_P256:
        return ec.generate_private_key(ec.SECP256R1())
    return _new_rsa_key()


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, PKI_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _serial_number(*parts: object) -> int:
    # Random serials keep two generated PKIs apart; the hash only mixes in the purpose.
    digest = hashlib.sha256(os.urandom(16) + repr(parts).encode()).digest()
    return int.from_bytes(digest[:16], "big") >> 1


def _sign_certificate(builder: x509.CertificateBuilder, issuer_key: PrivateKey) -> x509.Certificate:
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        return builder.sign(issuer_key, hashes.SHA256(), rsa_padding=_pss_padding())
    return builder.sign(issuer_key, hashes.SHA256())


def _self_signed_ca(key: PrivateKey, common_name: str, start: dt.datetime, end: dt.datetime) -> SigningIdentity:
    name = _name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial_number("ca", common_name))
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return SigningIdentity(key, _sign_certificate(builder, key))


def _issue_signer_certificate(
    issuer: SigningIdentity, key: PrivateKey, common_name: str, start: dt.datetime, end: dt.datetime
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(_serial_number("signer", common_name))
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()), critical=False
        )
    )
    return _sign_certificate(builder, issuer.private_key)
