"""The Django test project served for the browser: ``python -m tests.browser.django_server DIR``.

Run as its own process, not a thread of the test process: Playwright's sync API keeps an
asyncio loop running in the test thread for the whole module (``browser`` fixture), and
Django refuses database work there, which is why pytest-django's ``live_server`` (whose
``transactional_db`` is set up after the module's browser) cannot be used. Its own
process also gives it its own database (``DIR/default.sqlite3``), untouched by the Django
tests that share a pytest-xdist worker. It migrates, adds a superuser, serves with
werkzeug on a free loopback port (the admin's static files too) and prints
``READY <url>``.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

USERNAME = "admin"
PASSWORD = "admin-browser-pass"  # a throwaway account of a throwaway database


def main(folder: str) -> None:
    os.environ["SUOLINK_TEST_DJANGO_DIR"] = folder
    os.environ.pop("SUOLINK_TEST_DJANGO_DATABASES_FILE", None)
    from tests.adapters.django.project import setup

    setup()
    import django.contrib.admin
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from werkzeug.middleware.shared_data import SharedDataMiddleware
    from werkzeug.serving import make_server

    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STATIC_URL = "/static/"
    call_command("migrate", verbosity=0, interactive=False)
    get_user_model().objects.create_superuser(USERNAME, "admin@example.com", PASSWORD)
    static = Path(django.contrib.admin.__file__).parent / "static" / "admin"
    app = SharedDataMiddleware(WSGIHandler(), {"/static/admin": str(static)})
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"READY http://127.0.0.1:{httpd.server_port}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
