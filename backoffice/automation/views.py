"""The admin page of the automation: RQ queue depths, failed jobs with a retry button, automated items by state."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from redis.exceptions import RedisError
from rq.registry import FailedJobRegistry

from backoffice.accounts.access import is_admin, practice_ids_for
from backoffice.audit.services import record_event
from backoffice.automation import queries
from backoffice.tasks import get_queue, get_redis

bp = Blueprint("automation", __name__, url_prefix="/admin/automation")


@bp.before_request
@login_required
def _require_admin() -> None:
    """Admins only: failed jobs name work items across the organization (and only the admin's organization)."""
    if not is_admin(current_user):
        abort(403)


@bp.route("")
def overview():
    organization_id = current_user.organization_id
    try:
        conn = get_redis()
        depths = queries.queue_depths(conn, organization_id)
        failed, redis_down = queries.failed_jobs(conn, organization_id), False
    except RedisError:  # the page still shows the database's side; the sweeper re-enqueues once Redis is back
        depths, failed, redis_down = [], [], True
    return render_template(
        "admin/automation.html",
        depths=depths,
        failed=failed,
        redis_down=redis_down,
        items=queries.automated_items_by_state(practice_ids_for(current_user)),
        form=FlaskForm(),
    )


@bp.post("/jobs/<job_id>/retry")
def retry(job_id: str):
    """Queue a failed job of the admin's organization again; any other job id is a 404."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    conn = get_redis()
    name = queries.failed_job_queue(conn, current_user.organization_id, job_id)
    if name is None:
        abort(404)
    FailedJobRegistry(queue=get_queue(name, conn)).requeue(job_id)
    record_event(action="admin:automation_retry", user=current_user, target_type="rq_job", target_id=job_id)
    flash(f"Job {job_id} is queued again on {name}.", "ok")
    return redirect(url_for("automation.overview"))
