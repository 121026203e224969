"""What the deployment files may refer to: the `storyline` CLI's commands and options, the
settings' environment variables, the example consumer's arguments. Shared by the compose,
Kubernetes and systemd tests, so the three are held to the same contract."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import typer.main
from pydantic import BaseModel, TypeAdapter

from tests.conftest import ROOT
from worker.cli import app as cli_app
from worker.settings import Settings

#: variables in the deployment files that are not Storyline settings, and who reads them
FOREIGN_ENV = {
    "REDIS_ADDRESS": "KEDA's Redis scaler (host:port)",
    "REDIS_PASSWORD": "KEDA's Redis scaler",
    "PROMETHEUS_MULTIPROC_DIR": "prometheus-client, in the worker's pool processes",
}


def cli_commands() -> dict:
    """Command name -> click command (typer may vendor its own click, hence no isinstance)."""
    return dict(typer.main.get_command(cli_app).commands)


def check_storyline_argv(argv: list[str]) -> None:
    """`storyline CMD [ARGS]` must name a real command and parse with its real options."""
    assert Path(argv[0]).name == "storyline", argv
    commands = cli_commands()
    name, args = argv[1], argv[2:]
    assert name in commands, f"`storyline {name}` is not a command (have: {sorted(commands)})"
    command = commands[name]
    while hasattr(command, "commands"):  # a sub-command group, e.g. `dead-letters list`
        assert args and args[0] in command.commands, f"`storyline {name}` needs one of {sorted(command.commands)}"
        command, args = command.commands[args[0]], args[1:]
    # click parses and converts every value (an unknown option or a non-integer port fails)
    command.make_context(f"storyline {name}", list(args))


def load_example_consumer():
    path = ROOT / "examples" / "consumer.py"
    spec = importlib.util.spec_from_file_location("storyline_example_consumer", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def check_consumer_argv(argv: list[str]) -> None:
    """`python examples/consumer.py ARGS`: the file exists and its parser accepts ARGS."""
    assert Path(argv[0]).name.startswith("python"), argv
    assert argv[1] == "examples/consumer.py" and (ROOT / argv[1]).is_file(), argv
    load_example_consumer().build_parser().parse_args(argv[2:])


def check_command(argv: list[str]) -> None:
    """Any command a deployment file runs in the Storyline image."""
    program = Path(argv[0]).name
    if program == "storyline":
        check_storyline_argv(argv)
    elif program.startswith("python"):
        check_consumer_argv(argv)
    elif program == "celery":
        assert argv[1:3] == ["-A", "worker.app"], f"celery must load Storyline's app (its key prefix): {argv}"
        assert argv[3] in {"flower"}, f"run workers with `storyline worker`, not {argv}"
    else:
        raise AssertionError(f"unexpected program {argv}")


def settings_env_fields() -> dict[str, tuple[str, ...]]:
    """Environment variable -> path of the Settings field it sets."""
    prefix = Settings.model_config["env_prefix"]
    delimiter = Settings.model_config["env_nested_delimiter"]
    names: dict[str, tuple[str, ...]] = {}
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names[alias if isinstance(alias, str) else f"{prefix}{field_name}".upper()] = (field_name,)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            for sub in field.annotation.model_fields:
                names[f"{prefix}{field_name}{delimiter}{sub}".upper()] = (field_name, sub)
    return names


def check_environment(env: dict[str, str]) -> None:
    """Every STORYLINE_* (and REDIS_URL) names a real setting, and its value parses as that
    setting's type; anything else must be a known foreign variable."""
    fields = settings_env_fields()
    for name, value in env.items():
        if name in FOREIGN_ENV:
            continue
        assert name in fields, f"{name} is not a Storyline setting (settings: {sorted(fields)})"
        model: type[BaseModel] = Settings
        for part in fields[name][:-1]:
            model = model.model_fields[part].annotation
        annotation = model.model_fields[fields[name][-1]].annotation
        TypeAdapter(annotation).validate_strings(str(value))  # raises when the value does not parse


def apply_environment(env: dict[str, str], monkeypatch) -> Settings:
    """Settings as a process with exactly ``env`` would read them."""
    import os

    for name in list(os.environ):
        if name.startswith("STORYLINE_") or name == "REDIS_URL":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    return Settings()
