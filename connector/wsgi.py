"""The WSGI application, built from the environment: ``gunicorn connector.wsgi:app``, Zappa."""

from . import create_app

app = create_app()
