"""The WSGI entry point for process managers: ``gunicorn 'backoffice.wsgi:app'``.

Unlike every other module, importing this one builds the app from the ``BACKOFFICE_*`` environment (that is its
job); it still opens no connection. ``backoffice serve`` is the same app under gunicorn with an embedded Redis
when BACKOFFICE_REDIS_URL is unset; production sets it and may use either. Both move the built app out of the
garbage collector's way (``freeze_for_workers``).
"""

from backoffice.app import create_serving_app, freeze_for_workers

app = create_serving_app()  # no secret key configured (outside BACKOFFICE_ENV=demo): SettingsError, no app
freeze_for_workers()
