"""`python -m app sync|enrol` option checks, in-process (hostile files and values): a bad
option is one `error:` line, exit 1, and no setting is left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.__main__ import main
from app.core.packs.keys import generate_keypair, public_key_pem
from app.core.store import Store
from app.core.store.keys import key_file_for


def settings_of(data: Path) -> dict[str, object]:
    with Store.open(data, keys=key_file_for(data)) as store:   # as the CLI opened it
        return store.settings.all()


@pytest.mark.parametrize("make, args, message", [
    (lambda d: d.write_bytes(os.urandom(64)), ["--trust"], "not a public key file"),
    (lambda d: None, ["--trust"], "cannot read it"),
    (lambda d: d.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n"), ["--trust"], "key"),
    (lambda d: d.write_text("not a certificate"), ["--ca-bundle"], "not a PEM CA bundle"),
    (lambda d: d.mkdir(), ["--ca-bundle"], "not a readable file"),
])
def test_bad_trust_or_ca_file_is_refused_and_nothing_stored(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], make, args, message) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "input"
    make(bad)
    data = tmp_path / "tablet"
    code = main(["sync", "--data-dir", str(data), "--server", "http://127.0.0.1:9", *args,
                 str(bad)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error:") and message in err, err
    assert "Traceback" not in err
    stored = settings_of(data)
    assert stored["server_url"] is None                  # not even the valid --server
    assert stored["trusted_keys"] == [] and "ca_bundle" not in stored


def test_good_options_are_stored_together(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _, public = generate_keypair()
    keyfile = tmp_path / "pack.pub"
    keyfile.write_bytes(public_key_pem(public))
    data = tmp_path / "tablet"
    # nobody listens on port 9: the sync itself fails, the options stay stored
    code = main(["sync", "--data-dir", str(data), "--server", "http://127.0.0.1:9/",
                 "--trust", str(keyfile), "--trust", str(keyfile), "--no-packs"])
    err = capsys.readouterr().err
    assert code == 1 and "not enrolled" in err
    stored = settings_of(data)
    assert stored["server_url"] == "http://127.0.0.1:9"
    assert stored["trusted_keys"] == [public_key_pem(public).decode()]   # de-duplicated


def test_enrol_refuses_hostile_values_without_a_network(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "tablet"
    for argv, message in ((["enrol", "", "--server", "http://127.0.0.1:9"], "enrolment code"),
                          (["enrol", "X" * 65, "--server", "http://127.0.0.1:9"], "enrolment code"),
                          (["enrol", "ABC", "--server", "file:///etc/passwd"], "server_url"),
                          (["enrol", "ABC", "--server", "http://127.0.0.1:9",
                            "--ca-bundle", str(tmp_path / "missing.pem")], "ca_bundle")):
        assert main([*argv, "--data-dir", str(data)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error:") and message in err, (argv, err)
    with Store.open(data, keys=key_file_for(data)) as store:   # as the CLI opened it
        assert not store.settings.has_secret("device_token")
        assert store.settings.get("server_url") == "http://127.0.0.1:9"   # the valid one


def test_data_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["sync", "--data-dir", str(afile)]) == 1
    assert "not a folder" in capsys.readouterr().err
