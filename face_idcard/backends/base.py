"""What the pipeline needs from a comparison service."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

from ..images import ImageLimits

if TYPE_CHECKING:
    from ..client import CompareResult


class Backend(abc.ABC):
    """One comparison service. Instances are shared by every thread of a process.

    ``compare`` returns a :class:`~face_idcard.client.CompareResult` for every answer the
    service gave (success or error code) and raises a
    :class:`~face_idcard.exceptions.ProviderTransportError` when no usable answer arrived.
    """

    #: Short name stored on each attempt.
    name: ClassVar[str] = ""
    #: Similarity at or above which a photo matches when ``THRESHOLD`` is not set.
    default_threshold: ClassVar[float] = 75.0
    #: What the service accepts; images are prepared to fit before they are stored.
    image_limits: ImageLimits = ImageLimits()

    @abc.abstractmethod
    def compare(
        self,
        *,
        idcard_number: str,
        idcard_name: str,
        image: bytes | None = None,
        url: str | None = None,
        session_id: str | None = None,
        image_content_type: str = "image/jpeg",
        image_filename: str = "image.jpg",
    ) -> CompareResult:
        """Compare the face with the registry photo of the ID card."""

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release pooled connections (called when settings change)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
