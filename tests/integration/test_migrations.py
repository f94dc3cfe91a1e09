"""Every service's migrations build exactly the schema its models describe, and undo cleanly."""
import importlib

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from rewards_shared.db import drop_database, ensure_database, infrastructure
from rewards_shared.service import discover


@pytest.mark.parametrize("service", sorted(discover()))
def test_migrations_match_the_models_and_go_down_cleanly(infra, service):
    info = discover()[service]
    url = sa.engine.make_url(infra.server_url).set(database=f"test_drift_{info.package}").render_as_string(False)
    drop_database(url)
    ensure_database(url)
    config = Config()
    config.set_main_option("script_location", str(info.migrations))
    config.attributes["url"] = url
    command.upgrade(config, "head")
    models = importlib.import_module(f"{info.package}.models")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), [infrastructure, models.Base.metadata])
        assert drift == []
        command.downgrade(config, "base")
        with engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
        drop_database(url)
