from notifications.models import Base
from rewards_shared.migration_env import run

run("notifications", Base.metadata)
