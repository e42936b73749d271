"""Record signatures: signing with the local test PKI and every failure kind of verify_record."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from lxml import etree

from integration_monitor.signatures import (
    ECDSA_P256_SHA256,
    RSASSA_PSS_SHA256,
    SIGNATURE_FIELD,
    XMLDSIG_RSA_SHA256,
    KeyAlgorithm,
    LocalPki,
    SignatureFailure,
    TrustStore,
    build_claim_document,
    canonical_record_bytes,
    load_or_create_pki,
    read_claim_record,
    sign_json_record,
    sign_xml_record,
    verify_record,
)

NOW = dt.datetime.now(dt.UTC)

RECORD: dict[str, Any] = {
    "_id": "8d0f6a52-6c1e-4c55-9f1e-0b7c2a1d9e10",
    "HO_VA_TEN": "Nguyễn Thị Lan",
    "GIOI_TINH": 2,
    "T_TONGCHI": 1250000.5,
    "CON_HIEU_LUC": True,
    "NGAY_RA": None,
    "GHI_CHU": "   ",
    "MA_RONG": "",
}


@pytest.fixture(scope="module", params=list(KeyAlgorithm))
def pki(request: pytest.FixtureRequest) -> LocalPki:
    return LocalPki.generate(request.param)


@pytest.fixture(scope="module")
def ecdsa_pki() -> LocalPki:
    return LocalPki.generate(KeyAlgorithm.ECDSA_P256)


def signed_json(pki: LocalPki, record: dict[str, Any] | None = None, signer: str = "json_signer") -> dict[str, Any]:
    content = dict(record or RECORD)
    content[SIGNATURE_FIELD] = sign_json_record(content, getattr(pki, signer), NOW)
    return content


def signed_xml(pki: LocalPki, record: dict[str, Any] | None = None, signer: str = "xml_signer") -> dict[str, Any]:
    content = dict(record or RECORD)
    content[SIGNATURE_FIELD] = sign_xml_record(content, getattr(pki, signer), {"NGAY_RA": "XML7"}, "01001")
    return content


def test_json_signature_verifies(pki: LocalPki) -> None:
    record = signed_json(pki)
    check = verify_record(record, pki.trust_store(), NOW)
    assert check.valid, check.detail
    assert check.present
    assert check.reason is None
    expected = ECDSA_P256_SHA256 if pki.json_signer.json_algorithm == ECDSA_P256_SHA256 else RSASSA_PSS_SHA256
    assert check.algorithm == expected


def test_json_signature_survives_json_round_trip(pki: LocalPki) -> None:
    received = json.loads(json.dumps(signed_json(pki), ensure_ascii=False))
    assert verify_record(received, TrustStore.from_pem(pki.ca_pem), NOW).valid


def test_changed_field_is_invalid(pki: LocalPki) -> None:
    record = signed_json(pki)
    record["HO_VA_TEN"] = "Nguyễn Thị Lam"
    check = verify_record(record, pki.trust_store(), NOW)
    assert not check.valid
    assert check.reason == SignatureFailure.INVALID


def test_added_field_is_invalid(ecdsa_pki: LocalPki) -> None:
    record = signed_json(ecdsa_pki)
    record["EXTRA"] = "x"
    assert verify_record(record, ecdsa_pki.trust_store(), NOW).reason == SignatureFailure.INVALID


def test_bool_and_int_are_not_confused(ecdsa_pki: LocalPki) -> None:
    record = signed_json(ecdsa_pki)
    record["CON_HIEU_LUC"] = 1
    assert verify_record(record, ecdsa_pki.trust_store(), NOW).reason == SignatureFailure.INVALID


def test_impostor_ca_with_same_name_is_unknown(pki: LocalPki) -> None:
    assert pki.unknown_ca.certificate.subject == pki.ca.certificate.subject
    record = signed_json(pki, signer="unknown_json_signer")
    check = verify_record(record, pki.trust_store(), NOW)
    assert check.reason == SignatureFailure.UNKNOWN_CA
    assert check.present


def test_expired_signer_is_expired(pki: LocalPki) -> None:
    record = signed_json(pki, signer="expired_json_signer")
    assert verify_record(record, pki.trust_store(), NOW).reason == SignatureFailure.EXPIRED


def test_signer_not_valid_yet_is_expired(ecdsa_pki: LocalPki) -> None:
    record = signed_json(ecdsa_pki)
    long_ago = NOW - dt.timedelta(days=30)
    assert verify_record(record, ecdsa_pki.trust_store(), long_ago).reason == SignatureFailure.EXPIRED


def test_signer_checked_at_given_time(ecdsa_pki: LocalPki) -> None:
    record = signed_json(ecdsa_pki)
    after_expiry = ecdsa_pki.json_signer.certificate.not_valid_after_utc + dt.timedelta(seconds=1)
    assert verify_record(record, ecdsa_pki.trust_store(), after_expiry).reason == SignatureFailure.EXPIRED
    assert verify_record(record, ecdsa_pki.trust_store(), after_expiry - dt.timedelta(days=1)).valid


def test_naive_time_is_utc(ecdsa_pki: LocalPki) -> None:
    record = signed_json(ecdsa_pki)
    assert verify_record(record, ecdsa_pki.trust_store(), NOW.replace(tzinfo=None)).valid


def test_missing_signature(ecdsa_pki: LocalPki) -> None:
    for record in (dict(RECORD), {**RECORD, SIGNATURE_FIELD: None}):
        check = verify_record(record, ecdsa_pki.trust_store(), NOW)
        assert not check.present
        assert not check.valid
        assert check.reason == SignatureFailure.MISSING


@pytest.mark.parametrize(
    "change",
    [
        lambda signature: "SIGNED",
        lambda signature: {**signature, "value": "***not-base64***"},
        lambda signature: {**signature, "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
        lambda signature: {key: value for key, value in signature.items() if key != "algorithm"},
        lambda signature: {**signature, "algorithm": "MD5-RSA"},
        lambda signature: {key: value for key, value in signature.items() if key != "value"},
        lambda signature: {**signature, "signed_at": "yesterday"},
    ],
    ids=["not-object", "bad-base64", "bad-certificate", "no-algorithm", "unknown-algorithm", "no-value", "bad-signed-at"],
)
def test_malformed_signatures(ecdsa_pki: LocalPki, change: Any) -> None:
    record = signed_json(ecdsa_pki)
    record[SIGNATURE_FIELD] = change(record[SIGNATURE_FIELD])
    check = verify_record(record, ecdsa_pki.trust_store(), NOW)
    assert check.present
    assert not check.valid
    assert check.reason == SignatureFailure.MALFORMED


def test_signature_from_other_key_is_invalid(ecdsa_pki: LocalPki) -> None:
    record = signed_json(ecdsa_pki)
    other = signed_json(ecdsa_pki, {**RECORD, "HO_VA_TEN": "Trần Văn B"})
    record[SIGNATURE_FIELD] = {**record[SIGNATURE_FIELD], "value": other[SIGNATURE_FIELD]["value"]}
    assert verify_record(record, ecdsa_pki.trust_store(), NOW).reason == SignatureFailure.INVALID


def test_canonical_bytes_ignore_key_order() -> None:
    reordered = dict(reversed(list(RECORD.items())))
    assert canonical_record_bytes(reordered) == canonical_record_bytes(RECORD)
    assert canonical_record_bytes({**RECORD, SIGNATURE_FIELD: {"x": 1}}) == canonical_record_bytes(RECORD)
    assert "Nguyễn".encode() in canonical_record_bytes(RECORD)


def test_xml_signature_verifies(ecdsa_pki: LocalPki) -> None:
    record = json.loads(json.dumps(signed_xml(ecdsa_pki)))
    check = verify_record(record, ecdsa_pki.trust_store(), NOW)
    assert check.valid, check.detail
    assert check.algorithm == XMLDSIG_RSA_SHA256


def test_xml_document_carries_record_in_chukydonvi(ecdsa_pki: LocalPki) -> None:
    record = signed_xml(ecdsa_pki)
    root = etree.fromstring(base64.b64decode(record[SIGNATURE_FIELD]["document"]))
    signature = root.find("CHUKYDONVI/{http://www.w3.org/2000/09/xmldsig#}Signature")
    assert signature is not None
    assert root.findtext("THONGTINDONVI/MACSKCB") == "01001"
    assert read_claim_record(root) == {key: value for key, value in RECORD.items()}
    kinds = [element.text for element in root.iter("LOAIHOSO")]
    assert kinds == ["XML1", "XML7"]


def test_xml_record_changed_is_content_mismatch(ecdsa_pki: LocalPki) -> None:
    record = signed_xml(ecdsa_pki)
    record["GIOI_TINH"] = 1
    check = verify_record(record, ecdsa_pki.trust_store(), NOW)
    assert check.reason == SignatureFailure.CONTENT_MISMATCH
    assert check.present


def test_xml_document_changed_is_invalid(ecdsa_pki: LocalPki) -> None:
    record = signed_xml(ecdsa_pki)
    document = base64.b64decode(record[SIGNATURE_FIELD]["document"])
    tampered = document.replace("Nguyễn Thị Lan".encode(), "Nguyễn Thị Lam".encode())
    assert tampered != document
    record["HO_VA_TEN"] = "Nguyễn Thị Lam"
    record[SIGNATURE_FIELD] = {**record[SIGNATURE_FIELD], "document": base64.b64encode(tampered).decode()}
    assert verify_record(record, ecdsa_pki.trust_store(), NOW).reason == SignatureFailure.INVALID


def test_xml_unknown_ca_and_expired(ecdsa_pki: LocalPki) -> None:
    unknown = signed_xml(ecdsa_pki, signer="unknown_xml_signer")
    expired = signed_xml(ecdsa_pki, signer="expired_xml_signer")
    assert verify_record(unknown, ecdsa_pki.trust_store(), NOW).reason == SignatureFailure.UNKNOWN_CA
    assert verify_record(expired, ecdsa_pki.trust_store(), NOW).reason == SignatureFailure.EXPIRED


@pytest.mark.parametrize(
    "document",
    [
        "***not-base64***",
        base64.b64encode(b"<GIAMDINHHS><THONGTINHOSO>").decode(),
        base64.b64encode(b"<GIAMDINHHS><CHUKYDONVI/></GIAMDINHHS>").decode(),
        base64.b64encode(b'<!DOCTYPE x [<!ENTITY a "b">]><GIAMDINHHS/>').decode(),
    ],
    ids=["not-base64", "not-xml", "no-certificate", "doctype"],
)
def test_xml_malformed_documents(ecdsa_pki: LocalPki, document: str) -> None:
    record = {**RECORD, SIGNATURE_FIELD: {"algorithm": XMLDSIG_RSA_SHA256, "document": document}}
    assert verify_record(record, ecdsa_pki.trust_store(), NOW).reason == SignatureFailure.MALFORMED


def test_xml_signing_needs_rsa(ecdsa_pki: LocalPki) -> None:
    with pytest.raises(ValueError, match="RSA"):
        sign_xml_record(RECORD, ecdsa_pki.json_signer)


def test_claim_document_has_placeholder() -> None:
    root = build_claim_document(RECORD)
    placeholder = root.find("CHUKYDONVI/{http://www.w3.org/2000/09/xmldsig#}Signature")
    assert placeholder is not None
    assert placeholder.get("Id") == "placeholder"


def test_pki_save_and_load(tmp_path: Path, ecdsa_pki: LocalPki) -> None:
    ecdsa_pki.save(tmp_path)
    assert (tmp_path / "ca.key.pem").stat().st_mode & 0o077 == 0
    loaded = LocalPki.load(tmp_path)
    assert loaded.ca_pem == ecdsa_pki.ca_pem
    record = signed_json(loaded)
    assert verify_record(record, ecdsa_pki.trust_store(), NOW).valid


def test_load_or_create_generates_then_loads(tmp_path: Path) -> None:
    first, origin = load_or_create_pki(tmp_path / "pki")
    assert origin == "generated and saved"
    second, origin = load_or_create_pki(tmp_path / "pki")
    assert origin == "loaded"
    assert second.ca_pem == first.ca_pem


def test_load_names_missing_file(tmp_path: Path, ecdsa_pki: LocalPki) -> None:
    ecdsa_pki.save(tmp_path)
    (tmp_path / "expired-xml-signer.key.pem").unlink()
    with pytest.raises(FileNotFoundError, match="expired-xml-signer.key.pem"):
        LocalPki.load(tmp_path)


def test_certificates_have_expected_shape(pki: LocalPki) -> None:
    ca = pki.ca.certificate
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    signer = pki.json_signer.certificate
    assert not signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert signer.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert pki.xml_signer.private_key.key_size >= 2048  # type: ignore[union-attr]
    assert pki.expired_json_signer.certificate.not_valid_after_utc < NOW


def test_trust_store_needs_a_certificate() -> None:
    with pytest.raises(ValueError):
        TrustStore([])
