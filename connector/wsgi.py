"""The WSGI application, built from the environment: each worker of ``connector serve``,
``gunicorn connector.wsgi:app``, Zappa."""

import atexit

from . import create_app

app = create_app()
# A worker that exits (a stopped server, a recycled Lambda) writes what it buffered.
atexit.register(app.extensions["connector"].close)
