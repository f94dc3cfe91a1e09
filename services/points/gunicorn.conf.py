from rewards_shared.gunicorn_base import *  # noqa: F403

wsgi_app = "points.app:create_app()"
