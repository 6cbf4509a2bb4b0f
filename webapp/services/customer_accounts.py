"""Customer accounts: who may sign in to the customer area, and how a password is set.

Staff give access from Add customer or the customer page's Account access: an invite
(an email with a single-use link, 72 hours) or a password they set (the staff password
rules; the customer must change it at first sign-in). A customer who forgot their
password asks for a reset link (1 hour); the answer is the same whether the address has
an account or not. Sign-in is throttled exactly as staff sign-in is (services.auth),
with counters of its own.

Tokens: the link carries an HMAC of a stored nonce under SECRET_KEY; the table keeps
only the token's SHA-256, and the email row only a placeholder that the sending job
fills in (``fill_in_account_link``), so nothing in the database opens an account. A
token is used once, and making a new one of the same purpose retires the older ones.

Every change by staff or customer writes a customer history line and an audit line,
never a password or a token.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.customer import Customer, format_customer_id
from webapp.models.customer_account import (
    AccountState,
    CustomerAccount,
    CustomerAccountToken,
    TokenPurpose,
)
from webapp.models.email import Email
from webapp.services import audit, customer_sessions, history, mailer
from webapp.services.account_link_tokens import LINK_PLACEHOLDER, token_for, token_hash
from webapp.services.auth import (
    SignInError,
    ThrottlePolicy,
    clear_failed_sign_ins,
    dummy_password_check,
    record_failed_sign_in,
    refuse_if_locked,
    throttle_keys,
)
from webapp.services.guard import lock_customer, lock_editable
from webapp.services.reference import normalise_email
from webapp.services.staff import hash_password, password_refusal
from webapp.urls import external_url

INVITE_LIFETIME = timedelta(hours=72)
RESET_LIFETIME = timedelta(hours=1)
LIFETIMES = {TokenPurpose.INVITE: INVITE_LIFETIME, TokenPurpose.RESET: RESET_LIFETIME}
# Keeps customer sign-in counters apart from staff ones in the shared throttle table.
THROTTLE_SCOPE = "customer-"
# At most one reset email per account in this long, however often Forgot password is sent.
RESET_EMAIL_EVERY = timedelta(minutes=2)
MAX_TOKEN_LENGTH = 100

ACCESS_NONE = "none"
ACCESS_INVITE = "invite"
ACCESS_PASSWORD = "password"
ACCESS_CHOICES = {
    ACCESS_NONE: "No account",
    ACCESS_INVITE: "Send invite",
    ACCESS_PASSWORD: "Set password",
}

AUDIT_KINDS = {
    "customer_account.invited": "Customer invited",
    "customer_account.password_set": "Customer password set by staff",
    "customer_account.disabled": "Customer access disabled",
    "customer_account.enabled": "Customer access enabled",
    "customer_account.password_changed": "Customer changed password",
}


class CustomerAccountError(Exception):
    """A customer-account rule refused the change; ``field``: the form field it goes by."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LinkState(enum.StrEnum):
    LIVE = "live"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LinkCheck:
    """What a link's token leads to: its state, and the token row when there is one."""

    state: LinkState
    token: CustomerAccountToken | None = None


# -- reading -----------------------------------------------------------------------------


def account_of(session: Session, customer_id: int) -> CustomerAccount | None:
    """The customer's account, or None."""
    return session.scalar(select(CustomerAccount).where(CustomerAccount.customer_id == customer_id))


def account_state(account: CustomerAccount | None) -> AccountState:
    """No account, invited, active or disabled (what Account access shows)."""
    return AccountState.NONE if account is None else account.state


def find_account_by_email(session: Session, email: str) -> CustomerAccount | None:
    """The account that signs in with ``email`` (any case), or None."""
    email = email.strip().lower()
    if not email:
        return None
    return session.scalar(select(CustomerAccount).where(func.lower(CustomerAccount.email) == email))


def last_invite_sent_at(session: Session, account: CustomerAccount) -> datetime | None:
    """When the newest invite link was made, or None."""
    return session.scalar(
        select(func.max(CustomerAccountToken.created_at)).where(
            CustomerAccountToken.account_id == account.id,
            CustomerAccountToken.purpose == TokenPurpose.INVITE,
        )
    )


# -- signing in --------------------------------------------------------------------------


