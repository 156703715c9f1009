"""The app as ``ravingfans serve`` builds it, importable by ``uvicorn --workers N`` (one copy per worker process).

``ravingfans serve`` runs one uvicorn process. The web benchmark also measures several worker processes
(``bench/web_bench.py --workers 2``) to see what a second process buys on the same cores:

    RAVINGFANS_DATABASE_URL=... .venv/bin/uvicorn web_app:app --app-dir bench --workers 2 --port 8765
"""

from __future__ import annotations

from ravingfans.config import get_settings
from ravingfans.db import open_database
from ravingfans.web import create_app

settings = get_settings()
settings.check_production()
app = create_app(settings, database=open_database(settings.database_url))
