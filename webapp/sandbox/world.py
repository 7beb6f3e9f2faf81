"""The seeded world: Facebook users, their pages, Instagram accounts and customers.

Ids derive from the keys below (see ids.py), so they are the same on every install and docs/sandbox.md
can name them. Seeding is idempotent: rows that exist are left alone.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete

from . import ids
from .models import (
    Base,
    Conversation,
    Customer,
    FbUser,
    IgAccount,
    Knob,
    Page,
    PageRole,
    Store,
    Subscription,
)

ALL_TASKS = ["ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE"]
LIMITED_TASKS = ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT"]
DEFAULT_FIELDS = ["messages", "messaging_postbacks", "messaging_seen", "message_reactions", "messaging_referral"]


@dataclass(frozen=True)
class PageSeed:
    key: str
    name: str
    category: str
    ig: tuple[str, str, str] | None = None  # (account key, @username, display name)


USERS = [("dona", "Dona Demo"), ("rui", "Rui Redes"), ("nina", "Nina Sem Páginas"), ("paulo", "Paulo Sem Instagram")]

PAGES = [
    PageSeed("loja", "Loja Demo", "Shopping & retail", ("loja", "loja.demo", "Loja Demo")),
    PageSeed("cafe", "Café da Dona", "Coffee shop", ("cafe", "cafe.dadona", "Café da Dona")),
    PageSeed("blog", "Dona Demo Blog", "Personal blog"),
] + [
    PageSeed(
        f"filial{n:02d}",
        f"Rede Demo — Filial {n:02d}",
        "Retail company",
        (f"filial{n:02d}", f"rede.filial{n:02d}", f"Rede Demo Filial {n:02d}") if n % 10 == 0 else None,
    )
    for n in range(1, 31)
]

# user key -> [(page key, tasks)]. Rui also has a role on Loja Demo: its Instagram account can already be
# linked by Dona's connection when Rui tries to link it (a page shared by two people, as on Facebook).
ROLES: dict[str, list[tuple[str, list[str]]]] = {
    "dona": [("loja", ALL_TASKS), ("cafe", ALL_TASKS), ("blog", LIMITED_TASKS)],
    "rui": [(f"filial{n:02d}", ALL_TASKS) for n in range(1, 31)] + [("loja", ALL_TASKS)],
    "nina": [],
    # Pages, but none with an Instagram professional account linked.
    "paulo": [("blog", ALL_TASKS), ("filial01", ALL_TASKS)],
}

CUSTOMERS = [
    ("ana", "Ana Souza", "ana.souza", "#e4405f", 1234),
    ("bruno", "Bruno Lima", "bruno.lima", "#405de6", 87),
    ("carla", "Carla Mendes", "carlamendes", "#fd1d1d", 5420),
    ("diego", "Diego Rocha", "diego_rocha", "#2a9d8f", 310),
    ("erica", "Érica Nunes", "erica.nunes", "#8a3ab9", 42),
    ("fabio", "Fábio Kim", "fabio.kim", "#f77737", 9001),
]

# Pre-subscribed so the demo phone delivers webhooks before Direto links a page; Direto's own
# subscribe/unsubscribe calls still change it.
PRESUBSCRIBED = ["loja"]


SEED_VERSION = 1  # bump when the world below changes, so existing sandboxes add the new rows


def seed(store: Store) -> None:
    """Create whatever part of the world is missing; a no-op (one read) when this version is in place."""
    with store.tx() as session:
        marker = session.get(Knob, "seed_version")
        if marker is not None and marker.value == SEED_VERSION:
            return
        for position, (key, name) in enumerate(USERS):
            session.merge(FbUser(id=ids.user_id(key), key=key, name=name, position=position))
        for page in PAGES:
            ig_id = None
            if page.ig:
                ig_key, username, display = page.ig
                ig_id = ids.ig_account_id(ig_key)
                session.merge(IgAccount(id=ig_id, key=ig_key, username=username, name=display))
            session.merge(Page(id=ids.page_id(page.key), key=page.key, name=page.name, category=page.category,
                               ig_account_id=ig_id))
        session.flush()
        for user_key, roles in ROLES.items():
            for position, (page_key, tasks) in enumerate(roles):
                session.merge(PageRole(user_id=ids.user_id(user_key), page_id=ids.page_id(page_key),
                                       tasks=tasks, position=position))
        for key, name, username, color, followers in CUSTOMERS:
            session.merge(Customer(key=key, name=name, username=username, color=color,
                                   follower_count=followers, is_verified=key == "carla"))
        session.flush()
        for customer in CUSTOMERS:
            for page in PAGES:
                if not page.ig:
                    continue
                igsid = ids.igsid(customer[0], page.ig[0])
                if session.get(Conversation, igsid) is None:
                    session.add(Conversation(igsid=igsid, customer_key=customer[0],
                                             ig_account_id=ids.ig_account_id(page.ig[0]),
                                             follows_business=customer[0] in ("ana", "carla")))
        for page_key in PRESUBSCRIBED:
            if session.get(Subscription, ids.page_id(page_key)) is None:
                session.add(Subscription(page_id=ids.page_id(page_key), fields=list(DEFAULT_FIELDS)))
        session.merge(Knob(key="seed_version", value=SEED_VERSION))


def reset(store: Store) -> None:
    """Back to the seed: every row goes (tokens, messages, faults, knobs, the outbox), then seed again."""
    with store.tx() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == Knob.__tablename__:
                # Keep the session secret so browsers stay logged in to the dialog.
                session.execute(delete(Knob).where(Knob.key != "session_secret"))
            else:
                session.execute(delete(table))
    seed(store)
