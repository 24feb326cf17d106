"""Google's resumable upload protocol, resuming where an interruption left off instead of starting over.

1. POST the metadata with X-Upload-Content-Length/-Type: the reply's Location is the session URI.
2. PUT chunks (each but the last a multiple of 256 KiB) with `Content-Range: bytes FIRST-LAST/TOTAL`;
   308 "Resume Incomplete" says what is stored (`Range: bytes=0-N`, none: nothing), 200/201 is the
   finished resource.
3. On a dropped connection, a timeout or a 5xx: ask the session what it holds (`Content-Range: bytes
   */TOTAL`, no body) and continue from there. 404/410 on the session: it expired, start once more.
Nothing exists on the platform until the last byte is in, so only an interruption after the last chunk
leaves the outcome unknown (ambiguous); any earlier one is transient. For the same reason the last chunk is
the call that creates the video: `before_last` (the worker's fence) is called right before each sending of
it, and gives the extra arguments (its timeout) for that request.
The session URI authorises the upload by itself: it never reaches a log or a message.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from .base import AMBIGUOUS, PERMANENT, TRANSIENT, PlatformError
from .http import json_body

_RANGE = re.compile(r"(?:bytes=)?\s*0-(\d+)\s*$")
_EXPIRED = (404, 410)


class _Interrupted(Exception):
    """The exchange broke off (dropped, timed out, 5xx): ask the session what it holds, then go on."""

    def __init__(self, error: PlatformError):
        self.error = error


class _SessionExpired(Exception):
    """The session URI is no longer known (404/410): the upload starts again in a new session."""


@dataclass
class ResumableUpload:
    request: Callable  # (method, url, **kwargs) -> requests.Response; raises PlatformError when no answer came
    error_for: Callable  # response -> PlatformError, for a refusal in the platform's words
    label: str
    chunk_bytes: int
    retries: int = 5
    wait: float = 2.0
    sleep: Callable[[float], None] = lambda seconds: None
    before_last: Callable[[], dict] = dict

    def run(self, start_url: str, metadata: dict, path: str, content_type: str) -> dict:
        size = os.path.getsize(path)
        if size == 0:
            raise PlatformError(PERMANENT, "The video file is empty: attach it again. Nothing was published.",
                                code="empty-file")
        restarted = False
        while True:
            session = self._open(start_url, metadata, size, content_type)
            try:
                return self._send(session, path, size, content_type)
            except _SessionExpired:
                if restarted:
                    raise PlatformError(TRANSIENT, f"{self.label} dropped the upload twice before it was complete. "
                                        "Nothing was published; the desk will try again.",
                                        code="session-expired") from None
                restarted = True  # a session lives about a week: one that expired mid-upload is simply redone

    def _open(self, url: str, metadata: dict, size: int, content_type: str) -> str:
        response = self.request("POST", url, json=metadata, idempotent=True,  # a session alone publishes nothing
                                headers={"X-Upload-Content-Length": str(size), "X-Upload-Content-Type": content_type})
        if response.status_code not in (200, 201):
            raise self.error_for(response)
        location = response.headers.get("Location", "")
        if not location:
            raise PlatformError(TRANSIENT, f"{self.label} did not open an upload session. Nothing was published; "
                                "the desk will try again.", code="no-session")
        return location

    def _send(self, session: str, path: str, size: int, content_type: str) -> dict:
        offset, failures = 0, 0
        unsure = sent_last = False  # unsure: what the session holds must be asked before sending more
        with open(path, "rb") as handle:
            while True:
                try:
                    if unsure or offset >= size:
                        done, offset = self._status(session, size)
                        unsure = False
                        if done is None and offset >= size:  # every byte is in, yet no video: ask again
                            raise _Interrupted(PlatformError(TRANSIENT, "unfinished", code="not-finished"))
                    else:
                        handle.seek(offset)
                        chunk = handle.read(self.chunk_bytes)
                        end = offset + len(chunk) - 1
                        last = end == size - 1
                        extra = self.before_last() if last else {}  # may refuse: then nothing is created
                        sent_last = sent_last or last
                        done, stored = self._exchange(session, chunk, {
                            "Content-Range": f"bytes {offset}-{end}/{size}", "Content-Type": content_type}, **extra)
                        if done is None:
                            failures = 0 if stored > offset else failures + 1
                            if failures > self.retries:
                                raise PlatformError(TRANSIENT, f"{self.label} stopped accepting the video's data. "
                                                    "Nothing was published; the desk will try again.",
                                                    code="no-progress")
                            offset = stored
                    if done is not None:
                        return done
                except _Interrupted as broke:
                    failures += 1
                    if failures > self.retries:
                        raise self._gave_up(broke.error, sent_last) from None
                    self.sleep(self.wait * 2 ** (failures - 1))
                    unsure = True

    def _status(self, session: str, size: int) -> tuple[dict | None, int]:
        """What the session holds: (the finished resource, size) or (None, bytes stored)."""
        done, stored = self._exchange(session, b"", {"Content-Range": f"bytes */{size}", "Content-Length": "0"})
        return done, size if done is not None else stored

    def _exchange(self, session: str, data: bytes, headers: dict, **extra) -> tuple[dict | None, int]:
        """One PUT to the session: (resource, 0) when finished, (None, bytes stored) on 308."""
        try:
            response = self.request("PUT", session, data=data, headers=headers, idempotent=True, **extra)
        except PlatformError as error:  # no answer: dropped, timed out, unreachable
            raise _Interrupted(error) from None
        status = response.status_code
        if status in (200, 201):
            return json_body(response), 0
        if status == 308:
            match = _RANGE.match(response.headers.get("Range", ""))
            return None, int(match[1]) + 1 if match else 0
        if status in _EXPIRED:
            raise _SessionExpired()
        if status >= 500:
            raise _Interrupted(self.error_for(response))
        raise self.error_for(response)

    def _gave_up(self, error: PlatformError, all_sent: bool) -> PlatformError:
        if all_sent:
            return PlatformError(AMBIGUOUS, f"The connection to {self.label} kept breaking after the whole video "
                                 f"was sent, so it may or may not be on {self.label}. The desk will check before "
                                 "sending it again, so it does not appear twice.", code=error.code or "interrupted")
        return PlatformError(TRANSIENT, f"The upload to {self.label} kept being interrupted ({error.code}). Nothing "
                             "was published; the desk will try again by itself.", code=error.code or "interrupted")

