"""Certificates: JCS canonical form, eddsa-jcs-2022 proof, offline verification, OB 3.0
shape, PDF rendering. Hostile input: every leaf tampered, keys removed/added, junk."""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.certificates import (
    CONTEXTS,
    CertificateStatus,
    b58decode,
    b58encode,
    did_key,
    key_id,
    public_key_from_verification_method,
    sign_credential,
    verify_credential,
)
from app.core.errors import CertificateError
from app.core.jcs import canonicalize
from sync_server.certificates import (
    Alignment,
    CourseAchievement,
    Issuer,
    Learner,
    build_credential,
    course_achievement,
    issue_credential,
    issuer_for,
    verify_url,
)
from sync_server.certificates_pdf import render_pdf

BASE = "https://learning.example.org"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def make_credential(language: str = "lt", **overrides: Any) -> dict[str, Any]:
    achievement = CourseAchievement(
        "promote-core", "boundaries", language, "Profesinės ribos", "Kaip atpažinti manipuliaciją",
        70, (Alignment("http://data.europa.eu/esco/skill/1", "taikyti deeskalavimo metodus"),
             Alignment("http://data.europa.eu/esco/skill/2", "laikytis etikos")))
    fields: dict[str, Any] = dict(
        credential_id="0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11",
        issuer=issuer_for(KEY, "Lietuvos kalėjimų tarnyba", BASE),
        learner=Learner("7d1e2f4a-1111-4222-8333-944455556666", "Žydrūnė Šėtonaitė", language),
        achievement=achievement, public_base_url=BASE,
        valid_from=datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
        awarded_at="2026-11-23T14:59:01.250Z", score=85)
    fields.update(overrides)
    return issue_credential(KEY, **fields)


def leaves(value: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def containers(value: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        yield path
        for key, item in value.items():
            yield from containers(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from containers(item, (*path, index))


def get(doc: Any, path: tuple) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value[:-1] + ("X" if not value.endswith("X") else "Y") if value else "X"
    return "X"


# ----------------------------------------------------------------------------- JCS

@pytest.mark.parametrize(("number", "expected"), [
    # RFC 8785 appendix B (IEEE 754 → ECMAScript)
    (0.0, "0"), (-0.0, "0"), (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
    (9007199254740992.0, "9007199254740992"), (295147905179352830000.0, "295147905179352830000"),
    (1e21, "1e+21"), (1e-7, "1e-7"), (0.000001, "0.000001"), (333333333.3333333, "333333333.3333333"),
    (-1.5, "-1.5"), (100.0, "100"), (1e23, "1e+23"),
])
def test_jcs_numbers_follow_ecmascript(number: float, expected: str) -> None:
    assert canonicalize(number).decode() == expected


def test_jcs_sorts_by_utf16_and_escapes_like_json() -> None:
    # RFC 8785 §3.2.3 sorting example: code units, not code points.
    obj = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
           "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}
    keys = list(json.loads(canonicalize(obj)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert canonicalize({"a": "x\n\u0001\"\\é", "b": [True, None, False]}) == \
        '{"a":"x\\n\\u0001\\"\\\\é","b":[true,null,false]}'.encode()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1: "x"}, {"a": {1, 2}}, "\ud800", b"x"])
def test_jcs_rejects_what_json_cannot_carry(bad: Any) -> None:
    with pytest.raises(CertificateError):
        canonicalize(bad)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_jcs_round_trips_through_json(value: Any) -> None:
    text = canonicalize(value)
    assert canonicalize(json.loads(text)) == text


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k != "proof"),
                       json_values, max_size=5))
def test_any_document_signs_and_verifies_but_not_with_another_key(extra: dict) -> None:
    signed = sign_credential({**make_unsigned(), **{f"x-{k}": v for k, v in extra.items()}}, KEY)
    assert verify_credential(signed, [KEY.public_key()]).genuine
    assert verify_credential(signed, [OTHER.public_key()]).status is CertificateStatus.UNKNOWN_KEY


def deeply_nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def make_unsigned() -> dict[str, Any]:
    return {k: v for k, v in make_credential().items() if k != "proof"}


# ----------------------------------------------------------------------------- keys

