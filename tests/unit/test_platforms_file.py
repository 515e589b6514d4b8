"""The platforms file: the shipped example works, and a mistake names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.integrations.platforms import PlatformsError, load_platforms, parse_platforms

EXAMPLE = Path(__file__).parents[2] / "docs" / "platforms.example.toml"
GOOD = """
[sender]
name = "湖州市民政局"
uscc = "11330500002638915N"

[[platforms]]
name = "national"
url = "https://credit.example.gov.cn"
client_id = "hz"
secret_env = "NATIONAL_SECRET"
record_types = ["blacklist", "penalty"]
"""


def test_the_example_in_the_docs_configures_the_simulator() -> None:
    config = load_platforms(EXAMPLE)
    (platform,) = config.platforms
    assert (platform.name, platform.url, platform.pull) == (
        "provincial",
        "http://127.0.0.1:9100",
        True,
    )
    assert platform.resolved_secret().reveal() == "demo-secret"
    assert "demo-secret" not in repr(config)
    assert config.receiving("penalty") == [platform]


def test_a_secret_comes_from_the_environment_variable_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform = parse_platforms(GOOD).named("national")
    with pytest.raises(PlatformsError, match="NATIONAL_SECRET"):
        platform.resolved_secret()
    monkeypatch.setenv("NATIONAL_SECRET", "s3cret")
    assert platform.resolved_secret().reveal() == "s3cret"
    assert platform.topic == "sync:national"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (('record_types = ["blacklist", "penalty"]', 'record_types = ["greylist"]'), "greylist"),
        (('uscc = "11330500002638915N"', 'uscc = "11330500002638915A"'), "sender.uscc"),
        (('secret_env = "NATIONAL_SECRET"', ""), "secret_env"),
        (('url = "https://credit.example.gov.cn"', 'url = "ftp://x"'), "url"),
        (('name = "national"', 'name = "Not A Name"'), "name"),
        (("[[platforms]]", "[[platform]]"), "platform"),
    ],
)
def test_a_mistake_is_refused_naming_the_key(change: tuple[str, str], says: str) -> None:
    with pytest.raises(PlatformsError, match=says):
        parse_platforms(GOOD.replace(*change), "platforms.toml")
