from points.models import Base
from rewards_shared.migration_env import run

run("points", Base.metadata)
