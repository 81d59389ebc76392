"""Encryption at rest (apiserver.encryption): each provider's on-disk layout as Kubernetes writes it (prefix, IV or
nonce, padding, authenticated key), reading by prefix with stale marking, identity's refusal of encrypted data,
the EncryptionConfiguration's validation and resource matching (exact, group wildcard, `*.*`), and the storage
hook's errors for unreadable values."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from apiserver import encryption
from apiserver.storage import EtcdStorage
from kube import errors

KEY1 = bytes(range(32))
KEY2 = bytes(range(32, 64))
CONTEXT = b"/registry/secrets/default/s1"
PLAIN = b'{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}'


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def config(*providers: dict[str, object], resources: list[str] | None = None) -> encryption.EncryptionConfig:
    return encryption.parse({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": resources or ["secrets"], "providers": list(providers)}],
    })


def aes(kind: str, *keys: tuple[str, bytes]) -> dict[str, object]:
    return {kind: {"keys": [{"name": n, "secret": b64(k)} for n, k in keys]}}


def secrets_transformer(cfg: encryption.EncryptionConfig) -> encryption.Transformer:
    found = cfg.transformer_for("", "secrets")
    assert found is not None
    return found


def test_aescbc_layout_is_kubernetes():
    t = secrets_transformer(config(aes("aescbc", ("key1", KEY1))))
    stored = t.to_storage(PLAIN, CONTEXT)
    prefix = b"k8s:enc:aescbc:v1:key1:"
    assert stored.startswith(prefix)
    body = stored[len(prefix):]
    assert len(body) % 16 == 0 and len(body) >= 16 + len(PLAIN)
    iv, ciphertext = body[:16], body[16:]
    decryptor = Cipher(algorithms.AES(KEY1), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    assert 1 <= pad <= 16 and padded[-pad:] == bytes([pad]) * pad  # PKCS#7
    assert padded[:-pad] == PLAIN
    assert t.from_storage(stored, CONTEXT) == (PLAIN, False)
    assert t.to_storage(PLAIN, CONTEXT) != stored  # a random IV each write


def test_aesgcm_layout_authenticates_the_etcd_key():
    t = secrets_transformer(config(aes("aesgcm", ("k", KEY1))))
    stored = t.to_storage(PLAIN, CONTEXT)
    body = stored[len(b"k8s:enc:aesgcm:v1:k:"):]
    assert AESGCM(KEY1).decrypt(body[:12], body[12:], CONTEXT) == PLAIN
    assert t.from_storage(stored, CONTEXT) == (PLAIN, False)
    with pytest.raises(encryption.TransformError, match="message authentication failed"):
        t.from_storage(stored, b"/registry/secrets/default/other")  # copied under another key: refused


def test_secretbox_layout():
    nacl_secret = pytest.importorskip("nacl.secret")
    t = secrets_transformer(config({"secretbox": {"keys": [{"name": "sb", "secret": b64(KEY1)}]}}))
    stored = t.to_storage(PLAIN, CONTEXT)
    body = stored[len(b"k8s:enc:secretbox:v1:sb:"):]
    assert len(body) == 24 + 16 + len(PLAIN)  # nonce, Poly1305 tag, ciphertext
    assert nacl_secret.SecretBox(KEY1).decrypt(body[24:], body[:24]) == PLAIN
    assert t.from_storage(stored, CONTEXT) == (PLAIN, False)


def test_identity_writes_plain_and_refuses_encrypted():
    t = secrets_transformer(config({"identity": {}}))
    assert t.to_storage(PLAIN, CONTEXT) == PLAIN
    assert t.from_storage(PLAIN, CONTEXT) == (PLAIN, False)
    with pytest.raises(encryption.TransformError, match="no matching prefix found"):
        t.from_storage(b"k8s:enc:aescbc:v1:key1:" + bytes(32), CONTEXT)


def test_rotation_reads_old_key_as_stale_and_writes_with_the_first():
    old = secrets_transformer(config(aes("aescbc", ("key1", KEY1))))
    rotated = secrets_transformer(config(aes("aescbc", ("key2", KEY2), ("key1", KEY1))))
    written = old.to_storage(PLAIN, CONTEXT)
    assert rotated.from_storage(written, CONTEXT) == (PLAIN, True)
    rewritten = rotated.to_storage(PLAIN, CONTEXT)
    assert rewritten.startswith(b"k8s:enc:aescbc:v1:key2:")
    assert rotated.from_storage(rewritten, CONTEXT) == (PLAIN, False)
    dropped = secrets_transformer(config(aes("aescbc", ("key2", KEY2))))
    with pytest.raises(encryption.TransformError, match="no matching key was found for the provided AES"):
        dropped.from_storage(written, CONTEXT)


def test_plain_values_read_through_identity_second_as_stale():
    t = secrets_transformer(config(aes("aescbc", ("key1", KEY1)), {"identity": {}}))
    assert t.from_storage(PLAIN, CONTEXT) == (PLAIN, True)  # written before encryption: rewritten on update
    with pytest.raises(encryption.TransformError, match="no matching prefix found"):
        secrets_transformer(config(aes("aescbc", ("key1", KEY1)))).from_storage(PLAIN, CONTEXT)


def test_decrypting_away_identity_first_reads_encrypted_values():
    t = secrets_transformer(config({"identity": {}}, aes("aescbc", ("key1", KEY1))))
    encrypted = secrets_transformer(config(aes("aescbc", ("key1", KEY1)))).to_storage(PLAIN, CONTEXT)
    assert t.from_storage(encrypted, CONTEXT) == (PLAIN, True)
    assert t.to_storage(PLAIN, CONTEXT) == PLAIN


def test_wrong_key_is_an_error_never_garbage():
    right = secrets_transformer(config(aes("aesgcm", ("key1", KEY1))))
    wrong = secrets_transformer(config(aes("aesgcm", ("key1", KEY2))))
    with pytest.raises(encryption.TransformError):
        wrong.from_storage(right.to_storage(PLAIN, CONTEXT), CONTEXT)


@pytest.mark.parametrize(("resources", "group", "resource", "expected"), [
    (["secrets"], "", "secrets", True),
    (["secrets"], "", "configmaps", False),
    (["deployments.apps"], "apps", "deployments", True),
    (["deployments.apps"], "", "deployments", False),
    (["*.apps"], "apps", "statefulsets", True),
    (["*.apps"], "", "secrets", False),
    (["*."], "", "configmaps", True),
    (["*.*"], "batch", "jobs", True),
], ids=["exact", "other-resource", "grouped", "group-differs", "group-wildcard", "group-wildcard-miss",
        "core-wildcard", "all"])
def test_resource_matching(resources: list[str], group: str, resource: str, expected: bool):
    cfg = config(aes("aescbc", ("key1", KEY1)), resources=resources)
    assert (cfg.transformer_for(group, resource) is not None) is expected


def test_transformers_by_storage_resource():
    cfg = config(aes("aescbc", ("key1", KEY1)), resources=["secrets", "configmaps"])
    found = cfg.transformers([("", "secrets"), ("", "configmaps"), ("", "pods")])
    assert set(found) == {"secrets", "configmaps"}


@pytest.mark.parametrize(("doc", "message"), [
    ({"apiVersion": "v1", "kind": "EncryptionConfig", "resources": []}, "unexpected config type"),
    ({"kind": None, "resources": []}, "unexpected config type"),
    ({"resources": None}, "resources is a required field"),
    ({"resources": [{"resources": ["secrets"], "providers": []}]}, "providers is a required field"),
    ({"resources": [{"resources": ["secrets"], "providers": [{"aescbc": {"keys": []}}]}]},
     "at least one key"),
    ({"resources": [{"resources": ["secrets"], "providers": [aes("aescbc", ("k", b"short"))]}]},
     "expected one of \\[16, 24, 32\\]"),
    ({"resources": [{"resources": ["secrets"], "providers": [aes("secretbox", ("k", bytes(16)))]}]},
     "got 16, expected 32"),
    ({"resources": [{"resources": ["secrets"], "providers": [{"aescbc": {"keys": [{"name": "k", "secret": "!!"}]}}]}]},
     "base64"),
    ({"resources": [{"resources": ["secrets"], "providers": [aes("aescbc", ("a:b", KEY1))]}]}, "may not contain"),
    ({"resources": [{"resources": ["secrets"], "providers": [aes("aescbc", ("k", KEY1), ("k", KEY2))]}]},
     "Duplicate"),
    ({"resources": [{"resources": ["secrets"], "providers": [{"identity": {}, **aes("aescbc", ("k", KEY1))}]}]},
     "exactly one provider"),
    ({"resources": [{"resources": ["secrets"], "providers": [{"kms": {"name": "x"}}]}]}, "Unsupported value"),
    ({"resources": [{"resources": ["*"], "providers": [{"identity": {}}]}]}, "use '\\*\\.'"),
    ({"resources": [{"resources": ["Secrets"], "providers": [{"identity": {}}]}]}, "lowercase"),
], ids=["legacy-kind", "no-kind", "no-resources", "no-providers", "no-keys", "short-aes-key", "short-secretbox-key",
        "not-base64", "colon-in-name", "duplicate-key", "two-providers", "kms", "bare-star", "uppercase"])
def test_invalid_configuration(doc: dict[str, object], message: str):
    full = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration", **doc}
    with pytest.raises(encryption.ConfigError, match=message):
        encryption.parse(full)


def test_load_from_yaml(tmp_path):
    path = tmp_path / "enc.yaml"
    path.write_text(f"""
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: {b64(KEY1)}
      - identity: {{}}
