"""`aws-env`: the environment that points the AWS CLI and SDKs at this WhisperSync."""

from __future__ import annotations

import shlex
from typing import Annotated

import orjson
import typer

from whispersync.cli._common import JsonOption, app, console, err_console, load_settings, print_json

ACCESS_KEY_ID = "whispersync"  # what the server's SigV4 check expects (web.aws._sigv4)
REGION = "us-east-1"  # any region signs correctly; SDKs only need one to be set
_PLACEHOLDER = "<your WhisperSync API token>"
_ANY_SECRET = "whispersync"  # without a token, any credentials are accepted: SDKs just need some
_WILDCARD_BINDS = {"0.0.0.0", "::", ""}


def _endpoint(host: str, port: int) -> str:
    host = "127.0.0.1" if host in _WILDCARD_BINDS else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _running_url(settings) -> str | None:
    """The URL of the `whispersync up` running on this home (it may use another port than the
    settings say, e.g. `up --port 8799`), from the server file it writes; None when there is none."""
    try:
        url = orjson.loads(settings.server_file.read_bytes())["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


@app.command("aws-env")
def aws_env(
    show_secret: Annotated[bool, typer.Option("--show-secret", help="Print the API token as the secret key.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the exports that point the AWS CLI, boto3 and other SDKs at WhisperSync.

    \b
    eval "$(whispersync aws-env)"
    aws cloudwatch list-metrics

    With an API token set, requests must be signed with access key id `whispersync` and
    the token as the secret key; the token is printed only with --show-secret. Without a
    token (loopback only) any credentials are accepted. --json prints {"env": {NAME: value}}.
    """
    settings = load_settings()
    token = settings.api_token.get_secret_value() if settings.api_token else None
    if token is None:
        secret = _ANY_SECRET
    elif show_secret:
        secret = token
    else:
        secret = _PLACEHOLDER
    env = {
        "AWS_ENDPOINT_URL": _running_url(settings) or _endpoint(settings.host, settings.port),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": secret,
    }
    if as_json:
        print_json({"env": env, "token_required": token is not None})
    else:
        for name, value in env.items():
            console.print(f"export {name}={shlex.quote(value)}", highlight=False, markup=False, soft_wrap=True)
    if token is not None and not show_secret:
        err_console.print("the API token is the secret key: pass --show-secret to print it, or set "
                          "AWS_SECRET_ACCESS_KEY yourself", highlight=False, markup=False)
