"""What the pipeline needs from a comparison service, whichever provider runs it.

A backend declares what it needs and accepts (image limits and formats, whether it takes a
url, its default threshold, the request keys that carry personal information, its catalogue
and billing rule) and turns each call into a :class:`~face_idcard.outcome.ProviderOutcome`.
Generic code reads nothing else.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..conf import face_idcard_settings
from ..images import ImageLimits
from ..outcome import GENERIC, Catalogue, CodeInfo, ProviderOutcome

if TYPE_CHECKING:
    from .config import BackendSettings


@dataclass(frozen=True)
class VerificationRequest:
    """One comparison to make. Its repr shows no personal information.

    ``correlation_id`` identifies the attempt to the provider (legacy ``session_id``) without
    saying anything about the person.
    """

    idcard_number: str = field(repr=False)
    idcard_name: str = field(repr=False)
    image: bytes | None = field(default=None, repr=False)
    image_content_type: str = "image/jpeg"
    url: str | None = field(default=None, repr=False)
    correlation_id: str = ""

    @property
    def url_mode(self) -> bool:
        return self.url is not None

    def __str__(self) -> str:
        return repr(self)


class Backend(abc.ABC):
    """One configured comparison service (one alias of ``BACKENDS``).

    Instances are shared by every thread of a process and rebuilt when settings change.
    """

    #: The provider family, e.g. ``"legacy"``; the alias is per instance.
    provider: ClassVar[str] = ""
    #: Similarity at or above which a photo matches when the alias sets no ``THRESHOLD``.
    default_threshold: ClassVar[float] = 75.0
    #: Whether the provider can fetch the photo from a url itself.
    accepts_url: ClassVar[bool] = False
    #: What the provider accepts; photos are prepared to fit before they are stored.
    base_image_limits: ClassVar[ImageLimits] = ImageLimits()
    #: Keys of the provider's request or response bodies that carry personal information:
    #: removed from everything stored or shown.
    pii_keys: ClassVar[frozenset[str]] = frozenset()
    #: The provider's codes as data (unknown codes pass through as UNKNOWN).
    catalogue: ClassVar[Catalogue] = GENERIC
    #: How the provider bills, in one sentence (each code's ``billable`` says it per outcome).
    billing_rule: ClassVar[str] = ""
    #: For development and tests only (warned about when DEBUG is off).
    development_only: ClassVar[bool] = False
    #: Options the alias must set (credentials); a missing one is a system check Error.
    required_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: BackendSettings | None = None) -> None:
        if config is None:
            from .config import settings_for_class

            config = settings_for_class(type(self))
        self.config = config
        self.alias = config.alias
        self.image_limits = config.image_limits(self.base_image_limits)
        self.threshold = (
            float(config.threshold) if config.threshold is not None else self.default_threshold
        )
        self.review_band = float(config.review_band)
        self.rate_limit_per_second = config.rate_limit_per_second

    @classmethod
    def options_from_flat_settings(cls) -> dict[str, Any]:
        """The alias entry implied by the flat keys, for sites without ``BACKENDS``."""
        fs = face_idcard_settings
        return {
            "APPID": fs.APPID,
            "SECRET_ID": fs.SECRET_ID,
            "SECRET_KEY": fs.SECRET_KEY,
            "BUCKET": fs.BUCKET,
            "ENDPOINT": fs.ENDPOINT,
            "SIGNATURE_LIFETIME": fs.SIGNATURE_LIFETIME,
        }

    @abc.abstractmethod
    def verify(self, request: VerificationRequest) -> ProviderOutcome:
        """Compare the face with the registry photo of the ID card.

        Returns an outcome for every answer the provider gave; may raise a
        :class:`~face_idcard.exceptions.ProviderTransportError` when no usable answer arrived.
        """

    @property
    def name(self) -> str:
        """The alias (the name this backend had before aliases existed)."""
        return self.alias

    def describe(self, code: str) -> CodeInfo:
        """The catalogue's entry for ``code`` (meanings in zh-hans and en, reason, class)."""
        return self.catalogue.lookup(code)

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release pooled connections (called when settings change)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.alias}>"
