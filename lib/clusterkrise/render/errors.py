"""The one exception the renderer raises."""

from __future__ import annotations


class RenderError(RuntimeError):
    """A render step failed; ``step`` names it (shortcodes, embed, pandoc-*, typst ...) and ``file``
    the input that caused it, so the message points at what to fix."""

    def __init__(self, step: str, file: str, message: str):
        self.step = step
        self.file = str(file)
        self.detail = message.strip()
        super().__init__(f"[{step}] {self.file}: {self.detail}")

    @property
    def chapter(self) -> str:
        """The failing input, under the name clusterkrise.build uses for its error log."""
        return self.file
