"""Reading and changing connections and this installation's legal texts (no request objects here)."""
from __future__ import annotations

from sqlalchemy import func, select

from webapp.bots.models import Bot
from webapp.connections.models import Connection, ConnectionStatus, LegalText
from webapp.extensions import db
from webapp.team.models import Department

DEFAULT_PRIVACY_PT = (
    "Esta instalação do Direto recebe e guarda as mensagens diretas enviadas à conta do Instagram vinculada, "
    "com o nome, o @usuário e a foto de quem as envia, para que a equipe possa atendê-las. Os dados ficam no "
    "servidor desta empresa, não são vendidos nem compartilhados, e são apagados a pedido do cliente."
)
DEFAULT_PRIVACY_EN = (
    "This Direto installation receives and keeps the direct messages sent to the linked Instagram account, with the "
    "sender's name, @username and picture, so that the team can answer them. The data stays on this company's "
    "server, is never sold or shared, and is deleted at the customer's request."
)
DEFAULT_TERMS_PT = (
    "Ao vincular uma página, você declara administrar a página e a conta profissional do Instagram, autoriza o "
    "Direto a receber e enviar mensagens em nome delas dentro das regras da Meta (inclusive a janela de 24 horas) "
    "e pode desvincular a qualquer momento em Conexões."
)
DEFAULT_TERMS_EN = (
    "By linking a page you state that you manage the page and its Instagram professional account, authorize Direto "
    "to receive and send messages on their behalf within Meta's rules (including the 24-hour window), and may "
    "unlink at any time in Connections."
)


def all_connections() -> list[Connection]:
    return list(db.session.scalars(select(Connection).order_by(func.lower(Connection.name))))


def get(connection_id: int) -> Connection | None:
    return db.session.get(Connection, connection_id)


def create(name: str, default_department_id: int, bot_id: int) -> Connection:
    connection = Connection(name=name.strip(), default_department_id=default_department_id, bot_id=bot_id,
                            status=ConnectionStatus.NOT_LINKED)
    db.session.add(connection)
    db.session.commit()
    return connection


def update(connection: Connection, name: str, default_department_id: int, bot_id: int) -> None:
    connection.name = name.strip()
    connection.default_department_id = default_department_id
    connection.bot_id = bot_id
    db.session.commit()


def valid_department(department_id) -> bool:
    department = db.session.get(Department, int(department_id)) if str(department_id).isdigit() else None
    return department is not None and department.active


def valid_bot(bot_id) -> bool:
    bot = db.session.get(Bot, int(bot_id)) if str(bot_id).isdigit() else None
    return bot is not None and bot.active


def legal_text() -> LegalText:
    text = db.session.scalar(select(LegalText).limit(1))
    if text is None:
        text = LegalText(privacy_pt_br=DEFAULT_PRIVACY_PT, privacy_en=DEFAULT_PRIVACY_EN,
                         terms_pt_br=DEFAULT_TERMS_PT, terms_en=DEFAULT_TERMS_EN)
        db.session.add(text)
        db.session.commit()
    return text
