"""Members as this service knows them: how to reach them, what they want to hear, and erasure."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from . import preferences
from .models import Contact, Delivery, InboxItem, Preference


def contacts(session: Session, member_id: str) -> Contact | None:
    return session.get(Contact, member_id)


def contacts_of_all(session: Session, member_ids: set[str]) -> dict[str, Contact]:
    """How each of the members is reached (those with contacts), in one query."""
    return {c.member_id: c for c in session.execute(
        sa.select(Contact).where(Contact.member_id.in_(sorted(member_ids)))).scalars()} if member_ids else {}


def set_contacts(session: Session, member_id: str, *, email: str | None, phone: str | None,
                 push_tokens: list[str]) -> Contact:
    values = dict(email=email, phone=phone, push_tokens=list(dict.fromkeys(push_tokens)), updated_at=sa.func.now())
    session.execute(insert(Contact).values(member_id=member_id, **values)
                    .on_conflict_do_update(index_elements=[Contact.member_id], set_=values))
    session.expire_all()
    return session.get(Contact, member_id)


def forget_push_token(session: Session, member_id: str, token: str) -> None:
    """The gateway says the app was uninstalled or the token replaced: stop using it."""
    contact = session.get(Contact, member_id, with_for_update=True)
    if contact and token in contact.push_tokens:
        contact.push_tokens = [t for t in contact.push_tokens if t != token]


def stored_preferences(session: Session, member_id: str) -> dict | None:
    row = session.get(Preference, member_id)
    return row.document if row else None


def preferences_of(session: Session, member_id: str) -> dict:
    return preferences.effective(stored_preferences(session, member_id))


def preferences_of_all(session: Session, member_ids: set[str]) -> dict[str, dict]:
    """`preferences_of` for many members, in one query."""
    stored = dict(session.execute(sa.select(Preference.member_id, Preference.document)
                                  .where(Preference.member_id.in_(sorted(member_ids)))).all()) if member_ids else {}
    return {member_id: preferences.effective(stored.get(member_id)) for member_id in member_ids}


def set_preferences(session: Session, member_id: str, chosen: dict) -> dict:
    document = preferences.effective(chosen)
    session.execute(insert(Preference).values(member_id=member_id, document=document)
                    .on_conflict_do_update(index_elements=[Preference.member_id],
                                           set_=dict(document=document, updated_at=sa.func.now())))
    return document


def erase(session: Session, member_id: str) -> None:
    """Contacts, preferences, inbox and deliveries go (the caller keeps a tombstone, so late events
    write nothing again)."""
    for model in (Contact, Preference, InboxItem, Delivery):
        session.execute(sa.delete(model).where(model.member_id == member_id))
