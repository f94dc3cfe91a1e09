from rewards_shared.gunicorn_base import *  # noqa: F403

wsgi_app = "impact.app:create_app()"