def test_base58_and_did_key_round_trip() -> None:
    for data in (b"", b"\0\0abc", bytes(range(64))):
        assert b58decode(b58encode(data)) == data
    did = did_key(KEY.public_key())
    assert did.startswith("did:key:z6Mk")
    assert public_key_from_verification_method(f"{did}#{did[8:]}") \
        .public_bytes_raw() == KEY.public_key().public_bytes_raw()
    with pytest.raises(ValueError):
        public_key_from_verification_method(f"{did}#z6MkOther")


def test_trusted_keys_accepted_in_every_form() -> None:
    cred = make_credential()
    pub = KEY.public_key()
    raw = pub.public_bytes_raw()
    pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for form in (pub, raw, pem, pem.decode(), base64.b64encode(raw).decode(), did_key(pub), [raw]):
        assert verify_credential(cred, form if isinstance(form, list) else [form]).genuine
    assert verify_credential(cred, raw).genuine  # a single key, not in a list
    with pytest.raises(CertificateError):
        verify_credential(cred, ["not a key"])


# ----------------------------------------------------------------------------- verification

def test_genuine_credential_is_open_badges_shaped() -> None:
    cred = make_credential()
    result = verify_credential(cred, [OTHER.public_key(), KEY.public_key()])
    assert result.status is CertificateStatus.GENUINE and result.genuine
    assert result.key_id == key_id(KEY.public_key())
    assert result.credential_id == "urn:uuid:0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11"
    assert cred["@context"] == CONTEXTS
    assert cred["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert cred["issuer"]["type"] == ["Profile"]
    subject = cred["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["identifier"] == [{"type": "IdentityObject", "identityType": "name",
                                      "hashed": False, "identityHash": "Žydrūnė Šėtonaitė"}]
    assert cred["issuer"]["id"] == did_key(KEY.public_key())
    assert cred["proof"]["verificationMethod"].partition("#")[0] == cred["issuer"]["id"]
    achievement_id = subject["achievement"]["id"]
    assert subject["result"] == [{"type": ["Result"], "value": "85",
                                  "resultDescription": f"{achievement_id}#quiz-score"}]
    assert subject["achievement"]["resultDescription"] == [{
        "id": f"{achievement_id}#quiz-score", "type": ["ResultDescription"],
        "name": "Baigiamojo testo rezultatas (procentais)", "resultType": "Percent",
        "requiredValue": "70", "valueMin": "0", "valueMax": "100"}]
    assert [a["targetUrl"] for a in subject["achievement"]["alignment"]] == \
        ["http://data.europa.eu/esco/skill/1", "http://data.europa.eu/esco/skill/2"]
    assert subject["achievement"]["criteria"]["narrative"].startswith("Išklausytos")
    assert cred["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    # deterministic: same input, same bytes (Ed25519 is deterministic)
    assert canonicalize(make_credential()) == canonicalize(cred)


def test_tampering_with_any_leaf_fails() -> None:
    cred = make_credential()
    paths = list(leaves(cred))
    assert len(paths) > 40
    for path in paths:
        bad = copy.deepcopy(cred)
        parent = get(bad, path[:-1])
        parent[path[-1]] = changed(parent[path[-1]])
        result = verify_credential(bad, [KEY.public_key()])
        assert not result.genuine, f"changing {path} went unnoticed"
        # a re-typed leaf is also refused
        parent[path[-1]] = [parent[path[-1]]]
        assert not verify_credential(bad, [KEY.public_key()]).genuine, path


def test_removing_or_adding_any_member_fails() -> None:
    cred = make_credential()
    for path in containers(cred):
        container = get(cred, path)
        if isinstance(container, dict):
            for key in container:
                bad = copy.deepcopy(cred)
                del get(bad, path)[key]
                assert not verify_credential(bad, [KEY.public_key()]).genuine, (*path, key)
        bad = copy.deepcopy(cred)
        target = get(bad, path)
        if isinstance(target, dict):
            target["extra"] = "injected"
        assert not verify_credential(bad, [KEY.public_key()]).genuine, path
    for path in leaves(cred):  # append to every list the leaf is in
        if isinstance(path[-1], int):
            bad = copy.deepcopy(cred)
            get(bad, path[:-1]).append("injected")
            assert not verify_credential(bad, [KEY.public_key()]).genuine, path


def test_swapping_proof_between_credentials_fails() -> None:
    one = make_credential()
    two = make_credential(credential_id=str(uuid.uuid4()))
    assert not verify_credential({**one, "proof": two["proof"]}, [KEY.public_key()]).genuine


def test_resigned_by_attacker_key_is_unknown_key() -> None:
    unsigned = make_unsigned() | {"name": "Forged"}
    own_issuer = {**unsigned["issuer"], "id": did_key(OTHER.public_key())}
    forged = sign_credential(unsigned | {"issuer": own_issuer}, OTHER)
    result = verify_credential(forged, [KEY.public_key()])
    assert result.status is CertificateStatus.UNKNOWN_KEY
    assert result.key_id == key_id(OTHER.public_key())
    # keeping the real issuer's did:key with another signing key: the issuer does not
    # control the verification method (what @digitalbazaar/vc checks as well)
    posing = verify_credential(sign_credential(unsigned, OTHER), [KEY.public_key(),
                                                                  OTHER.public_key()])
    assert posing.status is CertificateStatus.MALFORMED
    assert "controller" in posing.reason


@pytest.mark.parametrize("junk", [
    None, [], "text", 42, {}, {"proof": None}, {"proof": {"type": "Ed25519Signature2020"}},
    {"@context": CONTEXTS, "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
                                     "proofPurpose": "assertionMethod", "created": "yesterday"}},
])
def test_junk_is_malformed_never_an_exception(junk: Any) -> None:
    assert verify_credential(junk, [KEY.public_key()]).status is CertificateStatus.MALFORMED


