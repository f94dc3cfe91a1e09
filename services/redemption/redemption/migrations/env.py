from redemption.models import Base
from rewards_shared.migration_env import run

run("redemption", Base.metadata)
