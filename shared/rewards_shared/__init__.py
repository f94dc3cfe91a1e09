"""What the four Smart Leeds Rewards services share: the event contract and its plumbing."""
