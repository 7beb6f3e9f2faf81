"""gunicorn settings shared by `make run`, the live server of the tests and production (`-c webapp/gunicorn_conf.py`).

Given as a file, not as `python:webapp.gunicorn_conf`: the master then never imports the `webapp` package, so the
workers it forks again on a HUP load the new code whole (see docs/deploy.md, upgrades). Each worker starts the
background loops (webhook processing, sending, downloads) and the scheduler loop once it has loaded the app; the
database lease lets only one of them run the scheduler's jobs.
"""
import os

worker_class = "gevent"
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", 1000))
graceful_timeout = 5
control_socket_disable = True
accesslog = "-"
# The path only: query strings can carry OAuth codes, and nothing secret belongs in a log.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


def post_worker_init(worker):
    from webapp.events import stream

    stream.stop_when(worker.wsgi, lambda: not worker.alive)  # open live streams end at once on shutdown
    from webapp.core import workers

    if os.environ.get("DIRETO_WORKERS", "1") != "0":
        workers.start_all(worker.wsgi)  # webhook processing, sending, downloads: picks up what was left at once
    else:
        from webapp.webhooks import spool

        # Webhooks this process answered while the database was away wait on this machine's disk: only a process
        # of this machine can move them, so even a web-only one does.
        workers.start_all(worker.wsgi, only=(spool.WORKER,))
    if os.environ.get("DIRETO_SCHEDULER", "1") != "0":
        from webapp.scheduler.loop import Scheduler

        worker.direto_scheduler = Scheduler(worker.wsgi).start()


def worker_exit(server, worker):
    from webapp.core import workers

    workers.stop_all()
    scheduler = getattr(worker, "direto_scheduler", None)
    if scheduler is not None:
        scheduler.stop()
