"""``%model [PROVIDER:MODEL] [--base-url URL] [--save] [--reset]``: which model agents and reason
cells use. Without arguments it shows the current choice (never a key: only whether one is set)."""

from __future__ import annotations

from typing import Any

from ...models.config import PROVIDERS
from .framework import MagicCall, UsageError, magic


def _show(status: dict[str, Any]) -> None:
    line = f"model: {status['model']}  (from {status['source']})"
    for key in ("kind", "base_url", "api_key"):
        if key in status:
            line += f"\n  {key.replace('_', ' ')}: {status[key]}"
    if status.get("note"):
        line += f"\n  note: {status['note']}"
    print(line)


@magic(
    "model",
    help="Choose the model for agents and reason cells, or show the current one.",
    epilog="Examples:\n  %model\n  %model openai:gpt-4o-mini\n  %model ollama:llama3.2 --base-url http://localhost:11434/v1\n"
    "  %model anthropic:claude-3-5-haiku-latest --save\n  %model offline\n\n"
    f"Providers: {', '.join(PROVIDERS)}. Keys come from OPENAI_API_KEY / ANTHROPIC_API_KEY / the AWS chain.",
)
def model_magic(call: MagicCall) -> Any:
    args = call.args
    service = call.session.project.services["models"]
    if args.reset:
        if args.spec:
            raise UsageError("%model: --reset takes no model name")
        service.reset()
    elif args.spec:
        service.use(args.spec, base_url=args.base_url, save=args.save)
    elif args.base_url or args.save:
        raise UsageError(
            "%model: --base-url and --save need a model name",
            hint="e.g. %model ollama:llama3.2 --base-url URL",
        )
    _show(service.status())


model_magic.parser.add_argument(
    "spec", nargs="?", default=None, metavar="PROVIDER:MODEL", help="e.g. openai:gpt-4o-mini, offline"
)
model_magic.parser.add_argument("--base-url", default=None, help="OpenAI-compatible or Anthropic endpoint")
model_magic.parser.add_argument(
    "--save", action="store_true", help="also write it to models.json in the state directory"
)
model_magic.parser.add_argument(
    "--reset", action="store_true", help="forget the %%model choice (env / models.json / offline)"
)
