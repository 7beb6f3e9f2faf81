"""The Meta sandbox served alone, under /sandbox as when it is mounted in Direto, for bench/faults.py:

    python -m gunicorn -k gevent --workers 1 --bind … bench.sandbox_wsgi:app

Its settings come from the environment (docs/sandbox.md: SANDBOX_DATABASE_URL, PUBLIC_BASE_URL, SANDBOX_WEBHOOK_URL,
FACEBOOK_CLIENT_ID/SECRET, SANDBOX_RETRY_SCHEDULE, SANDBOX_WEBHOOK_TIMEOUT…). Being its own process, it keeps
playing Meta (and redelivering webhooks) while Direto's workers are killed or its database restarts.
"""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402  (after the patch)

from werkzeug.exceptions import NotFound  # noqa: E402
from werkzeug.middleware.dispatcher import DispatcherMiddleware  # noqa: E402

from webapp.sandbox import create_sandbox_app  # noqa: E402

sandbox = create_sandbox_app({}, instance_path=os.environ.get("INSTANCE_PATH"))
app = DispatcherMiddleware(NotFound(), {sandbox.extensions["meta_sandbox"].settings.prefix: sandbox})
