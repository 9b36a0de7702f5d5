"""kombu's filesystem transport, with atomic publishing (broker URL ``filesystem-atomic://``).

kombu 5.x's filesystem channel creates a message file under its final name, then locks it and
writes; a consumer in another process lists the folder, moves the file away and reads it
without taking the lock. Between the ``open`` and the ``write`` it finds an empty file, fails
to parse it, and the worker's consumer dies (seen here with the web server and the worker's
own deferrals publishing while it consumes). Written under a name consumers skip, then renamed
(``os.replace`` is atomic within one folder), a message is either absent or complete.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps

ALIAS = "filesystem-atomic"


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        final = os.path.join(
            self.data_folder_out,
            f"{round(filesystem.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg",
        )
        # No "." in the first part: consumers match "<anything>.<queue>.msg" after the first dot.
        partial = os.path.join(self.data_folder_out, f"partial-{uuid.uuid4().hex}")
        try:
            with open(partial, "wb") as out:
                out.write(dumps(payload).encode("utf-8"))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(
                f"Cannot add a message to {self.data_folder_out}"
            ) from exc


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES[ALIAS] = f"{__name__}:Transport"
