"""The pseudonymisation key: clear errors when unusable, and never shown."""

import pytest

from hub.errors import ConfigError
from hub.settings import PseudonymKey, Settings, load_settings


def test_missing_setting_says_what_to_do():
    with pytest.raises(ConfigError, match="HUB_PSEUDONYM_KEY_FILE"):
        PseudonymKey.from_file(None)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        PseudonymKey.from_file(tmp_path / "nope")


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        PseudonymKey.from_file(tmp_path)  # a directory


def test_too_short_key(tmp_path):
    path = tmp_path / "short"
    path.write_text("secret")
    with pytest.raises(ConfigError, match="too short: 6 bytes") as info:
        PseudonymKey.from_file(path)
    assert "secret" not in str(info.value)


def test_key_never_in_repr_or_settings_dump(tmp_path, monkeypatch):
    secret = "s3cr3t-" * 8
    path = tmp_path / "key"
    path.write_text(secret)
    monkeypatch.setenv("HUB_PSEUDONYM_KEY_FILE", str(path))
    settings = Settings()
    key = settings.pseudonym_key
    for text in (repr(key), str(key), repr(settings), str(settings.model_dump())):
        assert secret not in text
    assert key.secret.get_secret_value() == secret.encode()


def test_settings_come_from_hub_prefixed_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_BOOTSTRAP_SERVERS", "kafka1:9092,kafka2:9092")
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    settings = Settings()
    assert settings.bootstrap == "kafka1:9092,kafka2:9092"
    assert settings.home == tmp_path


def test_local_broker_is_the_default_bootstrap(monkeypatch):
    monkeypatch.delenv("HUB_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("HUB_BROKER_PORT", "19999")
    assert Settings().bootstrap == "127.0.0.1:19999"


def test_invalid_settings_name_each_variable(monkeypatch):
    monkeypatch.setenv("HUB_BROKER_PORT", "lots")
    monkeypatch.setenv("HUB_ANALYTICS_K", "0")
    with pytest.raises(ConfigError) as info:
        load_settings()
    lines = str(info.value).splitlines()
    assert lines[0] == "invalid settings:"
    assert lines[1].startswith("  HUB_BROKER_PORT: ") and "integer" in lines[1]
    assert lines[2].startswith("  HUB_ANALYTICS_K: ") and "greater than" in lines[2]


def test_the_rocksdb_memory_of_a_worker_is_a_setting_in_mib(monkeypatch):
    assert Settings().rocksdb_memory_mib == 128
    monkeypatch.setenv("HUB_ROCKSDB_MEMORY_MIB", "96")
    assert load_settings().rocksdb_memory_mib == 96
    monkeypatch.setenv("HUB_ROCKSDB_MEMORY_MIB", "4")
    with pytest.raises(ConfigError, match="HUB_ROCKSDB_MEMORY_MIB"):
        load_settings()
