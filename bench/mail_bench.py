"""E-mail send rate: the outbox drained to a local SMTP server, next to raw smtplib sends of the same messages.

    .venv/bin/python bench/mail_bench.py [--messages 5000] [--database-url URL]

Queues N marketing messages (rendered survey invitations, one customer each, with consent) with
``ravingfans.mail.enqueue`` (timed on its own), then drains them with ``send_pending`` to an aiosmtpd
server on a free local port (claim and lease per batch, one committed mark per message, one SMTP
connection). The floor is the same N messages (the same bytes) sent with smtplib over one connection
with no database at all. Prints messages/s for both and the ratio; the goal is >= 200 messages/s with
the outbox bookkeeping. Default database: a fresh SQLite file in a temporary folder; give a PostgreSQL
server URL (without a database name is not supported: give a database you can throw away) to bench that.
"""

from __future__ import annotations

import argparse
import smtplib
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import select, text

from ravingfans.config import Settings
from ravingfans.db import make_engine, open_database
from ravingfans.db.migrate import upgrade
from ravingfans.db.models import Customer, OutboxMessage
from ravingfans.mail import enqueue, send_pending

GOAL = 200.0


class Counter:
    """Accepts everything, counts messages."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        with self.lock:
            self.count += 1
        return "250 OK"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    n = args.messages
    work = Path(tempfile.mkdtemp(prefix="rf_mail_bench_"))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()
    db = open_database(url)
    handler = Counter()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings = Settings(database_url=url, smtp_host="127.0.0.1", smtp_port=port, mail_from="hello@shoe.example",
                        business_name="Shoe & Co", business_address="12 High Street\nSpringfield",
                        public_url="https://shop.example", _env_file=None)
    at = datetime.now(UTC)
    try:
        with db.session(write=True) as s:
            s.add_all(Customer(first_name=f"Fan{i}", last_name="Bench", email=f"fan{i}@example.com",
                               email_consent=True, created_at=at, updated_at=at) for i in range(n))
        with db.session() as s:
            ids = list(s.scalars(select(Customer.id).order_by(Customer.id)))
        started = time.perf_counter()
        with db.session(write=True) as s:
            for i, cid in enumerate(ids):
                enqueue(s, key=f"bench:{cid}", customer_id=cid, to=f"fan{i}@example.com", template="survey_invitation",
                        context={"customer_first_name": f"Fan{i}", "survey_title": "Spring check-in",
                                 "survey_url": f"https://shop.example/s/{cid}", "business_name": "Shoe & Co",
                                 "expires_on": date(2026, 4, 1)}, language=None, purpose="marketing",
                        settings=settings)
        queued_s = time.perf_counter() - started
        with db.session() as s:
            raws = [(r.to_address, r.raw) for r in s.execute(select(OutboxMessage.to_address, OutboxMessage.raw))]

        started = time.perf_counter()
        report = send_pending(db, settings)
        outbox_s = time.perf_counter() - started
        assert report.sent == n and handler.count == n, (report, handler.count)

        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            for to, raw in raws:
                smtp.sendmail("hello@shoe.example", [to], raw.encode("ascii"))
        floor_s = time.perf_counter() - started
        assert handler.count == 2 * n
    finally:
        controller.stop()
        db.dispose()
    outbox_rate, floor_rate = n / outbox_s, n / floor_s
    print(f"database: {engine.dialect.name}; messages: {n}; average size {sum(len(r) for _, r in raws) // n} bytes")
    print(f"enqueue (render + insert, one transaction): {n / queued_s:,.0f} msgs/s ({queued_s:.2f} s)")
    print(f"outbox send_pending: {outbox_rate:,.0f} msgs/s ({outbox_s:.2f} s)")
    print(f"floor, raw smtplib on one connection: {floor_rate:,.0f} msgs/s ({floor_s:.2f} s)")
    print(f"ratio outbox/floor: {outbox_rate / floor_rate:.2f}; goal >= {GOAL:.0f} msgs/s: "
          f"{'met' if outbox_rate >= GOAL else 'MISSED'}")


if __name__ == "__main__":
    main()
