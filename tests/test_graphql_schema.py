"""The SDL users depend on: exported to schema/schema.graphql and checked for drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.records.kinds import KINDS
from schema.export import SDL_PATH, sdl
from schema.ids import type_name

ROOT = Path(__file__).resolve().parent.parent


def test_the_exported_sdl_is_up_to_date() -> None:
    assert SDL_PATH.exists(), "run: python -m schema.export"
    assert SDL_PATH.read_text() == sdl(), "schema/schema.graphql drifted from the code: run python -m schema.export"


def test_the_export_command_checks() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "schema.export", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def test_every_kind_has_its_types() -> None:
    text = sdl()
    assert "interface Node {" in text and "interface Record implements Node {" in text
    for kind in KINDS.values():
        t = type_name(kind.name)
        assert f"type {t} implements Record & Node {{" in text
        for name in (f"input {t}Filter {{", f"input {t}Order {{", f"enum {t}Field {{", f"type {t}Connection {{"):
            assert name in text, name
    assert 'global id: base64 of "<Type>:<uuid>"' in text
    assert "value: JSON" in text and "contentSizeBytes: Int" in text
