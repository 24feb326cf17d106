"""Anchoring the audit trail's head where the force keeps its records: a file, syslog, or an e-mail.

`anchor` is the use case behind `desk audit anchor`, and behind the worker's daily anchor (`anchor_if_due`):
it writes the head to the sink named by DESK_AUDIT_ANCHOR, then records `audit.anchored` in the trail. A
sink that fails is recorded as `audit.anchor_failed`, so that the trail itself says where the outside
record has a gap. Which head, and what verify does with it: domain/audit_anchors.py.
"""
from __future__ import annotations

import logging
import os
import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from logging.handlers import SysLogHandler

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..db import is_postgres
from ..domain import audit
from ..domain.audit_anchors import Head, Sink, anchor_due, anchor_line, parse_server, parse_sink
from ..domain.clock import utcnow
from ..domain.errors import DeskError
from ..models import AuditEvent
from .audit_trail import SystemActor, record

log = logging.getLogger("desk.audit")

# A sink that does not answer within this is a failed anchor, not a stuck worker.
SEND_TIMEOUT_SECONDS = 10
# Names the advisory lock that lets one worker of several anchor, while the others skip.
_ANCHOR_LOCK = 0x64657361


class AnchorFailed(DeskError):
    code = "anchor_failed"
    http_status = 502


@dataclass(frozen=True)
class MailServer:
    host: str
    port: int
    sender: str

    @classmethod
    def from_settings(cls, settings) -> MailServer:
        return cls(*parse_server(settings.smtp_server), settings.mail_from)


def current_head(session: Session) -> tuple[Head, int | None]:
    """The last row (row 0 and GENESIS for an empty trail), and the first row that carries an HMAC."""
    last = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    keyed_from = session.scalar(select(AuditEvent.seq).where(AuditEvent.mac.is_not(None))
                                .order_by(AuditEvent.seq).limit(1))
    return (Head(last.seq, last.hash) if last else Head(0, audit.GENESIS)), keyed_from


def anchor(session: Session, actor, setting: str, mail: MailServer, now: datetime | None = None) -> Head:
    """Write the head to the sink, then record that it was written; AnchorFailed (also recorded) if not."""
    sink = parse_sink(setting)
    now = now or utcnow()
    head, keyed_from = current_head(session)
    line = anchor_line(head, now, keyed_from)
    details = {"seq": head.seq, "hash": head.hash, "keyed_from": keyed_from, "to": setting}
    try:
        deliver(sink, head, line, mail)
    except AnchorFailed as exc:
        record(session, actor, "audit.anchor_failed", "audit", None, details={**details, "error": exc.message},
               now=now)
        session.commit()
        raise
    record(session, actor, "audit.anchored", "audit", None, details=details, now=now)
    session.commit()
    return head


def anchor_if_due(session: Session, now: datetime | None = None, *, worker: str, setting: str,
                  mail: MailServer) -> tuple[int, int]:
    """The worker's daily anchor: (1, 0) when it anchored, (0, 1) when the sink failed, (0, 0) when not due."""
    now = now or utcnow()
    if is_postgres(session) and not session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                                   {"k": _ANCHOR_LOCK}):
        return 0, 0  # another worker is anchoring at this moment
    last = dict(session.execute(select(AuditEvent.action, func.max(AuditEvent.at))
                                .where(AuditEvent.action.in_(("audit.anchored", "audit.anchor_failed")))
                                .group_by(AuditEvent.action)).all())
    if not anchor_due(now, last.get("audit.anchored"), last.get("audit.anchor_failed")):
        return 0, 0
    try:
        head = anchor(session, SystemActor(f"worker:{worker}"), setting, mail, now)
    except AnchorFailed as exc:
        log.warning("%s; the worker tries again in an hour", exc.message)
        return 0, 1
    log.info("audit head anchored: row %s, hash %s", head.seq, head.hash)
    return 1, 0


def deliver(sink: Sink, head: Head, line: str, mail: MailServer) -> None:
    """One line to a file or syslog, one e-mail; AnchorFailed, with words, when it did not go."""
    {"file": _to_file, "syslog": _to_syslog, "mail": _by_mail}[sink.kind](sink, head, line, mail)


def _to_file(sink: Sink, _head, line: str, _mail) -> None:
    try:
        fd = os.open(sink.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)  # an anchor that a crash can take back anchors nothing
        finally:
            os.close(fd)
    except OSError as exc:
        raise AnchorFailed(f"The audit head could not be written to {sink.target}: {exc.strerror}. Nothing was "
                           "anchored; check that the desk may write there (DESK_AUDIT_ANCHOR).") from None


class _SysLog(SysLogHandler):
    def handleError(self, record):  # noqa: N802 (logging's name): a lost anchor must be said, not printed
        raise


def _to_syslog(sink: Sink, _head, line: str, _mail) -> None:
    where = sink.target if sink.port is None else f"{sink.target}:{sink.port}"
    try:
        handler = _SysLog(address=sink.target if sink.port is None else (sink.target, sink.port),
                          facility=SysLogHandler.facility_names[sink.facility])
        try:
            handler.ident = "desk-audit: "
            handler.emit(logging.LogRecord("desk.audit", logging.INFO, __file__, 0, line, None, None))
        finally:
            handler.close()
    except OSError as exc:
        raise AnchorFailed(f"The audit head could not be sent to syslog at {where}: {exc.strerror or exc}. "
                           "Nothing was anchored; check DESK_AUDIT_ANCHOR.") from None


def _by_mail(sink: Sink, head: Head, line: str, mail: MailServer) -> None:
    message = EmailMessage()
    message["From"], message["To"] = mail.sender, sink.target
    message["Subject"] = f"Audit trail head: row {head.seq}"
    message["Date"], message["Message-ID"] = formatdate(localtime=False), make_msgid(domain="desk")
    message.set_content(
        f"{line}\n\nKeep this message with the force's records. It anchors the desk's audit trail: later,\n"
        f"  flask --app app desk audit verify --expect-head {head}\n"
        "fails if the trail no longer reaches that row with that hash (rows cut from its end, or a chain\n"
        "rebuilt).\n", cte="7bit")  # ASCII, and the head on one line to copy (quoted-printable would fold it)
    try:
        with smtplib.SMTP(mail.host, mail.port, timeout=SEND_TIMEOUT_SECONDS) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise AnchorFailed(f"The audit head could not be sent to {sink.target} through {mail.host}:{mail.port}: "
                           f"{exc}. Nothing was anchored; check DESK_SMTP_SERVER and DESK_AUDIT_ANCHOR.") from None