def authenticate_customer(
    session: Session, email: str, password: str, address: str, policy: ThrottlePolicy
) -> CustomerAccount:
    """The account for valid credentials, or ``SignInError``: throttled as staff sign-in is."""
    keys = throttle_keys(email, address, scope=THROTTLE_SCOPE)
    refuse_if_locked(session, keys)
    account = find_account_by_email(session, email)
    if account is not None and account.password_hash is not None:
        valid = _password_matches(account, password)
    else:
        valid = dummy_password_check(password)
    if account is None or not valid or account.disabled_at is not None:
        record_failed_sign_in(session, keys, policy)
        if account is not None and valid:
            raise SignInError("Access to your account is disabled. Contact us to turn it back on.")
        raise SignInError("Email or password is not right.")
    clear_failed_sign_ins(session, keys)
    return account


def _password_matches(account: CustomerAccount, password: str) -> bool:
    from werkzeug.security import check_password_hash

    return account.password_hash is not None and check_password_hash(
        account.password_hash, password
    )


# -- staff: giving and taking access -----------------------------------------------------


def _subject(customer: Customer) -> str:
    return format_customer_id(customer.id)


def _ensure_account(session: Session, customer: Customer) -> CustomerAccount:
    """The customer's account, made (no password yet) from its email if it has none."""
    if customer.id is not None:
        account = account_of(session, customer.id)
        if account is not None:
            return account
    try:
        email = normalise_email(customer.email or "").lower()
    except ValueError as error:
        raise CustomerAccountError(
            f"The customer's email cannot be used to sign in: {error}", "email"
        ) from None
    other = find_account_by_email(session, email)
    if other is not None:
        raise CustomerAccountError(
            "Another customer's account already signs in with this email.", "email"
        )
    account = CustomerAccount(email=email, must_change_password=False)
    account.customer = customer
    session.add(account)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        mine = account_of(session, customer.id)
        if mine is not None:  # made meanwhile for this customer (a second click)
            return mine
        raise CustomerAccountError(
            "Another customer's account already signs in with this email.", "email"
        ) from None
    return account


