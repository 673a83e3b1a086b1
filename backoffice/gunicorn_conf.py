"""gunicorn settings for ``gunicorn -c python:backoffice.gunicorn_conf 'backoffice.wsgi:app'``: the access log
without query strings or referrers (``backoffice serve`` sets the same format itself)."""

from backoffice.access_log import ACCESS_LOG_FORMAT

access_log_format = ACCESS_LOG_FORMAT
accesslog = "-"
