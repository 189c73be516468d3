"""The embedded broker: kombu's ``filesystem://`` transport, with atomic message files.

kombu writes a message by creating ``<n>_<uuid>.<queue>.msg`` and then writing into it,
so a consumer listing the folder in between can take the empty or half-written file
and fail to decode it (seen when a pool process publishes a retry while the worker
polls). Here a message is written under a name no consumer matches, then renamed into
place: a consumer sees a whole message or none.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):  # type: ignore[misc]
    """A filesystem channel whose ``_put`` is a write to a temporary name and a rename."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"~{name}.part")
        try:
            with open(partial, "wb") as out:
                out.write(dumps(payload).encode())
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):  # type: ignore[misc]
    """``filesystem://`` with atomic puts."""

    Channel = Channel
