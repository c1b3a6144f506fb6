import hashlib
import hmac

import polars as pl
import pytest

from email_data_platform.lib.privacy.pseudonyms import (
    PseudonymKeyring,
    person_subjects,
    pseudonymise_columns,
    pseudonyms_of,
    stale_pseudonyms,
)

OLD = "k2026a-secret-0123456789"
NEW = "k2026b-secret-9876543210"


def test_pseudonym_is_keyed_hmac_with_key_id_prefix():
    ring = PseudonymKeyring({"a": OLD}, active_key_id="a")
    expected = hmac.new(OLD.encode(), b"ent_1", hashlib.sha256).hexdigest()
    assert ring.pseudonym("ent_1") == f"a:{expected}"
    assert ring.pseudonym(None) is None


def test_columns_are_replaced_consistently_and_nulls_kept():
    ring = PseudonymKeyring({"a": OLD}, active_key_id="a")
    frame = pl.DataFrame({"entity_id": ["e1", "e2", "e1", None], "ltv": [1.0, 2.0, 3.0, 4.0]})
    out = pseudonymise_columns(frame, ["entity_id"], ring)
    ids = out["entity_id"].to_list()
    assert ids[0] == ids[2] != ids[1] and ids[3] is None
    assert "e1" not in ids and out["ltv"].to_list() == frame["ltv"].to_list()


def test_rotation_changes_pseudonyms_and_flags_stale_ones():
    old_ring = PseudonymKeyring({"a": OLD}, active_key_id="a")
    new_ring = PseudonymKeyring({"a": OLD, "b": NEW}, active_key_id="b")
    old = old_ring.pseudonymise_series(pl.Series(["e1", "e2"]))
    new = new_ring.pseudonymise_series(pl.Series(["e1", "e2"]))
    assert set(old.to_list()).isdisjoint(new.to_list())
    assert stale_pseudonyms(old, new_ring).to_list() == [True, True]
    assert stale_pseudonyms(new, new_ring).to_list() == [False, False]
    assert new_ring.pseudonym("e1", key_id="a") == old[0]


def test_keyring_validation_and_secrets_never_in_repr():
    ring = PseudonymKeyring.from_spec(f"a={OLD}, b={NEW}", active_key_id="b")
    assert ring.key_ids == ["a", "b"] and OLD not in repr(ring) and NEW not in repr(ring)
    with pytest.raises(ValueError, match="shorter"):
        PseudonymKeyring({"a": "short"}, "a")
    with pytest.raises(ValueError, match="not in the keyring"):
        PseudonymKeyring({"a": OLD}, "b")
    with pytest.raises(ValueError, match="id=secret"):
        PseudonymKeyring.from_spec("nonsense", "a")


def test_view_keeps_only_consenting_people_under_pseudonyms():
    from email_data_platform.lib.privacy.pseudonyms import pseudonymised_view

    ring = PseudonymKeyring({"a": OLD}, active_key_id="a")
    features = pl.DataFrame({"entity_id": ["e1", "e2", "e3"], "ltv": [1.0, 2.0, 3.0],
                             "last_order_date": [None, None, None]})
    subjects = person_subjects(pl.DataFrame({"entity_id": ["e1", "e2", "e3"],
                                             "email_key": ["ann@x.com", "bob@x.com", None]}))
    view = pseudonymised_view(features, pl.Series(["e1", "e3"]), ring, subjects,
                              drop_columns=("last_order_date",))
    assert view.columns == ["person_pseudonym", "ltv", "pseudonym_key_id"]
    assert view["person_pseudonym"].to_list() == [ring.pseudonym("ann@x.com"),
                                                  ring.pseudonym("entity:e3")]
    assert view["person_pseudonym"][0] == "a:" + hmac.new(
        OLD.encode(), b"ann@x.com", hashlib.sha256).hexdigest()  # HMAC of the address key


def test_a_pseudonym_names_one_person_an_address_key_when_it_is_theirs_alone():
    subjects = person_subjects(pl.DataFrame({
        "entity_id": ["e1", "e2", "e3", "e4"],
        "email_key": ["ann@x.com", "fam@x.com", "fam@x.com", None]}))
    assert dict(subjects.sort("entity_id").iter_rows()) == {
        "e1": "ann@x.com", "e2": "entity:e2", "e3": "entity:e3", "e4": "entity:e4"}
    ring = PseudonymKeyring.from_spec(f"a={OLD},b={OLD}x")
    assert pseudonyms_of(ring, {"ann@x.com"}, {"e1"}) == {
        ring.pseudonym(v, k) for v in ("ann@x.com", "entity:e1", "e1") for k in ("a", "b")}


def test_local_keyring_is_created_private_and_rotates(tmp_path):
    import stat

    from email_data_platform.lib.privacy.pseudonyms import (
        load_or_create_local_keyring,
        rotate_local_keyring,
    )

    keyfile = tmp_path / "keys" / "pseudonyms.json"
    ring = load_or_create_local_keyring(keyfile)
    assert ring.active_key_id == "k1" and stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert load_or_create_local_keyring(keyfile).pseudonym("x") == ring.pseudonym("x")
    assert rotate_local_keyring(keyfile) == "k2"
    rotated = load_or_create_local_keyring(keyfile)
    assert rotated.key_ids == ["k1", "k2"] and rotated.active_key_id == "k2"
    assert rotated.pseudonym("x", key_id="k1") == ring.pseudonym("x")
