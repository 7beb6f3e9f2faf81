"""Protocol numbers: the company's format, the local day, and no duplicate under concurrent writers."""
import datetime as dt

from tests.conftest import run_concurrently
from webapp.tickets import protocols

UTC = dt.timezone.utc


def test_numbers_follow_the_format_and_the_local_day(app):
    with app.app_context():
        # 01:30 UTC on the 26th is still the 25th in São Paulo.
        late_evening = dt.datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
        assert protocols.next_protocol(late_evening, "{date:%Y%m%d}{seq:04d}", "America/Sao_Paulo") == "202611250001"
        assert protocols.next_protocol(late_evening, "{date:%Y%m%d}{seq:04d}", "America/Sao_Paulo") == "202611250002"
        next_morning = dt.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
        assert protocols.next_protocol(next_morning, "ATD-{date:%y%m%d}-{seq}", "America/Sao_Paulo") == "ATD-261126-1"


def test_concurrent_writers_never_get_the_same_number(app):
    day = dt.date(2026, 11, 25)
    batches = run_concurrently(app, lambda: [protocols.next_sequence(day) for _ in range(15)], threads=6)
    assert sorted(n for batch in batches for n in batch) == list(range(1, 91))
