from rewards_shared.migration_env import run
from transit_ingest.models import Base

run("transit-ingest", Base.metadata)
