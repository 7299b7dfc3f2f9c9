"""The WSGI application, built from the environment: ``gunicorn connector.wsgi:app``, Zappa."""

import atexit

from . import create_app

app = create_app()
# A worker that exits (gunicorn's graceful stop, a recycled Lambda) writes what it buffered.
atexit.register(app.extensions["connector"].close)