@pytest.mark.parametrize(("path", "value"), [
    (("proof", "proofValue"), "not-base58!"), (("proof", "proofValue"), "z" + "1" * 10),
    (("proof", "verificationMethod"), "https://evil.example/key"),
    (("proof", "verificationMethod"), "did:key:z" + b58encode(b"\xec\x01" + bytes(32))),
    (("proof", "@context"), ["https://www.w3.org/ns/credentials/v2"]),
    (("@context",), ["https://www.w3.org/ns/credentials/v2"]),
    (("type",), ["VerifiableCredential"]), (("id",), "urn:uuid:not-a-uuid"),
    (("id",), "https://x/1"), (("issuer",), "https://issuer"), (("validFrom",), "23/11/2026"),
    (("credentialSubject",), {"type": ["AchievementSubject"]}),
    (("name",), float("nan")), (("name",), "\ud800"), (("name",), "x" * 70_000),
    (("name",), deeply_nested(5000)), (("credentialSubject", "achievement", "name"), 12),
])
def test_hostile_fields_are_refused(path: tuple, value: Any) -> None:
    bad = copy.deepcopy(make_credential())
    get(bad, path[:-1])[path[-1]] = value
    result = verify_credential(bad, [KEY.public_key()])
    assert result.status in (CertificateStatus.MALFORMED, CertificateStatus.TAMPERED)
    assert result.reason


def test_sign_rejects_bad_input() -> None:
    with pytest.raises(CertificateError):
        sign_credential(make_credential(), KEY)  # already signed
    with pytest.raises(CertificateError):
        sign_credential("x", KEY)  # type: ignore[arg-type]
    with pytest.raises(CertificateError):
        sign_credential(make_unsigned(), KEY, created=datetime(2026, 1, 1))


# ----------------------------------------------------------------------------- building

MANIFEST = {
    "id": "promote-core", "version": 3, "default_language": "en", "languages": ["en", "lt", "ro"],
    "skills": {"deesc": {"uri": "http://data.europa.eu/esco/skill/d", "label": {"en": "de-escalate", "lt": "deeskaluoti"}},
               "local": {"uri": "", "label": {"en": "local skill"}}},
    "courses": [{"id": "boundaries", "title": {"en": "Boundaries", "lt": "Ribos", "ro": "Limite"},
                 "summary": {"en": "Why boundaries matter"}, "skills": ["deesc", "local", "missing"],
                 "pass_mark": 70}],
}


