"""The WSGI entry point: gevent's monkey patch first, then the app."""
from gevent import monkey

monkey.patch_all()

from webapp import create_app  # noqa: E402  (must follow the patch)

app = create_app()
