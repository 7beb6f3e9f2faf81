"""The scheduler: one lease holder at a time across processes, taken over when it stops; jobs run when due."""
import datetime as dt
import threading

import pytest

from webapp.extensions import db
from webapp.scheduler import jobs, lease
from webapp.scheduler.loop import Scheduler
from webapp.scheduler.models import ScheduledJob

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
TTL = dt.timedelta(seconds=60)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


def test_only_one_process_holds_the_lease_until_it_expires(ctx):
    assert lease.hold("worker-a", TTL, NOW)
    assert not lease.hold("worker-b", TTL, NOW + dt.timedelta(seconds=30))
    assert lease.hold("worker-a", TTL, NOW + dt.timedelta(seconds=30))  # renewing pushes the expiry
    assert not lease.hold("worker-b", TTL, NOW + dt.timedelta(seconds=80))
    # worker-a died: once its last renewal expires, worker-b takes over, and worker-a cannot come back.
    assert lease.hold("worker-b", TTL, NOW + dt.timedelta(seconds=91))
    assert not lease.hold("worker-a", TTL, NOW + dt.timedelta(seconds=92))


def test_releasing_hands_over_at_once(ctx):
    assert lease.hold("worker-a", TTL, NOW)
    lease.release("worker-a")
    assert lease.hold("worker-b", TTL, NOW + dt.timedelta(seconds=1))


def test_jobs_run_when_due_and_once_per_interval(app, ctx):
    runs = []
    daily = jobs.Job("probe", dt.timedelta(days=1), lambda app: runs.append(1))
    assert jobs.run_due(app, NOW, [daily]) == ["probe"]
    assert jobs.run_due(app, NOW + dt.timedelta(hours=23), [daily]) == []
    assert jobs.run_due(app, NOW + dt.timedelta(days=1), [daily]) == ["probe"]
    assert len(runs) == 2
    assert db.session.get(ScheduledJob, "probe").next_run_at == NOW + dt.timedelta(days=2)


def test_a_failing_job_is_recorded_rescheduled_and_does_not_stop_the_others(app, ctx):
    def broken(app):
        raise RuntimeError("Graph is down")

    runs = []
    ran = jobs.run_due(app, NOW, [jobs.Job("broken", dt.timedelta(hours=1), broken),
                                  jobs.Job("fine", dt.timedelta(hours=1), lambda app: runs.append(1))])
    assert ran == ["broken", "fine"] and runs == [1]
    row = db.session.get(ScheduledJob, "broken")
    assert row.last_error == "RuntimeError: Graph is down"
    assert row.next_run_at == NOW + dt.timedelta(hours=1)


def test_only_the_lease_holder_runs_jobs(app):
    runs = []
    probe = [jobs.Job("probe", dt.timedelta(seconds=10), lambda app: runs.append(1))]
    first, second = Scheduler(app, job_list=probe), Scheduler(app, job_list=probe)
    assert first.tick_once(NOW) == ["probe"]
    later = NOW + dt.timedelta(seconds=30)  # the job is due again, but first still holds the lease
    assert second.tick_once(later) == []
    assert first.tick_once(later) == ["probe"]
    assert runs == [1, 1]


def test_the_loop_runs_in_the_background_and_stops(app):
    ran = threading.Event()
    scheduler = Scheduler(app, tick=dt.timedelta(milliseconds=20),
                          job_list=[jobs.Job("probe", dt.timedelta(days=1), lambda app: ran.set())]).start()
    try:
        assert ran.wait(10)
    finally:
        scheduler.stop()
        scheduler.thread.join(10)
    assert not scheduler.thread.is_alive()


def test_run_jobs_command(runner):
    first = runner.invoke(args=["run-jobs"])
    assert first.exit_code == 0 and "check-connections" in first.output
    assert "nothing due" in runner.invoke(args=["run-jobs"]).output  # booked for tomorrow


def test_a_job_outlasting_the_lease_is_not_run_twice(app):
    """The holder's job runs past its lease; another process takes the lease meanwhile and must not start it again."""
    events = []
    other = Scheduler(app)

    def slow(app):
        events.append("start")
        with app.app_context():
            events.extend(other.tick_once(NOW + dt.timedelta(seconds=61)))  # the lease expired meanwhile
        events.append("end")

    first = Scheduler(app, job_list=[jobs.Job("slow", dt.timedelta(hours=1), slow)])
    other.jobs = first.jobs
    assert first.tick_once(NOW) == ["slow"]
    assert events == ["start", "end"]


def test_the_lease_and_tick_come_from_the_configuration(test_settings):
    from webapp import create_app

    app = create_app({**test_settings, "SCHEDULER_LEASE_SECONDS": 6, "SCHEDULER_TICK_SECONDS": 1})
    scheduler = Scheduler(app)
    assert (scheduler.ttl, scheduler.tick) == (dt.timedelta(seconds=6), dt.timedelta(seconds=1))
    with pytest.raises(ValueError, match="outlast its tick"):
        Scheduler(create_app({**test_settings, "SCHEDULER_LEASE_SECONDS": 5, "SCHEDULER_TICK_SECONDS": 5}))
