"""gunicorn embedded: the app and the lookup engine load once, before the workers fork."""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

logger = logging.getLogger("nextwork.server")


class _Server(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from django.db import connections

        from nextwork.wsgi import application

        try:
            from nextwork.territories.lookup import get_engine

            get_engine()  # shared copy-on-write by the forked workers
        except Exception as exc:  # an empty registry must not stop the site
            logger.warning("lookup engine not preloaded: %s", type(exc).__name__)
        connections.close_all()  # never share a database connection across fork
        return application


def run(*, host: str, port: int, workers: int, threads: int) -> None:
    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "preload_app": True,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "timeout": 60,
        }
    ).run()
