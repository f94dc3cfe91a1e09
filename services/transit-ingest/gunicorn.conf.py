from rewards_shared.gunicorn_base import *  # noqa: F403

wsgi_app = "transit_ingest.app:create_app()"
