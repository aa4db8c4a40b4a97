"""Write the SDL to schema/schema.graphql: ``python -m schema.export`` (``--check`` to compare)."""

from __future__ import annotations

import sys
from pathlib import Path

from schema.build import make_schema

SDL_PATH = Path(__file__).with_name("schema.graphql")


def sdl() -> str:
    return str(make_schema()).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = sdl()
    if "--check" in argv:
        if not SDL_PATH.exists() or SDL_PATH.read_text() != text:
            print(f"{SDL_PATH.name} is out of date: run python -m schema.export", file=sys.stderr)
            return 1
        return 0
    SDL_PATH.write_text(text)
    print(f"wrote {SDL_PATH.name} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
