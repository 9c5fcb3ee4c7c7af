"""The interface every labeler (the rule labeler, the fine-tuned classifier) implements.

A labeler takes segmented, attributed documents and fills, on every claim whose type is not
`other`: `type`, `type_scores`, `stance`, `stance_scores`, `target` and `model`. Segments
of type `other` (boilerplate) are left as they are. The scorer composes labelers without
knowing which one it holds.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .model import Document


@runtime_checkable
class Labeler(Protocol):
    #: Name and version written into each claim's `model` field, e.g. "rules-0.1".
    name: str

    def label(self, docs: list[Document]) -> list[Document]:
        """Label the claims of `docs` in place and return them."""
        ...
