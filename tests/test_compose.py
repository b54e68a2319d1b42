"""docker-compose.yml, checked without a Docker engine: its services, their order, and commands the CLI accepts."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest
from ruamel.yaml import YAML

from bot.cli import _parser, main
from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text())  # merge keys (<<) resolved
    return loaded


def test_postgres_with_a_healthcheck_and_a_volume(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert re.fullmatch(r"postgres:16(\.\d+)*(-\w+)?", postgres["image"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    [volume] = postgres["volumes"]
    assert volume.split(":")[0] in compose["volumes"] and volume.endswith(":/var/lib/postgresql/data")
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_one_migration_then_one_sender_and_two_pollers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "sender", "poller"}
    assert services["migrate"]["command"] == ["newsbot", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["sender"]["command"] == ["newsbot", "run", "--role", "sender"]
    assert services["poller"]["command"] == ["newsbot", "run", "--role", "poller"]
    assert services["poller"]["deploy"]["replicas"] == 2 and "deploy" not in services["sender"]
    for name in ("sender", "poller"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}


def test_every_newsbot_service_runs_the_repo_image_on_postgres(compose: dict[str, Any]) -> None:
    for name in ("migrate", "sender", "poller"):
        service = compose["services"][name]
        assert service["build"] == "." and (ROOT / "Dockerfile").exists()
        env = service["environment"]
        assert env["NEWSBOT_DB"].startswith("postgresql+psycopg://newsbot:${POSTGRES_PASSWORD:?")
        assert env["NEWSBOT_DB"].endswith("@postgres:5432/newsbot")
        assert env["TELEGRAM_BOT_TOKEN"] == "${TELEGRAM_BOT_TOKEN:-}"  # from .env, never in the file
        assert service["volumes"] == ["./rules:/app/rules:ro"] and env["NEWSBOT_RULES"] == "/app/rules"


def test_env_example_names_every_variable_compose_reads() -> None:
    wanted = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    example = (ROOT / ".env.example").read_text()
    assert wanted == {"POSTGRES_PASSWORD", "TELEGRAM_BOT_TOKEN"}
    assert wanted <= {line.split("=")[0] for line in example.splitlines() if "=" in line}
    assert (
        ".env" in (ROOT / ".gitignore").read_text().split() and ".env" in (ROOT / ".dockerignore").read_text()
    )


@pytest.mark.parametrize("service", ["migrate", "sender", "poller"])
def test_each_command_is_one_the_cli_accepts(compose: dict[str, Any], service: str) -> None:
    program, *argv = compose["services"][service]["command"]
    assert program == "newsbot"
    if "--role" in argv and "--role" not in _help("run"):
        pytest.skip("`newsbot run --role` is not in this branch's CLI yet")
    with redirect_stderr(io.StringIO()) as err:
        args = _parser().parse_args(argv)  # a usage error exits with status 2
    assert args.command == argv[0] and err.getvalue() == ""


def _help(command: str) -> str:
    with pytest.raises(SystemExit), redirect_stdout(io.StringIO()) as out:
        main([command, "--help"], {})
    return out.getvalue()
