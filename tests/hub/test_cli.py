"""The `hub` command as a user meets it without a broker: help, clear errors, dry runs."""

import os
import stat
import subprocess
import sys

import pytest

from hub.cli import build_parser
from tests.exports import write_export, youth_office_row
from tests.support.paths import REPO

COMMANDS = ["demo", "broker", "topics", "schemas", "ingest", "deliver", "run", "tail", "key",
            "audit", "erase", "linkage", "pseudonym", "dlq"]


def hub(*args, env=None, timeout=60):
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([sys.executable, "-m", "hub", *args], cwd=REPO, capture_output=True,
                          text=True, env={**base, **(env or {})}, timeout=timeout)


def test_help_lists_every_command():
    result = hub("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    assert "HUB_BOOTSTRAP_SERVERS" in result.stdout


def test_help_loads_no_faust():
    """Each command imports what it drives when it runs, not when `hub` starts."""
    result = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom hub.cli import build_parser\nbuild_parser()\n"
         "print(sorted(m for m in sys.modules if m.split('.')[0] in ('faust', 'mode')))"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out) > 100


def test_no_broker_is_a_clear_error(tmp_path):
    result = hub("topics", "apply",
                 env={"HUB_BOOTSTRAP_SERVERS": "127.0.0.1:1", "HUB_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "no Kafka broker answers at 127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_is_named(tmp_path):
    result = hub("broker", "status", env={"HUB_BROKER_PORT": "lots", "HUB_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "HUB_BROKER_PORT" in result.stderr and "Traceback" not in result.stderr


def test_ingest_without_a_key_says_how_to_make_one(tmp_path):
    export = write_export(tmp_path / "jugendamt-kamen_export.csv", [youth_office_row()])
    result = hub("ingest", str(export), "--dry-run", env={"HUB_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "HUB_PSEUDONYM_KEY_FILE" in result.stderr and "hub key new" in result.stderr


def test_key_new_and_dry_run_ingest(tmp_path):
    key = tmp_path / "keys" / "linkage.key"
    made = hub("key", "new", str(key))
    assert made.returncode == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    secret = key.read_text().strip()
    assert len(secret) == 64 and secret not in made.stdout
    again = hub("key", "new", str(key))
    assert again.returncode == 1 and "exists already" in again.stderr
    assert key.read_text().strip() == secret

    export = write_export(tmp_path / "jugendamt-kamen_export.csv",
                          [youth_office_row(), youth_office_row(Wohnort="Atlantis")])
    result = hub("ingest", str(export), "--dry-run",
                 env={"HUB_PSEUDONYM_KEY_FILE": str(key), "HUB_HOME": str(tmp_path)})
    assert result.returncode == 1  # one row rejected
    assert "2 rows read, 1 event would be published, 1 row rejected" in result.stdout
    assert "row 3: Wohnort 'Atlantis' is not a known town" in result.stderr
    assert secret not in result.stdout + result.stderr


def test_changed_pseudonyms_lists_rows_of_names_in_other_scripts(tmp_path, key_file):
    export = write_export(tmp_path / "jugendamt-kamen_export.csv", [
        youth_office_row(),
        youth_office_row(Vorgangsnummer="JA-2", Vorname="Олена", Nachname="Бондаренко"),
        youth_office_row(Vorgangsnummer="JA-3", Vorname="Ірина", Nachname="Коваленко"),
        youth_office_row(Vorgangsnummer="JA-4", Vorname="😀", Nachname="Beispiel"),
    ])
    result = hub("ingest", str(export), "--changed-pseudonyms",
                 env={"HUB_PSEUDONYM_KEY_FILE": str(key_file),
                      "HUB_BOOTSTRAP_SERVERS": "127.0.0.1:1"})  # sends nothing
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["row 3", "row 4"]
    earlier = {line.split()[2] for line in lines}
    assert len(earlier) == 1  # the two children shared one pseudonym before
    assert len({line.split()[4] for line in lines}) == 2  # and have two now
    assert "2 rows with a changed pseudonym, 1 earlier pseudonym" in result.stderr
    for name in ("Олена", "Ірина", "Beispiel", "02.09.2020"):
        assert name not in result.stdout + result.stderr


def test_wrong_delimiter_fails_as_a_whole(tmp_path, key_file):
    export = write_export(tmp_path / "jugendamt-kamen_export.csv", [youth_office_row()],
                          delimiter=",")
    result = hub("ingest", str(export), env={"HUB_PSEUDONYM_KEY_FILE": str(key_file),
                                             "HUB_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert result.returncode == 1
    assert "not separated by ';'" in result.stderr
    assert "no Kafka broker" not in result.stderr  # failed before touching Kafka


def test_erase_explains_a_bad_pseudonym_or_reference_and_sends_nothing(tmp_path):
    result = hub("erase", "--subject", "Max Mustermann", "--reference", "=cmd()",
                 env={"HUB_HOME": str(tmp_path), "HUB_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "lowercase hex digits (what `hub pseudonym` prints)" in result.stderr
    assert "a case number is letters, digits" in result.stderr


def test_erase_needs_a_confirmation_before_it_touches_the_broker(tmp_path):
    import socket

    with socket.socket() as listener:  # where the broker would be: no one may call
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        result = hub("erase", "--subject", "3f9ac1", "--reference", "VS-2026/0042",
                     env={"HUB_HOME": str(tmp_path),
                          "HUB_BOOTSTRAP_SERVERS": f"127.0.0.1:{listener.getsockname()[1]}"})
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert result.returncode == 1  # not a terminal: no question asked, nothing sent
    assert "nothing was sent: confirm the erasure with --yes" in result.stderr
    assert "cannot be undone" in result.stdout