def test_course_achievement_from_manifest() -> None:
    lt = course_achievement(MANIFEST, "boundaries", "lt")
    assert (lt.name, lt.description, lt.pass_mark) == ("Ribos", "Why boundaries matter", 70)
    assert lt.skills == (Alignment("http://data.europa.eu/esco/skill/d", "deeskaluoti"),)
    de = course_achievement(MANIFEST, "boundaries", "de")  # not a pack language → default
    assert (de.language, de.name) == ("en", "Boundaries")
    with pytest.raises(CertificateError, match="nope"):
        course_achievement(MANIFEST, "nope", "en")
    with pytest.raises(CertificateError):
        course_achievement([], "boundaries", "en")  # type: ignore[arg-type]


def test_build_rejects_bad_fields() -> None:
    with pytest.raises(CertificateError):
        make_credential(credential_id="not-a-uuid")
    with pytest.raises(CertificateError):
        make_credential(learner=Learner("x", "   "))
    with pytest.raises(CertificateError):
        make_credential(valid_from=datetime(2026, 1, 1))
    with pytest.raises(CertificateError, match="did:key"):   # an issuer the proof cannot back
        make_credential(issuer=Issuer("https://learning.example.org/issuer", "Org"))
    unsigned = build_credential(
        credential_id=str(uuid.uuid4()), issuer=issuer_for(KEY, "Org"),
        learner=Learner("not-a-uuid", "Ann"), achievement=course_achievement(MANIFEST, "boundaries", "en"),
        public_base_url=BASE + "/", valid_from=datetime.now(UTC))
    assert "id" not in unsigned["credentialSubject"]  # learner id is not a UUID → no subject id
    assert unsigned["credentialSubject"]["achievement"]["id"] == f"{BASE}/achievements/promote-core/boundaries"


def test_verify_url() -> None:
    assert verify_url(BASE + "/", "urn:uuid:0B5A3F7E-7F0E-4C2A-9D55-5D1B0A7C9E11") == \
        f"{BASE}/verify/0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11"


# ----------------------------------------------------------------------------- PDF

@pytest.mark.parametrize(("language", "title", "name"), [
    ("lt", "Baigimo pažymėjimas", "Žydrūnė Šėtonaitė"),
    ("ro", "Certificat de absolvire", "Ștefan Țăranu"),
    ("en", "Certificate of completion", "Ann Smith"),
])
def test_pdf_is_one_page_in_the_learners_language(tmp_path, language: str, title: str,
                                                  name: str) -> None:
    cred = make_credential(language, learner=Learner(str(uuid.uuid4()), name, language))
    pdf = render_pdf(cred, public_base_url=BASE)
    assert pdf.startswith(b"%PDF-") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + \
        pdf.count(b"/Type /Page>") >= 1
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed: text not checked")
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Pages:           1" in info
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    assert title in out and name in out
    assert "0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11" in out.replace("\n", "").replace(" ", "")
    if shutil.which("zbarimg") and shutil.which("pdftoppm"):  # decode the QR code itself
        subprocess.run(["pdftoppm", "-png", "-r", "150", str(path), str(tmp_path / "page")],
                       check=True)
        png = next(tmp_path.glob("page*.png"))
        qr = subprocess.run(["zbarimg", "-q", "--raw", str(png)], capture_output=True,
                            text=True).stdout.strip()
        assert qr == f"{BASE}/verify/0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11"


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["@context", "type", "id", "issuer", "validFrom", "credentialSubject",
                        "proof", "name"]), json_values)
def test_any_value_in_any_top_field_gives_a_result_not_an_exception(field: str, value: Any) -> None:
    bad = make_credential()
    bad[field] = value
    assert not verify_credential(bad, [KEY.public_key()]).genuine
    proof = dict(make_credential()["proof"])
    proof[field if field in proof else "created"] = value
    assert not verify_credential({**make_credential(), "proof": proof}, [KEY.public_key()]).genuine


def test_packs_trusted_keys_are_accepted_and_used_for_the_check() -> None:
    from app.core.packs.keys import TrustedKeys

    cred = make_credential()
    assert verify_credential(cred, TrustedKeys([KEY.public_key()])).genuine
    assert verify_credential(cred, TrustedKeys([OTHER.public_key()])).status is \
        CertificateStatus.UNKNOWN_KEY
    bad = copy.deepcopy(cred)
    bad["name"] = "changed"
    assert verify_credential(bad, TrustedKeys([KEY.public_key()])).status is CertificateStatus.TAMPERED
