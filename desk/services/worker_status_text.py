"""The publishing status as plain text for the shell (`desk worker --status`), times in the desk's zone."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from ..domain.timezones import display
from .target_decisions import Waiting
from .worker_status import Snapshot, headline, notes, spoken


def render(s: Snapshot, zone: ZoneInfo, waiting: list[Waiting]) -> str:
    at = lambda moment: display(moment, zone) if moment else "-"  # noqa: E731
    level, words = headline(s)
    lines = [f"{level.upper()}: {words}", *notes(s), ""]
    lines.append(f"Workers ({len(s.alive)} alive; a heartbeat every {s.heartbeat_seconds} s, alive when one came "
                 f"within {s.alive_within_seconds} s):")
    for w in s.workers:
        state = "alive" if w.alive else ("stopped " + at(w.stopped_at) if w.stopped_at else "NOT REPORTING")
        lines.append(f"  {w.id}  {state}  heartbeat {spoken(w.heartbeat_age_seconds)} ago  pool {w.pool_size}  "
                     f"in flight {w.in_flight}  started {at(w.started_at)}")
        if w.last_error:
            lines.append(f"    last error: {w.last_error}")
        for c in w.claims:
            lines.append(f"    sending target {c.target_id} (post {c.post_id}) to {c.channel_name}, "
                         f"lease until {at(c.lease_until)}{' (EXPIRED)' if c.lease_expired else ''}")
    if not s.workers:
        lines.append("  none in the last 24 hours")
    for c in s.orphan_claims:
        lines.append(f"  claimed by {c.worker or 'nobody'}, which is not reporting: target {c.target_id} (post "
                     f"{c.post_id}) on {c.channel_name}, lease {'ran out' if c.lease_expired else 'runs out'} "
                     f"{at(c.lease_until)}")
    lines += ["", f"Queue: {s.due_now} due now ({s.due_queued} queued, {s.due_retrying} retrying), "
                  f"{s.scheduled_later} scheduled later, {s.sending} sending, {s.held} held, {s.unknown} unknown, "
                  f"{s.waiting_for_person} waiting for a person"]
    o = s.oldest_overdue
    lines.append(f"Oldest overdue: target {o.target_id} (post {o.post_id}) on {o.channel_name}, {o.status}, due "
                 f"{at(o.due_at)}, {spoken(o.late_seconds)} late" if o else "Oldest overdue: none")
    for w in waiting:
        lines.append(f"  waiting for a person: target {w.target_id} (post {w.post_id}) on {w.channel_name} "
                     f"[{w.unit_code}], {w.kind.replace('_', ' ')}")
    by_code = ", ".join(f"{code} {n}" for code, n in s.failures_by_code.items())
    lines += ["", f"Failures in the last 24 hours: {s.failures}{' (' + by_code + ')' if by_code else ''}"]
    for f in s.recent_failures:
        lines.append(f"  {at(f.finished_at)}  target {f.target_id} (post {f.post_id})  {f.channel_name} "
                     f"[{f.platform}]  {f.outcome or '-'}  {f.error_code or '-'}: {f.message or ''}")
    lines += ["", f"Channels being paced: {s.paced_count}"]
    for c in s.paced:
        budget = (f", {c.rate_remaining} call(s) left until {at(c.rate_reset_at)}"
                  if c.rate_remaining is not None else "")
        lines.append(f"  {c.name} [{c.unit_code}, {c.platform}] next call at {at(c.next_send_at)}{budget}")
    lines.append(f"Channels needing reconnection: {len(s.needs_reconnect)}")
    for c in s.needs_reconnect:
        lines.append(f"  {c.name} [{c.unit_code}, {c.platform}] {c.held} held: {c.reason or ''}")
    lines.append(f"Second copies to remove: {len(s.stray_copies)}")
    for c in s.stray_copies:
        lines.append(f"  target {c.target_id} (post {c.post_id}) on {c.channel_name} [{c.unit_code}, {c.platform}], "
                     f"sent again {at(c.sent_at)}: {c.remote_url or c.remote_id}")
    return "\n".join(lines)
