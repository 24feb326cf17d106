"""Local time in the desk's zone <-> UTC, refusing the times the clock changes make ambiguous."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .errors import ValidationFailed

FORMAT = "%Y-%m-%d %H:%M"


class NonexistentLocalTime(ValidationFailed):
    code = "nonexistent_local_time"


class AmbiguousLocalTime(ValidationFailed):
    code = "ambiguous_local_time"


def _fmt(dt: datetime) -> str:
    return dt.strftime("%H:%M")


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """Turn a wall-clock time in `zone` into UTC, or explain why it cannot be done."""
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    early = local.replace(tzinfo=zone, fold=0)
    late = local.replace(tzinfo=zone, fold=1)
    early_utc = early.astimezone(UTC)
    late_utc = late.astimezone(UTC)
    round_trip = early_utc.astimezone(zone).replace(tzinfo=None)
    if round_trip != local:
        # The clocks went forward over this time: it never shows on a clock in this zone.
        before = late_utc.astimezone(zone)
        after = early_utc.astimezone(zone)
        gap = late.utcoffset() - early.utcoffset()
        raise NonexistentLocalTime(
            f"{local:%d %b %Y} {_fmt(local)} does not exist in {zone.key}: the clocks go forward "
            f"by {int(gap.total_seconds() // 60)} minutes then. Choose {_fmt(before)} {before.tzname()} "
            f"or {_fmt(after)} {after.tzname()} instead."
        )
    if early_utc != late_utc:
        raise AmbiguousLocalTime(
            f"{local:%d %b %Y} {_fmt(local)} happens twice in {zone.key}: the clocks go back then. "
            f"Choose a time outside the repeated hour, e.g. {_fmt(local - timedelta(hours=1))} "
            f"{early.tzname()} or {_fmt(local + timedelta(hours=1))} {late.tzname()}, so that "
            f"nobody has to guess which {_fmt(local)} was meant."
        )
    return early_utc


def utc_to_local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


def display(moment: datetime | None, zone: ZoneInfo, with_zone: bool = True) -> str:
    local = utc_to_local(moment, zone)
    if local is None:
        return ""
    return local.strftime("%a %d %b %Y %H:%M") + (f" {local.tzname()}" if with_zone else "")


def parse_local(text: str, zone: ZoneInfo) -> datetime:
    """Parse 'YYYY-MM-DD HH:MM' (or the HTML datetime-local 'YYYY-MM-DDTHH:MM') as local time."""
    cleaned = text.strip().replace("T", " ")
    try:
        naive = datetime.strptime(cleaned[:16], FORMAT)
    except ValueError:
        raise ValidationFailed(f"'{text}' is not a date and time: write it as YYYY-MM-DD HH:MM.") from None
    return local_to_utc(naive, zone)


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 time that carries its offset; a time without one is refused."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise ValidationFailed(f"'{text}' is not an ISO 8601 date and time.") from None
    if moment.tzinfo is None:
        raise ValidationFailed(
            f"'{text}' has no UTC offset: add one (e.g. +01:00 or Z) so the time is not ambiguous."
        )
    return moment.astimezone(UTC)