def send_invite(session: Session, customer: Customer) -> Email:
    """Make (or reuse) the customer's account and queue the invite, older invite links
    retired; in the caller's transaction (it commits).

    The invite is the legal entity's onboarding email (services.onboarding) with a
    "Choose your password" button below its text, carrying a fresh single-use link
    (72 hours): one email, recorded in the Emails tab like any other, whose link the
    sending job fills in."""
    from webapp.services import onboarding

    # Under the customer's lock, as Clear personal data and Delete customer take it: no
    # account is made for an address being erased, or for a customer being deleted.
    customer = lock_editable(session, customer.id)
    account = _ensure_account(session, customer)
    if account.disabled_at is not None:
        raise CustomerAccountError("Access is disabled. Enable access before inviting.")
    if account.password_hash is not None:
        raise CustomerAccountError(
            "This customer has already set a password; they can use Forgot password."
        )
    if account.id is None:
        session.flush()
    token = _new_token(session, account, TokenPurpose.INVITE)
    hours = int(INVITE_LIFETIME.total_seconds() // 3600)
    try:
        email = onboarding.send_onboarding(
            session,
            customer,
            actor=history.acting_staff_id(),
            extra_link=LINK_PLACEHOLDER,
            extra_link_label=f"Choose your password (the link works once, for {hours} hours)",
            name="Invite and onboarding email",
            recipient=account.email,  # the address the account signs in with
            commit=False,
        )
    except onboarding.OnboardingError as refusal:
        raise CustomerAccountError(str(refusal), refusal.field) from None
    email.account_token_id = token.id
    history.record(
        session,
        customer.id,
        "account.invited",
        "Invite to the customer area sent",
        customer=customer,
    )
    audit.record(
        session,
        "customer_account.invited",
        _subject(customer),
        f"Customer {_subject(customer)} invited to the customer area.",
    )
    return email


def set_password_by_staff(session: Session, customer: Customer, password: str) -> CustomerAccount:
    """Staff set the password (the staff password rules); the customer must change it at
    first sign-in. Ends the account's sessions; in the caller's transaction (it commits)."""
    refusal = password_refusal(password)
    if refusal is not None:
        raise CustomerAccountError(refusal, "password")
    customer = lock_editable(session, customer.id)
    account = _ensure_account(session, customer)
    account.password_hash = hash_password(password)
    account.must_change_password = True
    account.password_set_at = utcnow()
    _retire_tokens(session, account, None)
    if account.id is not None:
        customer_sessions.end_all_sessions(session, account.id)
    history.record(
        session,
        customer.id,
        "account.password_set",
        "Customer area password set by staff",
        customer=customer,
    )
    audit.record(
        session,
        "customer_account.password_set",
        _subject(customer),
        f"Password of customer {_subject(customer)} set by staff; to be changed at sign-in.",
    )
    return account


def disable_access(session: Session, customer: Customer) -> CustomerAccount:
    """Refuse sign-in from now on and end every session; commits. Links stop working too."""
    customer = lock_customer(session, customer.id)
    account = account_of(session, customer.id)
    if account is None:
        raise CustomerAccountError("This customer has no account.")
    if account.disabled_at is None:
        account.disabled_at = utcnow()
        customer_sessions.end_all_sessions(session, account.id)
        _retire_tokens(session, account, None)
        history.record(session, customer.id, "account.disabled", "Customer area access disabled")
        audit.record(
            session,
            "customer_account.disabled",
            _subject(customer),
            f"Access to the customer area disabled for customer {_subject(customer)}.",
        )
    session.commit()
    return account


def enable_access(session: Session, customer: Customer) -> CustomerAccount:
    """Let a disabled account sign in again (its old password); commits."""
    customer = lock_editable(session, customer.id)
    account = account_of(session, customer.id)
    if account is None:
        raise CustomerAccountError("This customer has no account.")
    if account.disabled_at is not None:
        account.disabled_at = None
        history.record(session, customer.id, "account.enabled", "Customer area access enabled")
        audit.record(
            session,
            "customer_account.enabled",
            _subject(customer),
            f"Access to the customer area enabled again for customer {_subject(customer)}.",
        )
    session.commit()
    return account


# -- the customer: own password, links ---------------------------------------------------


def change_password(
    session: Session, account: CustomerAccount, current_password: str, new_password: str
) -> CustomerAccount:
    """The signed-in customer changes their password (the staff rules); commits, ends every
    session of the account (the caller starts a fresh one). The error names the field."""
    if not _password_matches(account, current_password):
        raise CustomerAccountError("Your current password is not right.", "current_password")
    refusal = password_refusal(new_password)
    if refusal is not None:
        raise CustomerAccountError(refusal, "new_password")
    if _password_matches(account, new_password):
        raise CustomerAccountError(
            "Choose a password different from the current one.", "new_password"
        )
    _store_customer_password(session, account, new_password, "account.password_changed")
    session.commit()
    return account


def _store_customer_password(
    session: Session, account: CustomerAccount, password: str, kind: str
) -> None:
    account.password_hash = hash_password(password)
    account.must_change_password = False
    account.password_set_at = utcnow()
    customer_sessions.end_all_sessions(session, account.id)
    summaries = {
        "account.password_changed": "Customer area password changed by the customer",
        "account.password_reset": "Customer area password reset by the customer",
        "account.invite_accepted": "Invite accepted: the customer set a password",
    }
    history.record(session, account.customer_id, kind, summaries[kind], staff_id=None)
    audit.record(
        session,
        "customer_account.password_changed",
        format_customer_id(account.customer_id),
        f"Customer {format_customer_id(account.customer_id)}: {summaries[kind].lower()}.",
        staff_id=None,
    )


def request_reset(session: Session, email: str) -> None:
    """Forgot password: queue a reset email if ``email`` has an enabled account (one whose
    invite expired gets its password set this way too), unless one went out in the last
    two minutes; commits. The caller answers the
    same either way, so the page reveals nothing about which addresses have accounts."""
    account = find_account_by_email(session, email)
    if account is None or account.disabled_at is not None:
        dummy_password_check(email)  # roughly the time a real request spends
        return
    newest = session.scalar(
        select(func.max(CustomerAccountToken.created_at)).where(
            CustomerAccountToken.account_id == account.id,
            CustomerAccountToken.purpose == TokenPurpose.RESET,
        )
    )
    if newest is not None and newest > utcnow() - RESET_EMAIL_EVERY:
        return
    _queue_link_email(session, account, account.customer, TokenPurpose.RESET)
    session.commit()


def check_link(session: Session, token: str, purpose: TokenPurpose) -> LinkCheck:
    """What the link's token is now: live, used, expired, or unknown (never made, or of
    another purpose, or its account disabled)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return LinkCheck(LinkState.UNKNOWN)
    row = session.scalar(
        select(CustomerAccountToken).where(CustomerAccountToken.token_hash == token_hash(token))
    )
    if row is None or row.purpose != purpose or row.account.disabled_at is not None:
        return LinkCheck(LinkState.UNKNOWN)
    if row.used_at is not None:
        return LinkCheck(LinkState.USED, row)
    if row.expires_at <= utcnow():
        return LinkCheck(LinkState.EXPIRED, row)
    return LinkCheck(LinkState.LIVE, row)


def use_link(session: Session, token: str, purpose: TokenPurpose, password: str) -> CustomerAccount:
    """Set the password through a live link and use the link up; commits. Raises
    ``CustomerAccountError`` (field "password" for a refused password, None for a link
    that is no longer live). Accepting an invite confirms the customer's email."""
    refusal = password_refusal(password)
    if refusal is not None:
        raise CustomerAccountError(refusal, "password")
    check = check_link(session, token, purpose)
    if check.state is not LinkState.LIVE:
        raise CustomerAccountError("This link has already been used or has expired.")
    # Claim the link with one statement, so two submits of the same link set one password.
    claimed = session.execute(
        update(CustomerAccountToken)
        .where(CustomerAccountToken.id == check.token.id, CustomerAccountToken.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if not claimed:
        session.rollback()
        raise CustomerAccountError("This link has already been used or has expired.")
    account = check.token.account
    kind = "account.invite_accepted" if purpose is TokenPurpose.INVITE else "account.password_reset"
    _store_customer_password(session, account, password, kind)
    _retire_tokens(session, account, purpose)
    if purpose is TokenPurpose.INVITE:
        _email_confirmed_by_invite(session, account)
    session.commit()
    return account


def _email_confirmed_by_invite(session: Session, account: CustomerAccount) -> None:
    """The customer proved they receive email at the invite's address by accepting it:
    the customer's address is verified, if it is still that one."""
    from webapp.services import email_verification

    customer = account.customer
    if customer.email and customer.email.strip().lower() == account.email:
        email_verification.mark_email_verified(session, customer, how="invite")


# -- links and their emails --------------------------------------------------------------


def _retire_tokens(
    session: Session, account: CustomerAccount, purpose: TokenPurpose | None
) -> None:
    """Use up the account's unused links (of ``purpose``, or all)."""
    if account.id is None:
        return
    statement = update(CustomerAccountToken).where(
        CustomerAccountToken.account_id == account.id, CustomerAccountToken.used_at.is_(None)
    )
    if purpose is not None:
        statement = statement.where(CustomerAccountToken.purpose == purpose)
    session.execute(statement.values(used_at=utcnow()))


def _new_token(
    session: Session, account: CustomerAccount, purpose: TokenPurpose
) -> CustomerAccountToken:
    _retire_tokens(session, account, purpose)
    nonce = secrets.token_urlsafe(32)
    now = utcnow()
    row = CustomerAccountToken(
        account_id=account.id,
        purpose=purpose,
        nonce=nonce,
        token_hash=token_hash(token_for(nonce)),
        created_at=now,
        expires_at=now + LIFETIMES[purpose],
    )
    session.add(row)
    session.flush()
    return row


def _queue_link_email(
    session: Session, account: CustomerAccount, customer: Customer, purpose: TokenPurpose
) -> Email:
    """A password-reset email (invites go out as the onboarding email: ``send_invite``)."""
    if account.id is None:
        session.flush()
    row = _new_token(session, account, purpose)
    email = mailer.queue_email(
        session,
        kind="account_reset",
        name="Password reset",
        recipient=account.email,
        subject="Reset your password",
        template="account_reset",
        customer_id=customer.id,
        staff_id=history.acting_staff_id(),
        customer_name=customer.name,
        link=LINK_PLACEHOLDER,
        hours=int(LIFETIMES[purpose].total_seconds() // 3600),
        sign_in_url=external_url("customer_auth.sign_in"),
    )
    email.account_token_id = row.id
    return email
