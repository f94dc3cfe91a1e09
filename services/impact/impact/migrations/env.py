from impact.models import Base
from rewards_shared.migration_env import run

run("impact", Base.metadata)
