"""Payment posting screens: upload an 835 → preview exactly what will post → post (all or nothing); the
payments list with unmatched remittance claims to apply by hand; paper EOB entry for a claim.

Billers, supervisors and admins post (billers only to the claims of their practices)."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from backoffice.accounts.access import practice_ids_for
from backoffice.accounts.rules import is_safe_next
from backoffice.claims.models import Claim
from backoffice.clock import utcnow
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.remits import kept, manual, unmatched
from backoffice.remits.forms import ADJUSTMENTS_PER_LINE, ApplyForm, EraUploadForm, PaperEobForm
from backoffice.remits.models import ClaimPayment, Remittance
from backoffice.remits.services import post_835
from backoffice.work.models import WorkItem
from backoffice.work.panels import Panel, register

bp = Blueprint("remits", __name__)


@bp.before_request
@login_required
def _require_login() -> None:
    """Every posting screen needs a signed-in user."""


def _summary(result) -> str:  # noqa: ANN001
    parts = [f"{result.remittances_posted} payment(s) posted", f"{result.claims_posted} claim(s)",
             f"{result.claims_unmatched} unmatched", f"{result.denial_items} denial item(s)",
             f"{result.exception_items} other item(s)"]  # fmt: skip
    if result.duplicates_refused:
        parts.append(f"{len(result.duplicates_refused)} already posted (refused)")
    return ", ".join(parts)


@bp.route("/payments")
def index() -> ResponseReturnValue:
    org = current_user.organization_id
    remittances = db.session.scalars(
        select(Remittance).where(Remittance.organization_id == org).order_by(Remittance.id.desc()).limit(50)
    ).all()
    pending = db.session.scalars(
        select(ClaimPayment)
        .join(Remittance)
        .where(Remittance.organization_id == org, ClaimPayment.claim_id.is_(None), ClaimPayment.is_reversal.is_(False))
        .order_by(ClaimPayment.id)
        .limit(200)
    ).all()
    return render_template("remits/index.html", remittances=remittances, unmatched=pending, form=ApplyForm(),
                           upload=EraUploadForm())  # fmt: skip


@bp.route("/payments/era", methods=["GET", "POST"])
def era() -> ResponseReturnValue:
    form = EraUploadForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("remits/era.html", form=form, preview=None)
    text = form.text.data or ""
    if form.file.data:
        text = form.file.data.read().decode("utf-8", errors="replace")
    if not text.strip():
        flash("835: choose a file or paste its text", "error")
        return render_template("remits/era.html", form=form, preview=None)
    form.text.data = text
    try:
        if request.form.get("action") == "post":
            result = post_835(organization_id=current_user.organization_id, text=text, now=utcnow(),
                              source=f"835 upload by {current_user.name}"[:120])  # fmt: skip
            flash(_summary(result), "success")
            for problem in result.problems[:20]:
                flash(problem, "error")
            return redirect(url_for("remits.index"))
        preview = manual.preview_835(organization_id=current_user.organization_id, text=text, now=utcnow())
    except ServiceError as error:
        flash(str(error), "error")
        return render_template("remits/era.html", form=form, preview=None)
    return render_template("remits/era.html", form=form, preview=preview)


def _is_unmatched_item(item: WorkItem) -> bool:
    return (
        item.claim_payment_id is not None
        and (item.dedupe_key or "").startswith("remit:")
        and (":unmatched:" in (item.dedupe_key or ""))
    )


def _unmatched_panel(item: WorkItem) -> dict:
    return {"payment": db.session.get(ClaimPayment, item.claim_payment_id), "form": ApplyForm()}


# The posting-exception item of an unmatched 835 claim shows the payment and the form that applies it.
register(Panel("unmatched-payment", "remits/_unmatched_panel.html", applies=_is_unmatched_item,
               context=_unmatched_panel, order=40))  # fmt: skip


def _unmatched_payment(payment_id: int) -> ClaimPayment:
    payment = db.session.get(ClaimPayment, payment_id)
    if payment is None or payment.remittance.organization_id != current_user.organization_id:
        abort(404)
    return payment


def _claim_in_scope(account_number: str) -> Claim | None:
    return db.session.scalar(
        select(Claim).where(Claim.account_number == account_number.strip()[:38],
                            Claim.practice_id.in_(practice_ids_for(current_user)))
    )  # fmt: skip


@bp.route("/payments/unmatched/<int:payment_id>/lines")
def apply_lines(payment_id: int) -> ResponseReturnValue:
    """The claim chosen for an unmatched payment, and which claim line each of its service lines pays: starting
    from the match posting would make, for the poster to check or change before applying."""
    payment = _unmatched_payment(payment_id)
    number = request.args.get("account_number", "").strip()[:38]
    if payment.claim_id is not None:
        flash(f"payment: CLP01 {payment.account_number} is already applied to a claim", "error")
        return redirect(_back(request.args))
    claim = _claim_in_scope(number) if number else None
    if claim is None:
        flash(f"claim account number: no claim {number!r} in your practices", "error")
        return redirect(_back(request.args))
    return _render_lines(payment, claim, unmatched.default_line_numbers(payment, claim), _back(request.args))


def _render_lines(payment: ClaimPayment, claim: Claim, chosen: list[int | None], back: str) -> str:
    """The mapping page with ``chosen`` selected (the default match, or what the poster chose and was refused)."""
    services = kept.services(payment.unmatched_detail)
    return render_template("remits/apply.html", payment=payment, claim=claim,
                           form=ApplyForm(account_number=claim.account_number),
                           lines=sorted(claim.lines, key=lambda line: line.line_number),
                           services=list(zip(services, chosen, strict=True)), next=back)  # fmt: skip


@bp.route("/payments/unmatched/<int:payment_id>/apply", methods=["POST"])
def apply(payment_id: int) -> ResponseReturnValue:
    payment = _unmatched_payment(payment_id)
    form = ApplyForm()
    if not form.validate_on_submit():
        flash("claim account number: required", "error")
        return redirect(_back(request.form))
    claim = _claim_in_scope(form.account_number.data)
    if claim is None:
        flash(f"claim account number: no claim {form.account_number.data.strip()} in your practices", "error")
        return redirect(_back(request.form))
    count = len((payment.unmatched_detail or {}).get("services", []))
    if count and "line-1" not in request.form:  # its service lines were kept: the poster maps them first
        flash("Check which claim line each service line pays, then apply", "info")
        return redirect(url_for("remits.apply_lines", payment_id=payment.id, account_number=claim.account_number,
                                next=_back(request.form)))  # fmt: skip
    chosen = [_line_number(request.form.get(f"line-{n}", "")) for n in range(1, count + 1)]
    try:
        unmatched.apply_unmatched(payment=payment, claim=claim, actor=current_user, now=utcnow(),
                                  line_numbers=chosen if count else None)  # fmt: skip
    except ServiceError as error:
        flash(str(error), "error")
        if count:  # the same page again, with what the poster chose
            return _render_lines(db.session.get(ClaimPayment, payment_id), db.session.get(Claim, claim.id), chosen,
                                 _back(request.form))  # fmt: skip
    else:
        flash(f"Payment applied to claim {claim.account_number}; its item is closed", "success")
    return redirect(_back(request.form))


def _line_number(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 4 else None


def _back(values: Mapping[str, str]) -> str:
    target = values.get("next", "")
    return target if is_safe_next(target) else url_for("remits.index")


@bp.route("/payments/eob")
def eob_lookup() -> ResponseReturnValue:
    """Find the claim of a paper EOB by its account number (as printed on the EOB)."""
    number = request.args.get("account_number", "").strip()[:38]
    claim = db.session.scalar(
        select(Claim).where(Claim.account_number == number, Claim.practice_id.in_(practice_ids_for(current_user)))
    )
    if claim is None:
        flash(f"claim account number: no claim {number!r} in your practices", "error")
        return redirect(url_for("remits.index", eob_account=number))  # the search box keeps what was typed
    return redirect(url_for("remits.paper_eob", claim_id=claim.id))


@bp.route("/claims/<int:claim_id>/eob", methods=["GET", "POST"])
def paper_eob(claim_id: int) -> ResponseReturnValue:
    claim = db.session.get(Claim, claim_id)
    if claim is None or claim.practice_id not in practice_ids_for(current_user):
        abort(404)
    lines = sorted(claim.lines, key=lambda line: line.line_number)
    form = PaperEobForm()
    while len(form.lines.entries) < len(lines):
        form.lines.append_entry()
    for row in form.lines.entries:
        while len(row.form.adjustments.entries) < ADJUSTMENTS_PER_LINE:
            row.form.adjustments.append_entry()
    practice = db.session.get(Practice, claim.practice_id)
    if request.method == "POST" and form.validate_on_submit():
        try:
            result = manual.post_paper_eob(claim=claim, actor=current_user, now=utcnow(),
                                           check_number=form.check_number.data, paid_on=form.paid_on.data,
                                           lines=form.eob_lines(lines), claim_paid=form.claim_paid.data)  # fmt: skip
        except ServiceError as error:
            flash(str(error), "error")
        else:
            flash(f"Paper EOB posted to claim {claim.account_number}: " + _summary(result), "success")
            return redirect(url_for("remits.paper_eob", claim_id=claim.id))
    elif request.method == "POST":
        for name, errors in form.errors.items():
            flash(f"{name}: {errors}", "error")
    db.session.refresh(claim)
    return render_template("remits/eob.html", claim=claim, lines=lines, form=form, practice=practice,
                           rows=list(zip(lines, form.lines.entries, strict=False)))  # fmt: skip
