import polars as pl

from email_data_platform.cli.run import truth_env
from email_data_platform.cli.sandbox_process import sandbox_env


def test_sandbox_info_becomes_vendor_prefixed_env_variables():
    info = {"hubspot": {"base_url": "http://127.0.0.1:1", "access_token": "t"},
            "mailchimp": {"list_id": "abc"}, "journal": "ignored: not a vendor"}
    assert sandbox_env(info) == {"HUBSPOT_BASE_URL": "http://127.0.0.1:1",
                                 "HUBSPOT_ACCESS_TOKEN": "t", "MAILCHIMP_LIST_ID": "abc"}


def test_truth_only_when_the_data_set_has_one(tmp_path):
    assert truth_env(tmp_path) == {}
    pl.DataFrame(schema={"id": pl.Utf8, "entity_id": pl.Utf8}).write_parquet(
        tmp_path / "truth.parquet")
    assert truth_env(tmp_path) == {}  # seed contacts: an empty truth file
    pl.DataFrame({"id": ["1"], "entity_id": ["person_1"]}).write_parquet(
        tmp_path / "truth.parquet")
    assert truth_env(tmp_path) == {"EDP_TRUTH_PATH": str((tmp_path / "truth.parquet").resolve())}


def _actions(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {where}", a) for where, a in _actions(sub))
        elif not isinstance(action, argparse._HelpAction):
            yield "", action


def test_every_flag_and_argument_has_help_text():
    from email_data_platform.cli import build_parser

    missing = [f"{where.strip()} {action.dest}" for where, action in _actions(build_parser())
               if not action.help]
    assert missing == []
