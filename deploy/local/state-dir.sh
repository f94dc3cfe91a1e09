#!/usr/bin/env bash
# Prints (and creates, mode 0755) the folder that holds this clone's server data: PostgreSQL's
# cluster and Kafka's log dirs. It lives outside the clone so that a clone in a private (0700)
# folder still works when the PostgreSQL server runs as its own system user, and it is named after
# the clone's path so that two clones never share one. `make clean` removes it.
#
#   REWARDS_STATE_DIR      use this folder instead
#   root:                  /var/lib/smart-leeds-rewards/<clone>-<hash of its path>
#   anyone else:           ${XDG_STATE_HOME:-~/.local/state}/smart-leeds-rewards/<clone>-<hash>
#
# Usage: deploy/local/state-dir.sh [--no-create]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)

if [[ -n ${REWARDS_STATE_DIR:-} ]]; then
    dir=$(realpath -m "$REWARDS_STATE_DIR")
else
    if [[ $(id -u) -eq 0 ]]; then
        root=/var/lib/smart-leeds-rewards
    else
        root=${XDG_STATE_HOME:-$HOME/.local/state}/smart-leeds-rewards
    fi
    hash=$(printf '%s' "$REPO" | sha256sum | cut -c1-12)
    name=$(basename "$REPO" | tr -c 'A-Za-z0-9._\n-' '_' | cut -c1-32)
    dir=$root/$name-$hash
fi

if [[ ${1:-} != --no-create ]]; then
    for folder in "$(dirname "$dir")" "$dir"; do
        [[ -d $folder ]] || { mkdir -p "$folder" && chmod 0755 "$folder"; }
    done
    [[ -f $dir/CLONE ]] || printf '%s\n' "$REPO" >"$dir/CLONE"
fi
echo "$dir"
