"""Prompt templates are files in prompts/, loaded by name and filled with str.format fields."""

from __future__ import annotations

from pathlib import Path

from bot.domain.errors import AssistantError


class PromptNotFoundError(AssistantError):
    """A prompt name with no file behind it."""


class PromptLibrary:
    """Loads `prompts/<name>.txt` once and fills its {fields}."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._cache: dict[str, str] = {}

    def template(self, name: str) -> str:
        """The raw template text."""
        if name not in self._cache:
            path = self._directory / f"{name}.txt"
            if not path.is_file():
                raise PromptNotFoundError(f"提示词模板不存在：{path}")
            self._cache[name] = path.read_text(encoding="utf-8").strip()
        return self._cache[name]

    def render(self, name: str, **fields: str) -> str:
        """The template with its fields filled."""
        return self.template(name).format(**fields)
