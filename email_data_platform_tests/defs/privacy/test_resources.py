"""Privacy keys: the development keyfile locally, dg.EnvVar in production."""

import dagster as dg

from email_data_platform.defs.privacy.resources import pseudonymisation_resource


def test_production_binds_the_pseudonym_keys_through_envvar(monkeypatch):
    resource = pseudonymisation_resource({"EDP_ENV": "prod"})
    assert resource.key_spec == dg.EnvVar("EDP_PSEUDONYM_KEYS")
    monkeypatch.setenv("EDP_PSEUDONYM_KEYS", "old=" + "o" * 32 + ",new=" + "n" * 32)
    with dg.build_resources({"p": resource}) as built:
        keyring = built.p.keyring()
    assert keyring.active_key_id == "new" and keyring.key_ids == ["new", "old"]
    assert "n" * 32 not in repr(keyring)


def test_local_uses_the_development_keyfile_unless_keys_are_set():
    assert pseudonymisation_resource({}).key_spec == ""
    local_with_keys = pseudonymisation_resource({"EDP_PSEUDONYM_KEYS": "k=" + "k" * 32})
    assert local_with_keys.key_spec == dg.EnvVar("EDP_PSEUDONYM_KEYS")
