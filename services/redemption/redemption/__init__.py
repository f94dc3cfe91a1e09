"""The redemption service: partners, the rewards catalogue, redemptions and vouchers."""
