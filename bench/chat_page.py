"""Chat page benchmark: server time of the Chat page with a ticket open, on a database of 100k tickets and 1M messages.

    .venv/bin/python bench/chat_page.py [--tickets 100000] [--messages 1000000] [--requests 300]
                                        [--database-url postgresql://...] [--keep] [--profile PATH]

Builds the database with the real migrations (SQLite in a temporary folder by default), fills it in bulk — five
departments, one connection, one contact per ticket, most tickets closed, a few thousand waiting or open, ten
messages per ticket on average in both directions, timeline events — then asks, in process, for what an agent's
browser asks: the full Chat page with a ticket open (`GET /tickets/<id>`), the conversation pane alone (htmx), and
the list rows after a live event (`GET /chat/rows`), as an admin (every department) and as an agent of one. Server
time is the time Flask takes to answer each request (no network); it prints p50, p95 and max per request kind and
compares p95 with the target (30 ms for the page with a ticket open). A missed target prints MISS; it does not fail.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_P95_MS = 30.0
DEPARTMENTS = ("Recepção", "Vendas", "Suporte", "Financeiro", "Trocas")
WORDS = ("oi", "tudo", "bem", "pedido", "entrega", "tênis", "tamanho", "42", "cor", "azul", "obrigada", "pix",
         "prazo", "troca", "nota", "fiscal", "😊", "👟", "quando", "chega")
CHUNK = 20_000


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))).capitalize()


def fill(app, tickets: int, messages: int, rng: random.Random) -> dict:
    from sqlalchemy import insert

    from webapp.bots import store as bot_store
    from webapp.connections.models import Connection, ConnectionStatus
    from webapp.extensions import db
    from webapp.messages.models import Message, TicketEvent
    from webapp.team import directory
    from webapp.team.models import Role
    from webapp.tickets.models import Contact, Ticket

    with app.app_context():
        departments = [directory.ensure_department(name) for name in DEPARTMENTS]
        admin = directory.create_user(name="Admin Bench", email="admin@bench.test", password="bench password 1",
                                      role=Role.ADMIN, departments=[], hash_method="pbkdf2:sha256:1000")
        agent = directory.create_user(name="Bruno Bench", email="bruno@bench.test", password="bench password 1",
                                      role=Role.AGENT, departments=[departments[1]], hash_method="pbkdf2:sha256:1000")
        bot = bot_store.ensure_default_bot(departments[0].id, menu=[(d.name, d.id) for d in departments[1:]])
        connection = Connection(name="Loja Bench", default_department_id=departments[0].id, bot_id=bot.id,
                                status=ConnectionStatus.ACTIVE, instagram_account_id="17841400000000009",
                                page_id="104000000000009")
        db.session.add(connection)
        db.session.commit()
        department_ids, connection_id, agent_id = [d.id for d in departments], connection.id, agent.id
        admin_id = admin.id

        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        started = time.perf_counter()
        statuses = []
        for first in range(0, tickets, CHUNK):
            contacts, rows = [], []
            for n in range(first, min(first + CHUNK, tickets)):
                contacts.append({"id": n + 1, "connection_id": connection_id, "igsid": f"{10**15 + n}",
                                 "name": f"Cliente {n} {rng.choice(('Souza', 'Lima', 'Silva', 'Costa'))}",
                                 "username": f"cliente.{n}", "created_at": now})
                recent = n >= tickets - 5000  # the last 5,000 are still waiting or being handled
                status = rng.choice(("queued", "queued", "open", "bot")) if recent else "closed"
                opened = now - dt.timedelta(minutes=(tickets - n) * 3)
                statuses.append(status)
                rows.append({
                    "id": n + 1, "protocol": f"B{n:09d}", "connection_id": connection_id, "contact_id": n + 1,
                    "department_id": rng.choice(department_ids), "status": status,
                    "assigned_to_id": agent_id if status == "open" and rng.random() < .2 else None,
                    "opened_at": opened, "closed_at": opened + dt.timedelta(hours=1) if status == "closed" else None,
                    "last_customer_message_at": opened, "last_message_at": opened,
                    "tunnel_closes_at": (now + dt.timedelta(minutes=rng.randint(1, 1400))) if recent
                    else opened + dt.timedelta(hours=24),
                    "bot_attempts": 0, "out_of_hours_sent": False,
                })
            db.session.execute(insert(Contact), contacts)
            db.session.execute(insert(Ticket), rows)
            db.session.commit()
        per_ticket = max(1, messages // tickets)
        written = 0
        batch, events = [], []
        for ticket in range(1, tickets + 1):
            count = per_ticket if written + per_ticket <= messages else messages - written
            opened = now - dt.timedelta(minutes=(tickets - ticket + 1) * 3)
            events.append({"ticket_id": ticket, "kind": "opened", "details": {"by": "customer"}, "created_at": opened})
            for k in range(count):
                inbound = k % 2 == 0
                batch.append({
                    "connection_id": connection_id, "contact_id": ticket, "ticket_id": ticket,
                    "mid": f"m-{ticket}-{k}", "direction": "in" if inbound else "out",
                    "author": "customer" if inbound else "agent", "author_id": None if inbound else agent_id,
                    "kind": "text", "text": sentence(rng), "sent_at": opened + dt.timedelta(seconds=30 * k),
                    "created_at": opened, "status": "received" if inbound else "seen", "attempts": 0, "num_edit": 0,
                })
            written += count
            if len(batch) >= CHUNK:
                db.session.execute(insert(Message), batch)
                db.session.execute(insert(TicketEvent), events)
                db.session.commit()
                batch, events = [], []
        if batch or events:
            db.session.execute(insert(Message), batch)
            db.session.execute(insert(TicketEvent), events)
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        else:
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        print(f"filled {tickets:,} tickets and {written:,} messages in {time.perf_counter() - started:.0f} s", flush=True)
        open_for_agent = [i + 1 for i, s in enumerate(statuses) if s != "closed"]
        return {"admin": admin_id, "agent": agent_id, "waiting": open_for_agent, "tickets": tickets}


def signed_in(app, email: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    response = client.post("/login", data={"email": email, "password": "bench password 1", "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return client


def timed(client, path: str, headers=None) -> float:
    started = time.perf_counter()
    response = client.get(path, headers=headers or {})
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code)
    return elapsed


def report(name: str, times: list[float], target: float | None = None) -> None:
    times = sorted(times)
    p95 = times[int(len(times) * .95) - 1]
    verdict = "" if target is None else f"   target p95 ≤ {target:.0f} ms   {'PASS' if p95 <= target else 'MISS'}"
    print(f"  {name:<38} p50 {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms   max {times[-1]:6.1f} ms{verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--profile", metavar="PATH", help="print a profile of 20 requests for PATH first")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="direto-bench-chat-"))
    url = args.database_url or f"sqlite:///{folder / 'direto.sqlite3'}"
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db

    app = create_app({
        "INSTANCE_PATH": str(folder), "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secrets.token_urlsafe(32),
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(), "META_SANDBOX": False, "WEBHOOK_PROCESSING": "off",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    })
    try:
        with app.app_context():
            upgrade()
        rng = random.Random(7)
        data = fill(app, args.tickets, args.messages, rng)
        admin, agent = signed_in(app, "admin@bench.test"), signed_in(app, "bruno@bench.test")
        htmx = {"HX-Request": "true"}
        with app.app_context():
            from sqlalchemy import select

            from webapp.team.models import Department, user_departments
            from webapp.tickets.models import Ticket

            sales = db.session.scalar(select(user_departments.c.department_id).where(
                user_departments.c.user_id == data["agent"]))
            agent_tickets = list(db.session.scalars(select(Ticket.id).where(
                Ticket.department_id == sales, Ticket.status != "closed")))
            assert db.session.get(Department, sales) is not None
        any_ticket = [rng.randint(1, data["tickets"]) for _ in range(args.requests)]
        for path in ("/", f"/tickets/{any_ticket[0]}"):  # warm up: templates compiled, caches filled
            timed(admin, path)
        if args.profile:  # where the time goes, for one path as the admin
            import cProfile
            import pstats
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(20):
                timed(admin, args.profile)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        results = {"page, admin, any ticket": [], "page, agent, own department": [], "pane (htmx), admin": [],
                   "list rows after a live event, agent": []}
        for n in range(args.requests):
            results["page, admin, any ticket"].append(timed(admin, f"/tickets/{any_ticket[n]}"))
            results["page, agent, own department"].append(timed(agent, f"/tickets/{rng.choice(agent_tickets)}"))
            results["pane (htmx), admin"].append(timed(admin, f"/tickets/{rng.choice(data['waiting'])}", htmx))
            results["list rows after a live event, agent"].append(
                timed(agent, "/chat/rows?tab=queue&sort=" + rng.choice(("waiting", "newest", "tunnel")), htmx))
        with app.app_context():
            dialect = db.engine.dialect.name
        print(f"server time over {args.requests} requests each ({dialect}, "
              f"{args.tickets:,} tickets, {args.messages:,} messages):")
        for name, times in results.items():
            report(name, times, TARGET_P95_MS if name.startswith("page") else None)
        return 0
    finally:
        with app.app_context():
            db.engine.dispose()
        if args.keep:
            print(f"kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("DIRETO_WORKERS", "0")
    sys.exit(main())
