"""Payment posting forms: they check shape only (types, ranges, required); the posting services check the rules
(balance, duplicates, matching)."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf.file import FileField
from wtforms import FieldList, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from backoffice.forms import Form, MoneyField, PlausibleDateField, SubForm
from backoffice.remits import rules
from backoffice.work.forms import choices

ADJUSTMENTS_PER_LINE = 3
GROUPS = choices([("", "—"), *((g, g) for g in ("CO", "PR", "OA", "PI", "CR"))])
MAX_MONEY = Decimal(1_000_000)


class EraUploadForm(Form):
    file = FileField("835 file")
    text = TextAreaField("or paste the 835", validators=[Optional(), Length(max=20_000_000)])


class ApplyForm(Form):
    account_number = StringField("Claim account number", validators=[DataRequired(), Length(max=38)])


class AdjustmentRow(SubForm):
    group = SelectField("Group", choices=GROUPS, validators=[Optional()])
    reason = StringField("CARC", validators=[Optional(), Length(max=5)])
    amount = MoneyField("Amount", validators=[Optional()], low=-MAX_MONEY, high=MAX_MONEY)

    def is_blank(self) -> bool:
        return not self.group.data and not (self.reason.data or "").strip() and self.amount.data is None


class EobLineRow(SubForm):
    paid = MoneyField("Paid", validators=[Optional()], low=-MAX_MONEY, high=MAX_MONEY)
    adjustments = FieldList(FormField(AdjustmentRow), min_entries=ADJUSTMENTS_PER_LINE, max_entries=6)
    remarks = StringField("RARC", validators=[Optional(), Length(max=60)])


class PaperEobForm(Form):
    check_number = StringField("Check or EFT number", validators=[DataRequired(), Length(max=50)])
    paid_on = PlausibleDateField("Payment date", validators=[DataRequired()], future_days=0)
    claim_paid = MoneyField("Claim paid (EOB total)", validators=[Optional()], low=-MAX_MONEY, high=MAX_MONEY)
    lines = FieldList(FormField(EobLineRow), min_entries=1, max_entries=50)

    def eob_lines(self, claim_lines: list) -> list[rules.EobLine]:  # noqa: ANN001 - ClaimLine rows
        """The claim's lines as entered (a blank paid is $0.00; an adjustment row with any field filled counts,
        so a half-filled row is reported by the balance check, not dropped)."""
        out = []
        for line, row in zip(claim_lines, self.lines.entries, strict=False):
            adjustments = tuple(
                rules.EobAdjustment((a.form.group.data or "").upper(), (a.form.reason.data or "").strip().upper(),
                                    a.form.amount.data if a.form.amount.data is not None else Decimal("0.00"))
                for a in row.form.adjustments.entries if not a.form.is_blank()
            )  # fmt: skip
            remarks = tuple(code.strip().upper() for code in (row.form.remarks.data or "").split(",") if code.strip())
            paid = row.form.paid.data if row.form.paid.data is not None else Decimal("0.00")
            out.append(rules.EobLine(line.line_number, line.cpt, line.charge, paid, adjustments, remarks))
        return out