""")
    assert encryption.load(path).names() == ["secrets"]
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(encryption.ConfigError, match="is empty"):
        encryption.load(tmp_path / "empty.yaml")
    with pytest.raises(encryption.ConfigError, match="error opening"):
        encryption.load(tmp_path / "missing.yaml")


def test_storage_reads_through_the_transformer_by_resource():
    t = secrets_transformer(config(aes("aescbc", ("key1", KEY1))))
    storage = EtcdStorage("http://127.0.0.1:1", transformers={"secrets": t})
    key = "/registry/secrets/default/s1"
    value = storage._value(key, {"kind": "Secret", "metadata": {"name": "s1", "resourceVersion": "9"}})
    assert value.startswith(b"k8s:enc:aescbc:v1:key1:") and b"s1" not in value
    obj, stale = storage._read(key, value, 12)
    assert obj["metadata"] == {"name": "s1", "resourceVersion": "12"} and not stale
    plain = json.dumps({"kind": "Pod"}).encode()
    assert storage._value("/registry/pods/default/p", {"kind": "Pod"}) == b'{"kind":"Pod","metadata":{}}'
    assert storage._read("/registry/pods/default/p", plain, 3)[0]["kind"] == "Pod"


def test_storage_answers_an_unreadable_value_with_internal_error():
    storage = EtcdStorage("http://127.0.0.1:1", transformers={
        "secrets": secrets_transformer(config(aes("aescbc", ("key2", KEY2))))})
    written = secrets_transformer(config(aes("aescbc", ("key1", KEY1)))).to_storage(PLAIN, CONTEXT)
    with pytest.raises(errors.InternalError) as caught:
        storage._read("/registry/secrets/default/s1", written, 5)
    status = caught.value.to_status()
    assert status["code"] == 500 and status["reason"] == "InternalError"
    assert status["message"] == ("Internal error occurred: unable to transform key '/registry/secrets/default/s1': "
                                 "no matching key was found for the provided AES transformer")
